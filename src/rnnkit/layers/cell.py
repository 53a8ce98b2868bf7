"""The cell contract: what one time step of a recurrence must provide to :class:`RNN`.

A cell computes one step; the loop in :class:`rnnkit.layers.RNN` walks time. A cell is a
:class:`~rnnkit.layers.Layer` (it owns weights, made in ``build((B, I))``) that keeps no sequence
state: states and the cache of a step go in and come out::

    class MyCell(Cell):
        state_size = [H, ...]          # the size of each state (B, H_k); a list, or one int
        output_size = H                # optional: the size of y_t (default: state_size[0])

        def build(self, input_shape):  # (B, I): create the weights with self.add_weight
        def step(self, x_t, states):   # (B, I), [(B, H_k)] -> y_t (B, O), new states, cache
        def step_backward(self, dy_t, d_states, cache):
            # dL/dy_t (B, O) and dL/d(new states) -> dL/dx_t (B, I), dL/d(states) (list);
            # ADDS the weight gradients into each weight's .grad (weights are reused every step)

``step`` is called with a third argument ``drop`` only when the cell has dropout (built-in cells:
``dropout``/``recurrent_dropout`` > 0, training): ``drop`` is what :meth:`Cell.dropout_masks`
drew for the whole sequence, masks fixed over time. A cell without dropout need not take it.

A cell may also name a whole-sequence path, :meth:`Cell.sequence_layer`: the built-in cells
return the matching LSTM/GRU/SimpleRNN layer sharing their weights, so ``RNN(LSTMCell(n))`` runs
the very kernels (fast or reference, chosen by :mod:`rnnkit.kernels.dispatch`) of ``LSTM(n)``.
A cell without one (``None``, the default) is stepped by the loop in ``RNN``.

The other way round, ``LSTM(n)``, ``GRU(n)`` and ``SimpleRNN(n)`` are ``RNN`` layers whose cell
has whole-sequence kernels: ``LSTM(n).cell`` is an ``LSTMCell`` with the layer's options that
holds the layer's very Weight objects once built (:meth:`DenseCell.of_layer`), so one step of
the layer is ``layer.cell.step`` (the streamers' NumPy step is exactly that).

A full user cell in plain NumPy (a peephole LSTM) with its finite-difference check is in
``examples/custom_cell.py``; a minimal one is in the docstring of :mod:`rnnkit.layers.rnn`.
"""

import inspect

import numpy as np

from .. import activations, initializers
from ..random import make_rng
from .base import Layer, _snake


class Cell(Layer):
    """Base class of recurrent cells; see the module docstring for the contract.

    Args:
        dropout: fraction of the step input ``x_t`` dropped when training (mask fixed over time).
        recurrent_dropout: fraction of ``h_prev`` dropped where it enters the recurrent product.
        seed: int seed (or numpy Generator) for the dropout masks.
    """

    state_size = None
    supports_masking = True

    def __init__(self, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        for what, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{self.name}: {what} must be in [0, 1), got {p!r}")
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self._rng = make_rng(seed)

    # ---- sizes -----------------------------------------------------------------------------
    @property
    def state_sizes(self):
        """``state_size`` as a list of ints, one per state."""
        size = self.state_size
        if size is None:
            raise TypeError(f"{self.name}: a cell must set state_size (an int or a list of ints)")
        sizes = [size] if isinstance(size, (int, np.integer)) else list(size)
        if not sizes or any(not isinstance(s, (int, np.integer)) or s <= 0 for s in sizes):
            raise TypeError(f"{self.name}: state_size must be a positive int or a list of them, "
                            f"got {size!r}")
        return [int(s) for s in sizes]

    @property
    def output_size(self):
        """The size of ``y_t``; the first state's size unless a cell says otherwise."""
        return self.state_sizes[0]

    def get_initial_state(self, batch_size):
        """Zeros, one (B, H_k) array per state."""
        return [np.zeros((batch_size, s), dtype=self.dtype) for s in self.state_sizes]

    # ---- the step ----------------------------------------------------------------------------
    def step(self, x_t, states, drop=None):
        """One step: ``(y_t (B, O), new_states [(B, H_k)], cache)``."""
        raise NotImplementedError(f"{type(self).__name__}.step")

    def step_backward(self, dy_t, d_states, cache):
        """Adjoint of :meth:`step`: ``(dx_t (B, I), d_states_prev)``; adds into weight grads."""
        raise NotImplementedError(f"{type(self).__name__}.step_backward")

    def sequence_layer(self, **options):
        """A whole-sequence layer that shares this cell's weights, or None: step by step."""
        return None

    def dropout_masks(self, batch_size, input_dim, training):
        """The masks of one call, fixed over time: ``(in_drop (B, I) or None, rec_drop (B, H) or
        None)``, or None when nothing is dropped. Drawn in the order of the whole-sequence
        layers (input mask first), so a seed gives the same masks as ``LSTM(seed=...)``."""
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None
        in_drop = rec_drop = None
        if self.dropout > 0:
            in_drop = self._mask((batch_size, input_dim), self.dropout)
        if self.recurrent_dropout > 0:
            rec_drop = self._mask((batch_size, self.state_sizes[0]), self.recurrent_dropout)
        return in_drop, rec_drop

    def _mask(self, shape, rate):
        keep = self._rng.random(shape) >= rate
        return (keep / (1.0 - rate)).astype(self.dtype)

    # ---- Keras's cell(x_t, states) -----------------------------------------------------------
    def forward(self, x_t, states, training=False):
        """Keras's ``cell(x_t, states)``: ``(y_t, new_states)``, no dropout, no cache kept."""
        x_t = np.asarray(x_t, dtype=self.dtype)
        self._check_rank(x_t, 2, "a step input (batch, features)")
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        y, new_states, _ = self.step(x_t, [np.asarray(s, dtype=self.dtype) for s in states])
        return y, new_states

    def _set_weight_paths(self, prefix):
        """Keras's variable paths once a loop owns the cell: ``rnn/lstm_cell/kernel``."""
        for w in self._weights:
            w.path = f"{prefix}/{self.name}/{w.name}"
        for sub in self._sublayers:
            if isinstance(sub, Cell):
                sub._set_weight_paths(f"{prefix}/{self.name}")

    def get_config(self):
        cfg = super().get_config()
        cfg.update(dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
                   seed=self.seed if not isinstance(self.seed, np.random.Generator) else None)
        return cfg


class DenseCell(Cell):
    """What the built-in cells share: ``units``, Keras's initialisers and weights
    kernel (I, G*H), recurrent_kernel (H, G*H), bias, and the projection
    ``z = (x_t * d_x) W + (h_prev * d_h) U + b`` (``d_x``, ``d_h`` the dropout masks) with its
    adjoint. ``layer_class`` is the whole-sequence layer with the same weights and kernels."""

    n_gates = 1
    state_names = ("h",)
    layer_class = None

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{self.name}: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    @property
    def state_size(self):
        return [self.units] * len(self.state_names)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: a cell is built for step inputs (batch, features) "
                             f"with a known feature size, got shape {tuple(input_shape)}")
        G = self.n_gates * self.units
        self.kernel = self.add_weight("kernel", (int(input_shape[-1]), G),
                                      self.kernel_initializer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, G),
                                                self.recurrent_initializer)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_init())
        super().build(input_shape)

    def _bias_shape(self):
        return (self.n_gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    # ---- z = (x_t * d_x) W + (h_prev * d_h) U + b, and its adjoint -------------------------
    def _inputs(self, x_t, h_prev, drop):
        in_drop, rec_drop = drop if drop is not None else (None, None)
        x_in = x_t if in_drop is None else x_t * in_drop               # (B, I)
        h_in = h_prev if rec_drop is None else h_prev * rec_drop       # (B, H)
        return x_in, h_in

    def _project(self, x_t, h_prev, drop):
        x_in, h_in = self._inputs(x_t, h_prev, drop)
        z = x_in @ self.kernel.value                                    # (B, G*H)
        if self.bias is not None:
            z += self.bias.value
        z += h_in @ self.recurrent_kernel.value
        return z, x_in, h_in

    def _project_backward(self, dz, x_in, h_in, drop):
        """``(dx_t, dh_prev)`` from ``dz`` (B, G*H); adds dW, dU, db into the weights."""
        self.kernel.grad += x_in.T @ dz                                 # dW = x_in^T dz
        self.recurrent_kernel.grad += h_in.T @ dz                       # dU = h_in^T dz
        if self.bias is not None:
            self.bias.grad += dz.sum(axis=0)                            # db = sum_b dz
        return (self._undrop(dz @ self.kernel.value.T, drop, 0),
                self._undrop(dz @ self.recurrent_kernel.value.T, drop, 1))

    @staticmethod
    def _undrop(d, drop, k):
        """``d * mask`` for the dropout mask ``k`` (0 input, 1 recurrent), when there is one."""
        if drop is not None and drop[k] is not None:
            d *= drop[k]
        return d

    # ---- the whole-sequence path -------------------------------------------------------------
    def _layer_options(self):
        return dict(
            units=self.units, activation=self.activation, use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            recurrent_initializer=self.recurrent_initializer,
            bias_initializer=self.bias_initializer, dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout, seed=self.seed, dtype=self._dtype,
        )

    def sequence_layer(self, **options):
        """``layer_class`` (LSTM, GRU, SimpleRNN) with this cell's options and ``options``
        (return_sequences, go_backwards, ...), holding this cell's very Weight objects: its
        kernels (fast or reference, by :mod:`rnnkit.kernels.dispatch`) add into their grads.
        Its ``cell`` is this cell."""
        if not self.built:
            raise ValueError(f"{self.name}: build the cell before asking for its sequence layer")
        layer = self.layer_class(**self._layer_options(), **options)
        _share_weights(layer, self, (None, None, self.kernel.shape[0]))
        layer._rng = self._rng                # dropout masks from the cell's generator
        layer._cell = self
        return layer

    # ---- the cell of a whole-sequence layer (LSTM(n).cell) -----------------------------------
    @classmethod
    def of_layer(cls, layer):
        """The cell of ``layer`` (an ``LSTMCell`` for an ``LSTM``), as Keras names it
        (``lstm_cell``): the layer's options (its attributes named as this class's arguments),
        its dtype and dropout generator, and once the layer is built its very Weight objects
        (:meth:`share_weights_of`). Read the layer's options when made: ``layer.cell`` makes it
        once."""
        names = [p for p in inspect.signature(cls.__init__).parameters
                 if p not in ("self", "seed", "kwargs") and hasattr(layer, p)]
        cell = cls(**{p: getattr(layer, p) for p in names}, seed=layer._rng,
                   name=_snake(cls.__name__), dtype=layer._dtype)   # the generator: no draw
        cell.seed = layer.seed
        if layer.built:
            cell.share_weights_of(layer)
        return cell

    def share_weights_of(self, layer):
        """Hold ``layer``'s kernel, recurrent_kernel and bias (the objects, not copies): what
        :meth:`step` reads and :meth:`step_backward` adds into is what the layer's kernels use."""
        _share_weights(self, layer, (None, layer.kernel.shape[0]))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            units=self.units, activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            recurrent_initializer=initializers.serialize(self.recurrent_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
        )
        return cfg


def cell_of_layer(layer):
    """``layer.cell`` of a whole-sequence layer (``LSTM``): its ``cell_class`` (``LSTMCell``)
    with the layer's options, holding the layer's very Weight objects once the layer is built
    (no copies: the layer's kernels and ``cell.step`` / ``cell.step_backward`` read and add into
    the same arrays). One object per layer, made on first use (:meth:`DenseCell.of_layer`)."""
    cell = layer.__dict__.get("_cell")
    if cell is None:
        if layer.cell_class is None:
            raise AttributeError(f"{layer.name}: {type(layer).__name__} has no cell class; "
                                 f"its one step is {type(layer).__name__}.step")
        cell = layer._cell = layer.cell_class.of_layer(layer)
    elif layer.built and any(getattr(cell, w, None) is not getattr(layer, w)
                             for w in ("kernel", "recurrent_kernel", "bias")):
        cell.share_weights_of(layer)              # built (or given new weights) since made
    return cell


def _share_weights(dst, src, input_shape):
    """``dst`` holds ``src``'s kernel, recurrent_kernel and bias, in that (``get_weights``)
    order, and counts as built for ``input_shape``: its weights are given, not made."""
    dst.kernel, dst.recurrent_kernel, dst.bias = src.kernel, src.recurrent_kernel, src.bias
    dst._weights = [w for w in (src.kernel, src.recurrent_kernel, src.bias) if w is not None]
    Layer.build(dst, input_shape)
