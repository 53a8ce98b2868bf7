"""Hidden cells over text: every state and gate of every recurrent layer, per character.

For one sequence (batch of 1) and a recurrent layer with input ``x (T, I)``, what the page
colours the text by::

    LSTM       z_t = x_t W_ih + b + h_{t-1} U                                  (T, 4H)
               i, f, o = sigma(z_i, z_f, z_o) ;  g = act(z_g)
               c_t = f * c_{t-1} + i * g ;  h_t = o * act(c_t)          kinds h, c, i, f, g, o
    GRU        xw = x_t W_ih + b_ih ;  hU = h_{t-1} U (+ b_hh with reset_after)
               z, r = sigma(xw_zr + hU_zr) ;  hh = act(xw_h + r * hU_h)   (reset_after)
               hh = act(xw_h + (r * h_{t-1}) U_h)                        (reset_after=False)
               h_t = z * h_{t-1} + (1 - z) * hh                          kinds h, z, r, hh
    SimpleRNN  h_t = act(x_t W_ih + b + h_{t-1} U)                      kind h

With zoneout (LSTM ``cell_zoneout`` p_c, ``zoneout`` p_h; GRU ``zoneout``) the states are
blended with their previous values by the expectation, as the layer computes at inference::

    c_t = p_c c_{t-1} + (1 - p_c) c~ ;  h_t = p_h h_{t-1} + (1 - p_h) h~

(c~, h~ the values above; ``c`` shows c_t, and h~ = o * act(c~)). MinGRU, MinLSTM and
LayerNormLSTM are in :mod:`rnnkit.view.min_ln_cells`, which this module dispatches to.

Two ways to the same numbers:

* :func:`trace_layer` (what the page uses, through :class:`LazyTrace`, which computes the
  gates of a layer only when one of them is first asked for): ``h`` comes from ``layer.forward`` (the layer's own
  kernels, fast or reference); the gate pre-activations of all steps are then one product
  ``[x, h_{t-1}] @ [W_ih; U]`` outside any loop (teacher forcing with the layer's own h), and
  ``c_t`` one elementwise loop. ``h_t`` rebuilt from the gates must equal ``layer.forward``'s:
  :func:`trace_layer` reports the largest difference as ``max_rebuild_error``.
* :func:`step_layer`: one step from the states, the equations above written per step, the
  readable loop (and what sampling uses, one character at a time).

tests/test_view_cells.py checks both against ``layer.forward`` (float64, to 1e-12) and against
each other, for LSTM, GRU (both reset modes) and SimpleRNN, with both kernel sets.
"""

import collections.abc

import numpy as np

from ..kernels import dispatch
from ..kernels.equations import gru_state_update, lstm_cell_update, lstm_hidden, zoneout
from ..layers.gru import GRU
from ..layers.lstm import LSTM
from ..layers.simple_rnn import SimpleRNN
from . import min_ln_cells

KINDS = {"lstm": ("h", "c", "i", "f", "g", "o"), "gru": ("h", "z", "r", "hh"),
         "simple_rnn": ("h",), **min_ln_cells.KINDS}


def cell_of(layer):
    """``"lstm"``, ``"gru"``, ``"simple_rnn"`` (or ``"mingru"``, ``"minlstm"``, ``"lnlstm"``:
    :mod:`rnnkit.view.min_ln_cells`) for a layer whose cells can be read, else None."""
    other = min_ln_cells.cell_of(layer)
    if other is not None:
        return other
    if isinstance(layer, LSTM):
        return "lstm"
    if isinstance(layer, GRU):
        return "gru"
    if isinstance(layer, SimpleRNN):
        return "simple_rnn"
    return None


def _weights(layer):
    W_ih, U = layer.kernel.value, layer.recurrent_kernel.value
    b = layer._input_bias()
    b_hh = layer._recurrent_bias() if isinstance(layer, GRU) else None
    return W_ih, U, b, b_hh


def forward_h(layer, x):
    """``layer.forward`` on one sequence ``x (T, I)`` with every step's h: (T, H)."""
    saved = layer.return_sequences, layer.return_state
    layer.return_sequences, layer.return_state = True, False
    try:
        h_seq = layer.forward(x[None], training=False)               # (1, T, H)
    finally:
        layer.return_sequences, layer.return_state = saved
    return np.asarray(h_seq)[0]


def trace_layer(layer, x):
    """Every state and gate of ``layer`` over one sequence, from zero initial states.

    Args:
        layer: an LSTM, GRU or SimpleRNN (built; ``go_backwards=False``).
        x: (T, I) the layer's input.

    Returns:
        (``{kind: (T, H) array}`` in the layer's dtype, ``max_rebuild_error``: the largest
        ``|h_t rebuilt from the gates - layer.forward's h_t|``).
    """
    cell = cell_of(layer)
    if cell is None:
        raise ValueError(f"{layer.name}: hidden cells are read from LSTM, GRU, SimpleRNN, "
                         f"MinGRU, MinLSTM and LayerNormLSTM layers, not "
                         f"{type(layer).__name__}")
    if layer.go_backwards:
        raise ValueError(f"{layer.name}: go_backwards=True layers read the text backwards; "
                         "their cells are not shown")
    x = np.asarray(x, dtype=layer.kernel.value.dtype)
    return gate_trace(layer, x, forward_h(layer, x))


def gate_trace(layer, x, h):
    """The rest of :func:`trace_layer` once ``h (T, H) = layer.forward(x)`` is known: every
    gate (one product for all steps) and c; returns (``{kind: (T, H)}``, max_rebuild_error)."""
    cell = cell_of(layer)
    T, H = x.shape[0], layer.units
    if cell in min_ln_cells.KINDS:
        out, rebuilt = min_ln_cells.gate_trace(layer, x, h, cell_states)
        err = float(np.max(np.abs(rebuilt - h))) if T else 0.0
        return {k: np.ascontiguousarray(v) for k, v in out.items()}, err
    h_prev = np.concatenate([np.zeros((1, H), h.dtype), h[:-1]])      # (T, H)
    p_h, p_c = (np.asarray(p, h.dtype) for p in min_ln_cells.rates(layer))   # zoneout
    W_ih, U, b, b_hh = _weights(layer)
    act = layer.activation
    xw = x @ W_ih                                                     # (T, G*H), all steps
    if b is not None:
        xw += b
    if cell == "simple_rnn":
        rebuilt = act(xw + h_prev @ U)
        out = {"h": h}
    elif cell == "lstm":
        sig = layer.recurrent_activation
        z = xw + h_prev @ U                                           # (T, 4H)
        i, f = sig(z[:, :H]), sig(z[:, H:2 * H])
        g, o = act(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
        if p_c:    # c_t = p_c c_{t-1} + (1 - p_c)(f c_{t-1} + i g), affine in c_{t-1}
            c = cell_states(p_c + (1 - p_c) * f, (1 - p_c) * (i * g))
            c_new = lstm_cell_update(np.concatenate([np.zeros((1, H), c.dtype), c[:-1]]),
                                     i, f, g)                         # c~, before zoneout
        else:
            c = c_new = cell_states(f, i * g)                         # (T, H)
        rebuilt = lstm_hidden(o, act(c_new))
        out = {"h": h, "c": c, "i": i, "f": f, "g": g, "o": o}
    else:
        sig = layer.recurrent_activation
        if layer.reset_after:
            hU = h_prev @ U                                           # (T, 3H)
            if b_hh is not None:
                hU += b_hh
            zr = sig(xw[:, :2 * H] + hU[:, :2 * H])
            z, r = zr[:, :H], zr[:, H:]
            hh = act(xw[:, 2 * H:] + r * hU[:, 2 * H:])
        else:
            zr = sig(h_prev @ U[:, :2 * H] + xw[:, :2 * H])
            z, r = zr[:, :H], zr[:, H:]
            hh = act((r * h_prev) @ U[:, 2 * H:] + xw[:, 2 * H:])
        rebuilt = gru_state_update(h_prev, z, hh)
        out = {"h": h, "z": z, "r": r, "hh": hh}
    if p_h:                                      # h_t = p_h h_{t-1} + (1 - p_h) h~
        rebuilt = zoneout(p_h, rebuilt, h_prev)
    err = float(np.max(np.abs(rebuilt - h))) if T else 0.0
    return {k: np.ascontiguousarray(v) for k, v in out.items()}, err


def _cell_states_loop(f, ig):
    """The reference: ``c_t = f_t * c_{t-1} + ig_t`` from ``c_0 = 0``, one row per step."""
    c = np.empty_like(ig)                                             # (T, H)
    c_prev = np.zeros(ig.shape[1], ig.dtype)
    for t in range(ig.shape[0]):
        np.multiply(f[t], c_prev, out=c[t])
        c[t] += ig[t]
        c_prev = c[t]
    return c


def _cell_states_scalar(f, ig, c):
    T, H = ig.shape
    for j in range(H):
        c_prev = 0.0
        for t in range(T):
            c_prev = f[t, j] * c_prev + ig[t, j]
            c[t, j] = c_prev


_compiled = []


def cell_states(f, ig):
    """``c_t = f_t * c_{t-1} + ig_t`` for all t (T, H): compiled with numba when the fast
    kernels are on (:func:`rnnkit.kernels.dispatch.mode`), else the NumPy loop; same numbers
    (each is one multiply and one add per entry, in the same order)."""
    if dispatch.mode() != "reference" and dispatch.fast_available():
        if not _compiled:
            import numba
            _compiled.append(numba.njit(cache=True, nogil=True)(_cell_states_scalar))
        f, ig = np.ascontiguousarray(f), np.ascontiguousarray(ig)
        c = np.empty_like(ig)
        _compiled[0](f, ig, c)
        return c
    return _cell_states_loop(f, ig)


class LazyTrace(collections.abc.Mapping):
    """``{kind: (T, H)}`` of one layer over one text: ``h`` (from ``layer.forward``) at once,
    the gates and c (:func:`gate_trace`) the first time one of them is asked for."""

    def __init__(self, layer, x, h):
        self._layer, self._x, self._h, self._full = layer, x, h, None
        self._kinds = KINDS[cell_of(layer)]
        self._rebuild_error = None

    def _gates(self):
        if self._full is None:
            self._full, self._rebuild_error = gate_trace(self._layer, self._x, self._h)
            self._x = None
        return self._full

    @property
    def rebuild_error(self):
        """max |h rebuilt from the gates - layer.forward's h| (computes the gates)."""
        self._gates()
        return self._rebuild_error

    def __getitem__(self, kind):
        if kind == "h":
            return self._h
        if kind not in self._kinds:
            raise KeyError(kind)
        return self._gates()[kind]

    def __iter__(self):
        return iter(self._kinds)

    def __len__(self):
        return len(self._kinds)


def zero_state(layer):
    """The zero states of one sequence: ``[h (H,)]`` or ``[h, c]`` for an LSTM."""
    dtype = layer.kernel.value.dtype
    return [np.zeros(layer.units, dtype) for _ in layer.state_names]


def step_layer(layer, x_t, states):
    """One step of ``layer`` for one sequence: ``(new states, {kind: (H,) array})``.

    Args:
        x_t: (I,) input.  states: ``[h_prev]`` or ``[h_prev, c_prev]`` (H,) arrays.
    """
    cell = cell_of(layer)
    if cell in min_ln_cells.KINDS:
        return min_ln_cells.step(layer, x_t, states)
    H = layer.units
    p_h, p_c = min_ln_cells.rates(layer)                              # zoneout
    W_ih, U, b, b_hh = _weights(layer)
    act = layer.activation
    h_prev = states[0]
    xw = x_t @ W_ih                                                   # (G*H,)
    if b is not None:
        xw = xw + b
    if cell == "simple_rnn":
        h_t = act(xw + h_prev @ U)
        return [h_t], {"h": h_t}
    sig = layer.recurrent_activation
    if cell == "lstm":
        c_prev = states[1]
        z = xw + h_prev @ U                                           # (4H,)
        i, f, g, o = sig(z[:H]), sig(z[H:2 * H]), act(z[2 * H:3 * H]), sig(z[3 * H:])
        c_t = lstm_cell_update(c_prev, i, f, g)
        h_t = lstm_hidden(o, act(c_t))
        if p_c:
            c_t = zoneout(np.asarray(p_c, c_t.dtype), c_t, c_prev)
        if p_h:
            h_t = zoneout(np.asarray(p_h, h_t.dtype), h_t, h_prev)
        return [h_t, c_t], {"h": h_t, "c": c_t, "i": i, "f": f, "g": g, "o": o}
    if layer.reset_after:
        hU = h_prev @ U
        if b_hh is not None:
            hU = hU + b_hh
        z, r = sig(xw[:H] + hU[:H]), sig(xw[H:2 * H] + hU[H:2 * H])
        hh = act(xw[2 * H:] + r * hU[2 * H:])
    else:
        z, r = sig(h_prev @ U[:, :H] + xw[:H]), sig(h_prev @ U[:, H:2 * H] + xw[H:2 * H])
        hh = act((r * h_prev) @ U[:, 2 * H:] + xw[2 * H:])
    h_t = gru_state_update(h_prev, z, hh)
    if p_h:
        h_t = zoneout(np.asarray(p_h, h_t.dtype), h_t, h_prev)
    return [h_t], {"h": h_t, "z": z, "r": r, "hh": hh}


def step_trace(layer, x):
    """:func:`step_layer` over a whole sequence ``x (T, I)``: ``{kind: (T, H)}`` (the loop)."""
    states = zero_state(layer)
    rows = []
    for x_t in np.asarray(x, dtype=layer.kernel.value.dtype):
        states, values = step_layer(layer, x_t, states)
        rows.append(values)
    return {k: np.array([r[k] for r in rows]) for k in KINDS[cell_of(layer)]}
