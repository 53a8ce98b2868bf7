"""Layer-normalised LSTM with zoneout over a whole sequence: forward and BPTT (reference NumPy).

Ba et al. 2016 (as lmnt-com/haste's ``LayerNormLSTM``): the input and the recurrent
pre-activations are normalised separately, each over all 4H gate values, and the cell state is
normalised before its activation. Gates in Keras order i, f, c, o (candidate ``g``)::

    xn_t = LN(x_t W) * gamma_x + b           given for all t (the layer computes it, no loop)
    z    = xn_t + LN(h_prev W_hh) * gamma_h
    i = sig(z_i)  f = sig(z_f)  g = act(z_g)  o = sig(z_o)
    c~   = f * c_prev + i * g
    h~   = o * act(LN(c~) * gamma_c + beta_c)

Zoneout (Krueger et al. 2016) then keeps each unit's previous value with probability p::

    c_t = zc * c_prev + (1 - zc) * c~       h_t = zh * h_prev + (1 - zh) * h~

``zc``, ``zh`` (T, B, H) are Bernoulli(p) draws, new at every step, when training and the
constant p at inference (the expectation); None for no zoneout. Padded steps (``mask[t, b]``
False) carry both states. The compiled twin with the same contract is
:mod:`rnnkit.kernels.fast.ln_lstm` (chosen by :mod:`rnnkit.kernels.dispatch`).

>>> import numpy as np
>>> T, B, H = 3, 2, 4
>>> rng = np.random.default_rng(0)
>>> xn, W_hh = rng.normal(size=(T, B, 4 * H)), rng.normal(size=(H, 4 * H))
>>> ones, zeros = np.ones(4 * H), np.zeros(H)
>>> h0 = c0 = np.zeros((B, H))
>>> h_seq, h_T, c_T, cache = ln_lstm_forward(xn, W_hh, ones, ones[:H], zeros, h0, c0)
>>> grads = ln_lstm_backward(np.ones_like(h_seq), None, None, cache)
>>> [g.shape for g in grads]
[(3, 2, 16), (4, 16), (16,), (4,), (4,), (2, 4), (2, 4)]
"""

import numpy as np

from .. import activations
from .layer_norm import normalize, normalize_backward


def ln_lstm_forward(xn, W_hh, gamma_h, gamma_c, beta_c, h0, c0, mask=None, zh=None, zc=None,
                    rec_dropout=None, eps=1e-5, activation=activations.tanh,
                    recurrent_activation=activations.sigmoid):
    """Run the LayerNorm LSTM over all T steps.

    Args:
        xn: (T, B, 4H) the normalised, scaled, biased input part ``LN(x W) gamma_x + b``.
        W_hh: (H, 4H) recurrent kernel; gamma_h (4H,) its LayerNorm scale.
        gamma_c, beta_c: (H,) the cell LayerNorm's scale and shift.
        h0, c0: (B, H) initial states.
        mask: optional (T, B) bool, False at padded steps.
        zh, zc: optional zoneout keep-masks (T, B, H) (0/1 when training, p at inference).
        rec_dropout: optional (B, H) multiplier of h_prev in the recurrent product.
        eps: the LayerNorm epsilon.

    Returns:
        h_seq (T, B, H), h_T, c_T (B, H) and the cache for :func:`ln_lstm_backward`.
    """
    T, B, G = xn.shape
    H = G // 4
    act, sig = activation, recurrent_activation
    h_all = np.empty((T + 1, B, H), dtype=xn.dtype)      # h_all[t] is h_prev of step t
    c_all = np.empty((T + 1, B, H), dtype=xn.dtype)
    h_all[0], c_all[0] = h0, c0
    zs = np.empty((T, B, G), dtype=xn.dtype)             # gate pre-activations
    gates = np.empty((T, B, G), dtype=xn.dtype)          # i, f, g, o after activations
    rhat = np.empty((T, B, G), dtype=xn.dtype)           # normalised h_prev W_hh
    r_rstd = np.empty((T, B, 1), dtype=xn.dtype)
    chat = np.empty((T, B, H), dtype=xn.dtype)           # normalised c~
    c_rstd = np.empty((T, B, 1), dtype=xn.dtype)
    cn = np.empty((T, B, H), dtype=xn.dtype)             # LN(c~) gamma_c + beta_c
    act_c = np.empty((T, B, H), dtype=xn.dtype)          # act(cn)
    c_new = np.empty((T, B, H), dtype=xn.dtype)          # c~ (before zoneout)
    h_new = np.empty((T, B, H), dtype=xn.dtype)          # h~

    for t in range(T):
        h_prev, c_prev = h_all[t], c_all[t]
        h_in = h_prev if rec_dropout is None else h_prev * rec_dropout
        rhat[t], r_rstd[t] = normalize(h_in @ W_hh, eps)                 # (B, 4H)
        z = np.add(xn[t], rhat[t] * gamma_h, out=zs[t])
        a = gates[t]
        a[:, :2 * H] = sig(z[:, :2 * H])                                 # i, f
        a[:, 2 * H:3 * H] = act(z[:, 2 * H:3 * H])                       # g
        a[:, 3 * H:] = sig(z[:, 3 * H:])                                 # o
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        c_new[t] = f * c_prev + i * g
        chat[t], c_rstd[t] = normalize(c_new[t], eps)
        cn[t] = chat[t] * gamma_c + beta_c
        act_c[t] = act(cn[t])
        h_new[t] = o * act_c[t]
        c_t = c_new[t] if zc is None else zc[t] * c_prev + (1.0 - zc[t]) * c_new[t]
        h_t = h_new[t] if zh is None else zh[t] * h_prev + (1.0 - zh[t]) * h_new[t]
        if mask is not None:                             # padded step: carry the states
            m = mask[t][:, None]
            c_t, h_t = np.where(m, c_t, c_prev), np.where(m, h_t, h_prev)
        c_all[t + 1], h_all[t + 1] = c_t, h_t

    cache = (W_hh, gamma_h, gamma_c, beta_c, h_all, c_all, zs, gates, rhat, r_rstd, chat, c_rstd,
             cn, act_c, mask, zh, zc, rec_dropout, act, sig)
    return h_all[1:], h_all[T].copy(), c_all[T].copy(), cache


def ln_lstm_backward(dh_seq, dh_T, dc_T, cache, trace=None):
    """BPTT of :func:`ln_lstm_forward`.

    Args:
        dh_seq: (T, B, H) dL/dh_t from the outputs; dh_T, dc_T: (B, H) or None.
        trace: optional (T, B, H) buffer receiving dL/dh_t (all paths; diagnostics).

    Returns:
        dxn (T, B, 4H), dW_hh (H, 4H), dgamma_h (4H,), dgamma_c (H,), dbeta_c (H,),
        dh0 (B, H), dc0 (B, H).
    """
    (W_hh, gamma_h, gamma_c, beta_c, h_all, c_all, zs, gates, rhat, r_rstd, chat, c_rstd,
     cn, act_c, mask, zh, zc, rec_dropout, act, sig) = cache
    T, B, G = gates.shape
    H = G // 4
    dxn = np.empty_like(gates)
    dW_hh = np.zeros_like(W_hh)
    dgamma_h, dgamma_c, dbeta_c = (np.zeros_like(gamma_h), np.zeros_like(gamma_c),
                                   np.zeros_like(beta_c))
    dh = np.zeros((B, H), dtype=gates.dtype) if dh_T is None else np.array(dh_T, copy=True)
    dc = np.zeros((B, H), dtype=gates.dtype) if dc_T is None else np.array(dc_T, copy=True)

    for t in range(T - 1, -1, -1):
        h_prev, c_prev = h_all[t], c_all[t]
        dh = dh + dh_seq[t]                                  # dL/dh_t, every path
        if trace is not None:
            trace[t] = dh
        m = None if mask is None else mask[t][:, None]
        if m is not None:                                    # padded: all goes to the past
            dh_pass, dc_pass = dh * ~m, dc * ~m
            dh, dc = dh * m, dc * m
        # zoneout:  h_t = zh h_prev + (1 - zh) h~ ;  c_t = zc c_prev + (1 - zc) c~
        dh_new = dh if zh is None else dh * (1.0 - zh[t])
        dc_new = dc if zc is None else dc * (1.0 - zc[t])
        dh_prev = np.zeros_like(dh) if zh is None else dh * zh[t]
        dc_prev = np.zeros_like(dc) if zc is None else dc * zc[t]
        a = gates[t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        # h~ = o * act(cn),  cn = LN(c~) gamma_c + beta_c
        do = dh_new * act_c[t]
        dcn = act.vjp(cn[t], act_c[t], dh_new * o)
        dgamma_c += np.sum(dcn * chat[t], axis=0)
        dbeta_c += np.sum(dcn, axis=0)
        dc_new = dc_new + normalize_backward(dcn * gamma_c, chat[t], c_rstd[t])
        # c~ = f c_prev + i g
        df, di, dg = dc_new * c_prev, dc_new * g, dc_new * i
        dc_prev += dc_new * f
        dz = dxn[t]                                          # (B, 4H) gate pre-activations
        z = zs[t]
        dz[:, :H] = sig.vjp(z[:, :H], i, di)
        dz[:, H:2 * H] = sig.vjp(z[:, H:2 * H], f, df)
        dz[:, 2 * H:3 * H] = act.vjp(z[:, 2 * H:3 * H], g, dg)
        dz[:, 3 * H:] = sig.vjp(z[:, 3 * H:], o, do)
        # z = xn + LN(h_in W_hh) gamma_h
        dgamma_h += np.sum(dz * rhat[t], axis=0)
        dr = normalize_backward(dz * gamma_h, rhat[t], r_rstd[t])
        h_in = h_prev if rec_dropout is None else h_prev * rec_dropout
        dW_hh += h_in.T @ dr
        dh_in = dr @ W_hh.T
        dh_prev += dh_in if rec_dropout is None else dh_in * rec_dropout
        if m is not None:
            dz *= m
            dh_prev, dc_prev = dh_prev + dh_pass, dc_prev + dc_pass
        dh, dc = dh_prev, dc_prev
    return dxn, dW_hh, dgamma_h, dgamma_c, dbeta_c, dh, dc
