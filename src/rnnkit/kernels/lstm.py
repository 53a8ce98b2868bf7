"""LSTM over a whole sequence: the forward recurrence and its backpropagation through time.

Reference NumPy kernel, written to be read beside the equations. Gates in Keras order i, f, c, o
(we call the candidate ``g``), one column block of ``4H`` each::

    z_t = xw_t + (h_prev * r) @ W_hh              xw_t = x_t @ W_ih + b, given for all t
    i = sigma(z_i)   f = sigma(z_f)   g = act(z_g)   o = sigma(z_o)
    c_t = f * c_prev + i * g
    h_t = o * act(c_t)

``r`` is the optional recurrent-dropout mask (B, H), fixed over time; ``sigma`` is the
recurrent activation (sigmoid by default) and ``act`` the activation (tanh by default).

Zoneout (Krueger et al. 2016), when the keep-masks ``zh``, ``zc`` (T, B, H) are given, blends
the new states with the previous ones (``c~``, ``h~`` are the states above)::

    c_t = zc * c_prev + (1 - zc) * c~          h_t = zh * h_prev + (1 - zh) * h~

``zc``, ``zh`` are 0/1 draws when training and the constant p at inference (the expectation);
None (the default) is no zoneout and costs nothing. Where ``mask[t, b]`` is False the step is
skipped: ``h_t = h_prev`` and ``c_t = c_prev``.

The input projection ``xw`` and the input/weight gradients (``dW_ih = X^T dxw``,
``dW_hh = H_prev^T dxw``, ``dx = dxw W_ih^T``) are single matrix products outside the time loop;
inside it only the recurrent product and the gate math remain.

>>> import numpy as np
>>> T, B, H = 3, 2, 4
>>> rng = np.random.default_rng(0)
>>> xw, W_hh = rng.normal(size=(T, B, 4 * H)), rng.normal(size=(H, 4 * H))
>>> h_seq, h_T, c_T, cache = lstm_forward(xw, W_hh, np.zeros((B, H)), np.zeros((B, H)))
>>> dxw, dW_hh, dh0, dc0 = lstm_backward(np.ones_like(h_seq), None, None, cache)
>>> dxw.shape, dW_hh.shape
((3, 2, 16), (4, 16))
"""

import numpy as np

from .. import activations
from .equations import (carry_masked, carry_masked_backward, lstm_cell_update,
                        lstm_cell_update_backward, lstm_hidden, lstm_hidden_backward, zoneout,
                        zoneout_backward)
from .shapes import check_backward_grads


def lstm_forward(xw, W_hh, h0, c0, mask=None, rec_dropout=None,
                 activation=activations.tanh, recurrent_activation=activations.sigmoid,
                 zh=None, zc=None):
    """Run the LSTM recurrence over all T steps.

    Args:
        xw: (T, B, 4H) input projections ``x_t @ W_ih + b`` for every step, time-major.
        W_hh: (H, 4H) recurrent kernel.
        h0, c0: (B, H) initial hidden and cell states.
        mask: optional (T, B) bool, False where a step is padding (state carried through).
        rec_dropout: optional (B, H) multiplier applied to ``h_prev`` in the recurrent product.
        activation, recurrent_activation: :class:`rnnkit.activations.Activation` objects.
        zh, zc: optional zoneout keep-masks of h and c, each (T, B, H) or broadcastable to it
            ((T, 1, 1) for the constant p at inference), or None.

    Returns:
        h_seq (T, B, H), h_T (B, H), c_T (B, H), and the cache for :func:`lstm_backward`.
    """
    T, B, G = xw.shape
    H = G // 4
    act, sig = activation, recurrent_activation
    h_all = np.empty((T + 1, B, H), dtype=xw.dtype)  # h_all[t] is h_prev of step t
    c_all = np.empty((T + 1, B, H), dtype=xw.dtype)
    h_all[0], c_all[0] = h0, c0
    z = np.empty((T, B, G), dtype=xw.dtype)          # gate pre-activations
    gates = np.empty((T, B, G), dtype=xw.dtype)      # i, f, g, o after their activations
    tanh_c = np.empty((T, B, H), dtype=xw.dtype)     # act(c~), c~ = c_t without zoneout
    c_new = None if zc is None else np.empty((T, B, H), dtype=xw.dtype)   # c~ under zoneout

    for t in range(T):
        h_prev, c_prev = h_all[t], c_all[t]
        h_in = h_prev if rec_dropout is None else h_prev * rec_dropout
        z_t = np.matmul(h_in, W_hh, out=z[t])
        z_t += xw[t]                                                      # (B, 4H)
        a_t = gates[t]
        a_t[:, : 2 * H] = sig(z_t[:, : 2 * H])                            # i, f
        a_t[:, 2 * H : 3 * H] = act(z_t[:, 2 * H : 3 * H])                # g
        a_t[:, 3 * H :] = sig(z_t[:, 3 * H :])                            # o
        i, f, g, o = a_t[:, :H], a_t[:, H : 2 * H], a_t[:, 2 * H : 3 * H], a_t[:, 3 * H :]
        c_t = lstm_cell_update(c_prev, i, f, g)                           # c~
        tanh_c[t] = act(c_t)
        h_t = lstm_hidden(o, tanh_c[t])                                   # h~
        if zc is not None:                         # zoneout: keep c_prev with probability p
            c_new[t] = c_t
            c_t = zoneout(zc[t], c_t, c_prev)
        if zh is not None:                         # zoneout: keep h_prev with probability p
            h_t = zoneout(zh[t], h_t, h_prev)
        if mask is not None:                       # padded step: carry the state through
            m = mask[t][:, None]
            c_t = carry_masked(m, c_t, c_prev)
            h_t = carry_masked(m, h_t, h_prev)
        c_all[t + 1], h_all[t + 1] = c_t, h_t

    cache = (xw.dtype, W_hh, h_all, c_all, z, gates, tanh_c, mask, rec_dropout, act, sig,
             c_new, zh, zc)
    return h_all[1:], h_all[T].copy(), c_all[T].copy(), cache


def lstm_backward(dh_seq, dh_T, dc_T, cache, dh_trace=None):
    """Backpropagation through time for :func:`lstm_forward`.

    Args:
        dh_seq: (T, B, H) gradient of the loss with respect to every output ``h_t``.
        dh_T, dc_T: (B, H) gradients with respect to the final states, or None.
        cache: what :func:`lstm_forward` returned.
        dh_trace: optional (T, B, H) array that receives the total dL/dh_t of every step.

    Returns:
        dxw (T, B, 4H), dW_hh (H, 4H), dh0 (B, H), dc0 (B, H).
    """
    (dtype, W_hh, h_all, c_all, z, gates, tanh_c, mask, rec_dropout, act, sig, c_new, zh,
     zc) = cache
    T, B, G = gates.shape
    H = G // 4
    dxw = np.empty((T, B, G), dtype=dtype)
    check_backward_grads("lstm_backward", dh_seq, (dh_T, dc_T), T, B, H)
    dh = np.zeros((B, H), dtype=dtype) if dh_T is None else np.array(dh_T, dtype=dtype)
    dc = np.zeros((B, H), dtype=dtype) if dc_T is None else np.array(dc_T, dtype=dtype)

    for t in reversed(range(T)):
        dh = dh + dh_seq[t]
        if dh_trace is not None:               # dL/dh_t in full, for diagnostics
            dh_trace[t] = dh
        if mask is not None:                   # a padded step passes its gradient straight on
            m = mask[t][:, None]
            dh, dh_skip = carry_masked_backward(m, dh)
            dc, dc_skip = carry_masked_backward(m, dc)
        if zh is not None:                     # h_t = zh * h_prev + (1 - zh) * h~
            dh, dh_zone = zoneout_backward(zh[t], dh)
        if zc is not None:                     # c_t = zc * c_prev + (1 - zc) * c~
            dc, dc_zone = zoneout_backward(zc[t], dc)
        a_t, z_t = gates[t], z[t]
        i, f, g, o = a_t[:, :H], a_t[:, H : 2 * H], a_t[:, 2 * H : 3 * H], a_t[:, 3 * H :]
        c_prev, c_t = c_all[t], (c_all[t + 1] if zc is None else c_new[t])     # c_t: c~
        # h_t = o * act(c_t)
        do, dc = lstm_hidden_backward(dh, dc, o, tanh_c[t], act.derivative(c_t, tanh_c[t]))
        # c_t = f * c_prev + i * g
        di, df, dg, dc_prev = lstm_cell_update_backward(dc, c_prev, i, f, g)
        # gates from their pre-activations
        dz = dxw[t]
        dz[:, :H] = di * sig.derivative(z_t[:, :H], i)
        dz[:, H : 2 * H] = df * sig.derivative(z_t[:, H : 2 * H], f)
        dz[:, 2 * H : 3 * H] = dg * act.derivative(z_t[:, 2 * H : 3 * H], g)
        dz[:, 3 * H :] = do * sig.derivative(z_t[:, 3 * H :], o)
        # z_t = xw_t + (h_prev * r) @ W_hh
        dh_prev = dz @ W_hh.T
        if rec_dropout is not None:
            dh_prev *= rec_dropout
        if zh is not None:
            dh_prev += dh_zone
        if zc is not None:
            dc_prev += dc_zone
        if mask is not None:
            dh_prev += dh_skip
            dc_prev += dc_skip
        dh, dc = dh_prev, dc_prev

    # dW_hh = sum_t (h_prev_t * r)^T dz_t, one product over all steps
    h_in = h_all[:T] if rec_dropout is None else h_all[:T] * rec_dropout
    dW_hh = h_in.reshape(T * B, H).T @ dxw.reshape(T * B, G)
    return dxw, dW_hh, dh, dc
