"""Streaming inference: one time step at a time, the state held by an explicit object.

``layer.forward`` runs a whole sequence. To feed a recurrent layer one ``x_t`` at a time
(a live sensor, a generated token), ask it for a :class:`Streamer`::

    stream = lstm.streamer(batch_size=1)        # zeros, or initial_state=[h0, c0]
    for x_t in source:                          # x_t: (B, I)
        h_t = stream.step(x_t)                  # (B, H); the state moves on inside the stream
    h, c = stream.states                        # copies of the current states
    stream.reset()                              # zeros again (or reset([h, c]))
    stream.reload_weights()                     # after the layer's weights changed

Streaming T steps gives what ``layer.forward`` gives over the T-step sequence (return_sequences
and return_state), to float32 rounding (a test checks every cell and option). The layer itself
keeps no sequence state: the streamer is the holder, and several streams of one layer can run
side by side.

Each step is one compiled call (:mod:`rnnkit.kernels.fast.step`) with preallocated buffers and
the weights packed once as ``[W_ih; W_hh]^T``, or the NumPy reference step -- the layer's own
cell, ``layer.cell.step`` (:class:`~rnnkit.layers.LSTMCell`, ...), on a copy of it -- when numba
is missing, the activations are not the defaults the compiled step implements, or
``RNNKIT_KERNELS=reference``. The choice and the weights (packed, or the cell's copy) are fixed
when the stream is made: after changing the layer's weights (training, ``set_weights``), call
:meth:`Streamer.reload_weights` or make a new stream.

Inference only: no dropout, no mask, no gradients; zoneout (LSTM, GRU) by its expectation, as
``layer.predict``. Steps arrive in the order given, so a
``go_backwards`` layer is reproduced by streaming its input from the last step to the first.

>>> import numpy as np
>>> from rnnkit.layers import LSTM
>>> lstm = LSTM(4, seed=0)
>>> lstm.build((None, None, 3))
>>> stream = lstm.streamer()
>>> h_t = stream.step(np.ones((1, 3), dtype="float32"))
>>> h_t.shape, [s.shape for s in stream.states]
((1, 4), [(1, 4), (1, 4)])
"""

import copy
import functools

import numpy as np

from ..kernels import dispatch
from ..kernels.equations import zoneout
from . import checks

def _cell_of(layer):
    """"lstm", "gru" or "simple_rnn": the kernel cell of a recurrent layer."""
    cell = getattr(layer, "kernel_cell", None)
    if cell not in ("lstm", "gru", "simple_rnn"):
        raise TypeError(f"{getattr(layer, 'name', layer)}: streaming works for LSTM, GRU and "
                        f"SimpleRNN layers, got {type(layer).__name__}")
    return cell


def set_states(layer, own, states, dtype):
    """Put ``states`` (None: zeros; else one (B, H) array per state, checked) into the
    streamer's own state arrays ``own``, in place. Shared by every streamer."""
    names = layer.state_names
    if states is None:
        for s in own:
            s.fill(0.0)
        return
    if not isinstance(states, (list, tuple)):
        states = [states]
    if len(states) != len(names):
        raise ValueError(f"{layer.name}: expected {len(names)} state array(s) "
                         f"({', '.join(names)}), got {len(states)}")
    checked = [checks.as_array(layer, s, o.shape, f"state {name}", dtype=dtype)
               for name, s, o in zip(names, states, own)]
    for o, s in zip(own, checked):
        o[...] = s


class Streamer:
    """Steps one recurrent layer through time, holding its states between steps.

    Args:
        layer: a built LSTM, GRU or SimpleRNN.
        batch_size: B, the number of streams advanced together.
        initial_state: None (zeros) or one (B, H) array per state (h; h and c for LSTM).

    Attributes:
        kernels: ``"fast"`` (one compiled call per step) or ``"reference"`` (NumPy).
    """

    def __init__(self, layer, batch_size=1, initial_state=None):
        self.cell = _cell_of(layer)
        if not layer.built:
            raise ValueError(f"{layer.name}: build the layer before streaming (call it on an "
                             f"input, or layer.build((None, None, features)))")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"{layer.name}: batch_size must be a positive int, "
                             f"got {batch_size!r}")
        self.layer = layer
        self.batch_size = int(batch_size)
        self.dtype = np.dtype(layer.kernel.value.dtype)          # the weights decide
        self.input_dim = int(layer.kernel.shape[0])
        self.units = layer.units
        self._x_shape = (self.batch_size, self.input_dim)
        self._states = [np.zeros((self.batch_size, self.units), dtype=self.dtype)
                        for _ in layer.state_names]         # updated in place by every step
        self.reload_weights()
        self.reset(initial_state)

    # ---- state and weights -----------------------------------------------------------------
    def reset(self, states=None):
        """Start a new stream: the states back to zeros (``None``) or set to ``states`` (one
        (B, H) array per state, copied)."""
        set_states(self.layer, self._states, states, self.dtype)

    @property
    def states(self):
        """Copies of the current states, [h] or [h, c] for LSTM, each (B, H)."""
        return [s.copy() for s in self._states]

    def reload_weights(self):
        """Read the layer's weights again (after training or ``set_weights``) and choose the
        step again (``RNNKIT_KERNELS``); the states are kept."""
        layer, dt = self.layer, self.dtype
        B, I, H = self.batch_size, self.input_dim, self.units
        G = layer.n_gates * H
        # zoneout probabilities of h and c (0 where the layer has none), used by expectation
        self._p_h = float(getattr(layer, "zoneout", 0.0))
        self._p_c = float(getattr(layer, "cell_zoneout", 0.0))
        fast = dispatch.step_kernels_for(self.cell, layer, dt)
        self.kernels = "reference" if fast is None else "fast"
        if fast is None:        # the layer's cell, on copies of the weights as they are now
            self._step_cell = copy.deepcopy(layer.cell)
            self._run = self._reference
            return
        W_ih = np.array(layer.kernel.value, dtype=dt)                 # (I, G)
        W_hh = np.array(layer.recurrent_kernel.value, dtype=dt)       # (H, G)
        if self.cell == "gru":
            b_ih, b_hh = layer._input_bias(), layer._recurrent_bias()
        else:
            b_ih, b_hh = (None if layer.bias is None else layer.bias.value), None
        b_ih = None if b_ih is None else np.array(b_ih, dtype=dt)
        b_hh = None if b_hh is None else np.array(b_hh, dtype=dt)
        # the compiled step with everything but x_t bound once: one call per step
        WT = fast.pack(W_ih, W_hh)                                   # (G, I+H)
        b_ih = np.zeros(G, dtype=dt) if b_ih is None else b_ih
        b_hh = np.zeros(G, dtype=dt) if b_hh is None else b_hh
        u = np.empty((B, I + H), dtype=dt)                            # [x_t, h_prev]
        z = np.empty((B, G), dtype=dt)                                # gate pre-activations
        if self.cell == "lstm":
            h, c = self._states
            p_zone = (dt.type(self._p_h), dt.type(self._p_c))
            self._run = functools.partial(fast.lstm_step, h, c, WT, b_ih, p_zone, u, z)
        elif self.cell == "gru":
            zh = np.empty((B, H), dtype=dt)                           # h_prev @ U_h
            self._run = functools.partial(fast.gru_step, self._states[0], WT, b_ih, b_hh,
                                          layer.reset_after, dt.type(self._p_h), u, z, zh)
        else:
            relu = layer.activation.name == "relu"
            self._run = functools.partial(fast.simple_rnn_step, self._states[0], WT, b_ih, relu,
                                          u, z)

    # ---- one step ----------------------------------------------------------------------------
    def step(self, x_t):
        """Advance every stream by one step.

        Args:
            x_t: (B, I) inputs of this step.

        Returns:
            h_t (B, H), a new array (the streamer keeps its own copy of the state).
        """
        if not (type(x_t) is np.ndarray and x_t.dtype == self.dtype  # noqa: E721 - fast check
                and x_t.shape == self._x_shape and x_t.flags.c_contiguous):
            x_t = self._coerce(x_t)
        self._run(x_t)                            # updates the states in place
        return self._states[0].copy()

    def _coerce(self, x_t):
        return checks.as_array(self.layer, x_t, self._x_shape,
                               "a streamed input x_t", dtype=self.dtype,
                               note=" (batch, features)")

    def _reference(self, x):
        """One step of the cell (``cell.step``: new arrays), copied into the state buffers;
        zoneout (LSTM, GRU) by its expectation ``s_t = p s_prev + (1 - p) s~``, as predict."""
        _, new, _ = self._step_cell.step(x, self._states)
        for own, s, p in zip(self._states, new, (self._p_h, self._p_c)):
            own[...] = zoneout(self.dtype.type(p), s, own) if p else s

    def __repr__(self):
        return (f"<Streamer of {self.layer.name}: batch {self.batch_size}, "
                f"{self.input_dim} -> {self.units}, {self.kernels} step>")
