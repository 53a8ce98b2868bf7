"""Hidden cells of minGRU, minLSTM and the LayerNorm LSTM: every gate over a text, and one step.

For one sequence ``x (T, I)``, with ``xw = x_t W + b`` (all steps at once)::

    MinGRU     z = sigma(xw_z) ;  hh = act(xw_h)
               h_t = (1 - z) * h_{t-1} + z * hh                         kinds h, z, hh
    MinLSTM    f = sigma(xw_f) ;  i = sigma(xw_i) ;  hh = act(xw_h)
               f' = f / (f + i) ;  i' = i / (f + i)   (shown as f and i: what the layer uses)
               h_t = f' * h_{t-1} + i' * hh                             kinds h, f, i, hh
    LNLSTM     z = LN(x_t W) gamma_x + b + LN(h_{t-1} W_hh) gamma_h    (LN over all 4H values)
               i, f, o = sigma(z_i, z_f, z_o) ;  g = act(z_g)
               c~ = f * c_{t-1} + i * g ;  h~ = o * act(LN(c~) gamma_c + beta_c)
               c_t = zc c_{t-1} + (1 - zc) c~ ;  h_t = zh h_{t-1} + (1 - zh) h~
                                                                  kinds h, c, i, f, g, o

Zoneout is taken by its expectation (``zc``, ``zh`` = the layer's ``cell_zoneout``,
``zoneout``), as the layer computes at inference; ``c`` is the state c_t (after zoneout).
As in :mod:`rnnkit.view.cells`, :func:`gate_trace` takes ``h (T, H)`` from ``layer.forward``
(teacher forcing: ``h_{t-1}`` is the layer's own), computes the gates of all steps without a
loop (c alone runs in time, through :func:`~rnnkit.view.cells.cell_states`), and reports how
far ``h_t`` rebuilt from them is from ``layer.forward``'s; :func:`step` is one step written
plainly. The equations are :mod:`rnnkit.kernels.equations` and
:mod:`rnnkit.kernels.layer_norm`, the ones the kernels call.
"""

import numpy as np

from .. import activations
from ..kernels.equations import (gru_state_update, lstm_cell_update, lstm_gates, lstm_hidden,
                                 zoneout)
from ..kernels.layer_norm import normalize
from ..layers.ln_lstm import LayerNormLSTM
from ..layers.min_rnn import MinGRU, MinLSTM

KINDS = {"mingru": ("h", "z", "hh"), "minlstm": ("h", "f", "i", "hh"),
         "lnlstm": ("h", "c", "i", "f", "g", "o")}


def cell_of(layer):
    """``"mingru"``, ``"minlstm"`` or ``"lnlstm"``, else None."""
    if isinstance(layer, MinGRU):
        return "mingru"
    if isinstance(layer, MinLSTM):
        return "minlstm"
    if isinstance(layer, LayerNormLSTM):
        return "lnlstm"
    return None


def rates(layer):
    """The zoneout keep-probabilities ``(p_h, p_c)`` of a layer (0.0 where it has none)."""
    return float(getattr(layer, "zoneout", 0.0)), float(getattr(layer, "cell_zoneout", 0.0))


def _min_gates(layer, xw):
    """MinGRU / MinLSTM gates from ``xw (..., G*H)`` (bias included): a dict of (..., H)."""
    H, act = layer.units, layer.activation
    if isinstance(layer, MinGRU):
        return {"z": activations.sigmoid(xw[..., :H]), "hh": act(xw[..., H:])}
    f, i = activations.sigmoid(xw[..., :H]), activations.sigmoid(xw[..., H:2 * H])
    s = f + i
    return {"f": f / s, "i": i / s, "hh": act(xw[..., 2 * H:])}


def _min_update(gates, h_prev):
    """``h_t`` from the gates: ``(1 - z) h_prev + z hh`` or ``f' h_prev + i' hh``."""
    if "z" in gates:
        return gru_state_update(h_prev, 1 - gates["z"], gates["hh"])
    return lstm_cell_update(h_prev, gates["i"], gates["f"], gates["hh"])


def _ln_gates(layer, x, h_prev):
    """LayerNorm LSTM ``i, f, g, o`` (T, H) each from ``x (T, I)`` and ``h_prev (T, H)``."""
    eps = layer.epsilon
    xn = normalize(x @ layer.kernel.value, eps)[0] * layer.input_gamma.value
    if layer.bias is not None:
        xn += layer.bias.value
    rhat = normalize(h_prev @ layer.recurrent_kernel.value, eps)[0]
    z = xn + rhat * layer.recurrent_gamma.value                       # (T, 4H)
    return lstm_gates(z, layer.activation, layer.recurrent_activation)


def _ln_hidden(layer, o, c_new):
    """``h~ = o * act(LN(c~) gamma_c + beta_c)``."""
    chat = normalize(c_new, layer.epsilon)[0]
    return lstm_hidden(o, layer.activation(chat * layer.cell_gamma.value
                                           + layer.cell_beta.value))


def _xw(layer, x):
    xw = x @ layer.kernel.value
    if layer.bias is not None:
        xw += layer.bias.value
    return xw


def gate_trace(layer, x, h, cell_states):
    """``({kind: (T, H)}, max_rebuild_error)`` for ``h (T, H) = layer.forward(x (T, I))``;
    ``cell_states(f, ig)`` runs ``c_t = f_t c_{t-1} + ig_t`` from 0."""
    H = layer.units
    h_prev = np.concatenate([np.zeros((1, H), h.dtype), h[:-1]])      # (T, H)
    if cell_of(layer) != "lnlstm":
        gates = _min_gates(layer, _xw(layer, x))
        return dict(h=h, **gates), _min_update(gates, h_prev)
    i, f, g, o = _ln_gates(layer, x, h_prev)
    p_h, p_c = (np.asarray(p, h.dtype) for p in rates(layer))
    # c_t = p_c c_{t-1} + (1 - p_c)(f c_{t-1} + i g): affine in c_{t-1}, one compiled pass
    c = cell_states(p_c + (1 - p_c) * f, (1 - p_c) * (i * g)) if p_c else cell_states(f, i * g)
    c_prev = np.concatenate([np.zeros((1, H), h.dtype), c[:-1]])
    c_new = lstm_cell_update(c_prev, i, f, g) if p_c else c       # c~, before zoneout
    rebuilt = _ln_hidden(layer, o, c_new)
    if p_h:
        rebuilt = zoneout(p_h, rebuilt, h_prev)
    return {"h": h, "c": c, "i": i, "f": f, "g": g, "o": o}, rebuilt


def step(layer, x_t, states):
    """One step for one sequence: ``x_t (I,)``, states ``[h_prev]`` or ``[h_prev, c_prev]``
    (H,) -> ``(new states, {kind: (H,)})``."""
    h_prev = states[0]
    if cell_of(layer) != "lnlstm":
        gates = _min_gates(layer, _xw(layer, x_t))
        h_t = _min_update(gates, h_prev)
        return [h_t], dict(h=h_t, **gates)
    c_prev = states[1]
    i, f, g, o = (a[0] for a in _ln_gates(layer, x_t[None], h_prev[None]))
    c_new = lstm_cell_update(c_prev, i, f, g)
    h_new = _ln_hidden(layer, o[None], c_new[None])[0]
    p_h, p_c = rates(layer)
    c_t = zoneout(np.asarray(p_c, c_new.dtype), c_new, c_prev) if p_c else c_new
    h_t = zoneout(np.asarray(p_h, h_new.dtype), h_new, h_prev) if p_h else h_new
    return [h_t, c_t], {"h": h_t, "c": c_t, "i": i, "f": f, "g": g, "o": o}
