"""Bidirectional: a recurrent layer run forwards and backwards in time (Keras 3 semantics).

``Bidirectional`` runs two copies of a recurrent layer over the same batch, one forwards in time
and one backwards (``go_backwards=True``), and merges their outputs::

    y_fwd[t] = h_fwd after x_0 .. x_t              y_bwd[t] = h_bwd after x_{T-1} .. x_t
    y = merge(y_fwd, y_bwd)     concat [y_fwd, y_bwd] | sum y_fwd + y_bwd | ave (y_fwd + y_bwd) / 2
                                | mul y_fwd * y_bwd | None: the list [y_fwd, y_bwd]

The backward layer returns its sequence in processing order; it is flipped back to input order
before merging, so ``y_bwd[t]`` lines up with ``x_t``. With a mask (False at padded steps) both
directions skip the padded steps: a right-padded sequence processed backwards meets its padding
first, carries the initial state through it unchanged, then reads the valid steps from the last
one down -- exactly PyTorch's ``bidirectional=True`` on a ``pack_padded_sequence``. With
``return_sequences`` the padded steps output zeros in both directions (Keras forces
``zero_output_for_mask``). The backward pass splits the merged gradient (``mul`` uses the cached
outputs, ``ave`` halves it), flips the backward half into processing order, runs both layers'
BPTT and sums their ``dx``.

>>> import numpy as np
>>> from rnnkit.layers.lstm import LSTM
>>> from rnnkit.layers.bidirectional import Bidirectional
>>> bi = Bidirectional(LSTM(4, return_sequences=True, seed=0))
>>> bi(np.ones((2, 5, 3))).shape, bi.count_params(), [w.path for w in bi.weights][:2]
((2, 5, 8), 256, ['forward_lstm/kernel', 'forward_lstm/recurrent_kernel'])
"""

import copy

import numpy as np

from . import checks
from .base import Layer
from .registry import deserialize, serialize

MERGE_MODES = ("concat", "sum", "mul", "ave", None)
_RECURRENT_ATTRS = ("go_backwards", "return_sequences", "return_state", "state_names")


def _copy_layer(layer, name, **overrides):
    """A fresh copy of ``layer`` (new weights) rebuilt from its config, renamed ``name``."""
    cfg = layer.get_config()
    cfg.update(name=name, **overrides)
    return type(layer).from_config(cfg)


def _removeprefix(s, prefix):
    return s[len(prefix):] if s.startswith(prefix) else s


class Bidirectional(Layer):
    """Bidirectional wrapper for SimpleRNN, LSTM and GRU, as ``keras.layers.Bidirectional``.

    Args:
        layer: the recurrent layer to copy (its own weights are not used): the forward layer is
            rebuilt from its config as ``forward_<name>``, the backward layer as
            ``backward_<name>`` with ``go_backwards=True`` (so, as in Keras, a layer that already
            has ``go_backwards=True`` is refused).
        merge_mode: "concat" (default), "sum", "mul", "ave" or None (return both outputs).
        weights: optional list of arrays, forward layer's weights then backward layer's, set
            when the layer is built.
        backward_layer: optional recurrent layer used as is for the backward direction; it must
            differ from ``layer`` in ``go_backwards`` and agree in ``return_sequences`` and
            ``return_state``.

    Call: ``forward(x (B, T, I), training=False, mask=None, initial_state=None)``;
    ``initial_state`` lists the forward layer's states then the backward layer's
    (``[h_f, c_f, h_b, c_b]`` for LSTM). Outputs: the merged output (two with merge_mode None),
    then with ``return_state`` the forward layer's final states and the backward layer's.
    ``backward`` takes gradients in that same structure (None allowed) and returns ``dx``, or
    ``[dx, *d_initial_state]`` when ``initial_state`` was given.
    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        self._check_wrappable(layer, "layer")
        if backward_layer is not None:
            self._check_wrappable(backward_layer, "backward_layer")
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"{self.name}: unknown merge_mode {merge_mode!r}; expected one of "
                f"'concat', 'sum', 'mul', 'ave' or None"
            )
        self.forward_layer = _copy_layer(layer, "forward_" + _removeprefix(layer.name, "forward_"))
        if backward_layer is None:
            seed = getattr(layer, "seed", None)
            # a different dropout stream for the backward direction, still reproducible
            extra = {"seed": seed + 1} if isinstance(seed, int) else {}
            backward_layer = _copy_layer(
                layer, "backward_" + _removeprefix(layer.name, "backward_"), go_backwards=True,
                **extra,
            )
        self.backward_layer = backward_layer
        self._check_pair()
        f_units, b_units = (getattr(s, "units", None) for s in (self.forward_layer, backward_layer))
        if merge_mode in ("sum", "mul", "ave") and f_units != b_units:
            raise ValueError(f"{self.name}: merge_mode {merge_mode!r} needs the same units in both "
                             f"directions, got {f_units} and {b_units}")
        for sub in (self.forward_layer, self.backward_layer):
            # Keras: padded steps output zeros whenever whole sequences are returned
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self._initial_weights = None if weights is None else list(weights)
        self._sublayers = [self.forward_layer, self.backward_layer]

    def _check_wrappable(self, layer, what):
        if not isinstance(layer, Layer):
            raise TypeError(f"{self.name}: expected {what} to be an rnnkit Layer, got {layer!r}")
        missing = [a for a in _RECURRENT_ATTRS if not hasattr(layer, a)]
        if missing:
            raise ValueError(
                f"{self.name}: {what} must be a recurrent layer (SimpleRNN, LSTM, GRU, ...); "
                f"{layer.name} ({type(layer).__name__}) has no {', '.join(missing)}"
            )

    def _check_pair(self):
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError(
                f"{self.name}: the forward and backward layers need different go_backwards, "
                f"got {fwd.go_backwards} for {fwd.name} and {bwd.go_backwards} for {bwd.name}"
            )
        for a in ("return_sequences", "return_state"):
            if getattr(fwd, a) != getattr(bwd, a):
                raise ValueError(
                    f"{self.name}: the forward and backward layers must agree on {a}, got "
                    f"{getattr(fwd, a)} for {fwd.name} and {getattr(bwd, a)} for {bwd.name}"
                )

    # ---- shapes -----------------------------------------------------------------------------
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input of rank 3 (batch, time, features), "
                             f"got shape {input_shape}")
        for sub in self._sublayers:
            sub._maybe_build(input_shape)
        super().build(input_shape)
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def compute_output_shape(self, input_shape):
        f = self.forward_layer.compute_output_shape(input_shape)
        b = self.backward_layer.compute_output_shape(input_shape)
        f_states = b_states = []
        if self.return_state:
            (f, *f_states), (b, *b_states) = f, b
        f, b = tuple(f), tuple(b)
        if self.merge_mode == "concat":
            last = None if None in (f[-1], b[-1]) else f[-1] + b[-1]
            outs = [f[:-1] + (last,)]
        elif self.merge_mode is None:
            outs = [f, b]
        else:
            outs = [f]
        outs += [tuple(s) for s in f_states + b_states]
        return outs if len(outs) > 1 else outs[0]

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        outs = [out_mask, out_mask] if self.merge_mode is None else [out_mask]
        if self.return_state:
            outs += [None] * (self._n_states(self.forward_layer)
                              + self._n_states(self.backward_layer))
        return outs if len(outs) > 1 else outs[0]

    @staticmethod
    def _n_states(layer):
        return len(layer.state_names)

    # ---- forward and backward ---------------------------------------------------------------
    def _split_states(self, initial_state):
        if initial_state is None:
            return None, None
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        n_f, n_b = self._n_states(self.forward_layer), self._n_states(self.backward_layer)
        if len(initial_state) != n_f + n_b:
            raise ValueError(
                f"{self.name}: expected {n_f + n_b} initial state arrays ({n_f} for "
                f"{self.forward_layer.name}, then {n_b} for {self.backward_layer.name}), "
                f"got {len(initial_state)}"
            )
        return list(initial_state[:n_f]), list(initial_state[n_f:])

    def forward(self, x, training=False, mask=None, initial_state=None):
        """Run both directions over ``x (B, T, I)`` and merge (see the class docstring)."""
        self._check_rank(x, 3, "input (batch, time, features)")
        self._maybe_build(np.shape(x))
        f_state, b_state = self._split_states(initial_state)
        y = self.forward_layer.forward(x, training=training, mask=mask, initial_state=f_state)
        y_rev = self.backward_layer.forward(x, training=training, mask=mask,
                                            initial_state=b_state)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = np.ascontiguousarray(y_rev[:, ::-1])     # processing order -> input order
        if self.merge_mode == "concat":
            outs = [np.concatenate([y, y_rev], axis=-1)]     # (..., H_f + H_b)
        elif self.merge_mode == "sum":
            outs = [y + y_rev]
        elif self.merge_mode == "ave":
            outs = [(y + y_rev) / 2]
        elif self.merge_mode == "mul":
            outs = [y * y_rev]
        else:
            outs = [y, y_rev]
        # the sub-layers' caches travel in ours, so a model can restore this call's cache
        self._cache = (self.forward_layer._cache, self.backward_layer._cache, y, y_rev,
                       initial_state is not None)
        outs += states
        return outs if len(outs) > 1 else outs[0]

    def _split_output_grad(self, d_outs, y, y_rev):
        """d(merged output) -> (dy_fwd, dy_bwd), both in input order (None stays None)."""
        if self.merge_mode is None:
            return d_outs[0], d_outs[1]
        d = d_outs[0]
        if d is None:
            return None, None
        d = np.asarray(d, dtype=y.dtype)
        if self.merge_mode == "concat":
            H_f = y.shape[-1]
            return d[..., :H_f], d[..., H_f:]
        if self.merge_mode == "sum":
            return d, d
        if self.merge_mode == "ave":
            return d / 2, d / 2
        return d * y_rev, d * y                              # mul: d(y_f * y_b)

    def backward(self, dy):
        """Gradients of the outputs (same structure as ``forward``'s) -> ``dx`` (B, T, I), or
        ``[dx, *d_initial_state]`` when ``initial_state`` was given; adds into every weight."""
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward() called before forward()")
        f_cache, b_cache, y, y_rev, had_state = self._cache
        fwd, bwd = self.forward_layer, self.backward_layer
        n_f, n_b = self._n_states(fwd), self._n_states(bwd)
        n_out = 2 if self.merge_mode is None else 1
        dy = checks.bidirectional_output_grads(self, dy, y, y_rev)   # shapes, before kernels
        d_y, d_y_rev = self._split_output_grad(dy[:n_out], y, y_rev)
        if self.return_sequences and d_y_rev is not None:
            d_y_rev = np.asarray(d_y_rev)[:, ::-1]           # input order -> processing order
        if self.return_state:
            d_y = [d_y] + list(dy[n_out:n_out + n_f])
            d_y_rev = [d_y_rev] + list(dy[n_out + n_f:])
        fwd._cache, bwd._cache = f_cache, b_cache
        g_f, g_b = fwd.backward(d_y), bwd.backward(d_y_rev)
        if had_state:
            return [g_f[0] + g_b[0]] + list(g_f[1:]) + list(g_b[1:])
        return g_f + g_b

    # ---- config -----------------------------------------------------------------------------
    def get_config(self):
        cfg = super().get_config()
        cfg.update(merge_mode=self.merge_mode, layer=serialize(self.forward_layer),
                   backward_layer=serialize(self.backward_layer))
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        cfg = copy.deepcopy(config)
        cfg["layer"] = deserialize(cfg["layer"], custom_objects)
        if cfg.get("backward_layer") is not None:
            cfg["backward_layer"] = deserialize(cfg["backward_layer"], custom_objects)
        return cls(**cfg)
