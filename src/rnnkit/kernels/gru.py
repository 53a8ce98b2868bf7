"""GRU over a whole sequence: the forward recurrence and its backpropagation through time.

Reference NumPy kernel, written to be read beside Keras 3's equations. Gates in Keras order
z, r, h (update, reset, candidate ``hh``), one column block of ``3H`` each; ``U_z, U_r, U_h``
are the blocks of ``W_hh`` and ``x_z, x_r, x_h`` those of ``xw_t = x_t @ W_ih + b_ih``::

    reset_after=True (default, cuDNN and PyTorch):
        hU = (h_prev * d) @ W_hh + b_hh                     (B, 3H), recurrent part with its bias
        z  = sigma(x_z + hU_z)        r = sigma(x_r + hU_r)
        hh = act(x_h + r * hU_h)
    reset_after=False (Cho et al. v1; no recurrent bias):
        z  = sigma(x_z + (h_prev * d) @ U_z)   r = sigma(x_r + (h_prev * d) @ U_r)
        hh = act(x_h + (r * h_prev * d) @ U_h)
    h_t = z * h_prev + (1 - z) * hh
    h_t = zh * h_prev + (1 - zh) * h_t              zoneout, when the keep-mask zh is given

``zh`` (T, B, H) is 0/1 when training (Krueger et al. 2016: a unit keeps its previous value
with probability p) and the constant p at inference (the expectation); None (the default) is
no zoneout and costs nothing. ``d`` is the optional recurrent-dropout mask (B, H), fixed
over time; it multiplies ``h_prev`` only where it enters a matrix product, never in
``z * h_prev``. ``sigma`` is the recurrent
activation (sigmoid by default), ``act`` the activation (tanh by default). Where
``mask[t, b]`` is False the step is skipped: ``h_t = h_prev``.

The input projection ``xw`` and the gradients of ``W_ih``, ``b_ih`` and ``x`` are computed by
the layer outside the time loop. ``dW_hh`` is one product after the loop with reset_after=True
(``H_prev^T dhU``); with reset_after=False the candidate block's operand is ``r * h_prev * d``,
kept for every step, so it is two products: ``H_prev^T dxw_zr`` and ``RH^T dxw_h``.

>>> import numpy as np
>>> T, B, H = 3, 2, 4
>>> rng = np.random.default_rng(0)
>>> xw, W_hh, b_hh = rng.normal(size=(T, B, 3 * H)), rng.normal(size=(H, 3 * H)), np.ones(3 * H)
>>> h_seq, h_T, cache = gru_forward(xw, W_hh, b_hh, np.zeros((B, H)))
>>> dxw, dW_hh, db_hh, dh0 = gru_backward(np.ones_like(h_seq), None, cache)
>>> dxw.shape, dW_hh.shape, db_hh.shape
((3, 2, 12), (4, 12), (12,))
"""

import numpy as np

from .. import activations
from .equations import (carry_masked, carry_masked_backward, gru_state_update,
                        gru_state_update_backward, zoneout, zoneout_backward)
from .shapes import check_backward_grads


def gru_forward(xw, W_hh, b_hh, h0, mask=None, rec_dropout=None, reset_after=True,
                activation=activations.tanh, recurrent_activation=activations.sigmoid, zh=None):
    """Run the GRU recurrence over all T steps.

    Args:
        xw: (T, B, 3H) input projections ``x_t @ W_ih + b_ih`` for every step, time-major.
        W_hh: (H, 3H) recurrent kernel, blocks z, r, h.
        b_hh: (3H,) recurrent bias (reset_after=True only), or None.
        h0: (B, H) initial hidden state.
        mask: optional (T, B) bool, False where a step is padding (state carried through).
        rec_dropout: optional (B, H) multiplier applied to ``h_prev`` in the recurrent products.
        reset_after: apply the reset gate after the recurrent product (True) or before (False).
        activation, recurrent_activation: :class:`rnnkit.activations.Activation` objects.
        zh: optional zoneout keep-mask (T, B, H) or broadcastable to it ((T, 1, 1) for the
            constant p at inference), or None.

    Returns:
        h_seq (T, B, H), h_T (B, H), and the cache for :func:`gru_backward`.
    """
    T, B, G = xw.shape
    H = G // 3
    if b_hh is not None and not reset_after:
        raise ValueError("gru_forward: a recurrent bias b_hh exists only with reset_after=True")
    act, sig = activation, recurrent_activation
    h_all = np.empty((T + 1, B, H), dtype=xw.dtype)  # h_all[t] is h_prev of step t
    h_all[0] = h0
    pre = np.empty((T, B, G), dtype=xw.dtype)        # pre-activations of z, r, hh
    gates = np.empty((T, B, G), dtype=xw.dtype)      # z, r, hh after their activations
    cand = np.empty((T, B, H), dtype=xw.dtype)       # hU_h (reset_after) or r * h_prev * d
    if reset_after:
        hU = np.empty((B, G), dtype=xw.dtype)        # scratch for the recurrent product
    else:
        U_zr = np.ascontiguousarray(W_hh[:, : 2 * H])
        U_h = np.ascontiguousarray(W_hh[:, 2 * H :])

    for t in range(T):
        h_prev = h_all[t]
        h_in = h_prev if rec_dropout is None else h_prev * rec_dropout
        a_t, g_t = pre[t], gates[t]
        if reset_after:
            np.matmul(h_in, W_hh, out=hU)                                 # (B, 3H)
            if b_hh is not None:
                hU += b_hh
            np.add(xw[t, :, : 2 * H], hU[:, : 2 * H], out=a_t[:, : 2 * H])
            g_t[:, : 2 * H] = sig(a_t[:, : 2 * H])                        # z, r
            r = g_t[:, H : 2 * H]
            cand[t] = hU[:, 2 * H :]                                      # hU_h
            np.multiply(r, cand[t], out=a_t[:, 2 * H :])
        else:
            a_t[:, : 2 * H] = h_in @ U_zr
            a_t[:, : 2 * H] += xw[t, :, : 2 * H]
            g_t[:, : 2 * H] = sig(a_t[:, : 2 * H])                        # z, r
            r = g_t[:, H : 2 * H]
            np.multiply(r, h_in, out=cand[t])                             # r * h_prev * d
            np.matmul(cand[t], U_h, out=a_t[:, 2 * H :])
        a_t[:, 2 * H :] += xw[t, :, 2 * H :]
        g_t[:, 2 * H :] = act(a_t[:, 2 * H :])                            # hh
        z, hh = g_t[:, :H], g_t[:, 2 * H :]
        h_t = gru_state_update(h_prev, z, hh)
        if zh is not None:                         # zoneout: keep h_prev with probability p
            h_t = zoneout(zh[t], h_t, h_prev)
        if mask is not None:                       # padded step: carry the state through
            h_t = carry_masked(mask[t][:, None], h_t, h_prev)
        h_all[t + 1] = h_t

    cache = (xw.dtype, W_hh, b_hh is not None, reset_after, h_all, pre, gates, cand, mask,
             rec_dropout, act, sig, zh)
    return h_all[1:], h_all[T].copy(), cache


def gru_backward(dh_seq, dh_T, cache, dh_trace=None):
    """Backpropagation through time for :func:`gru_forward`.

    Args:
        dh_seq: (T, B, H) gradient of the loss with respect to every output ``h_t``.
        dh_T: (B, H) gradient with respect to the final state, or None.
        cache: what :func:`gru_forward` returned.
        dh_trace: optional (T, B, H) array that receives the total dL/dh_t of every step.

    Returns:
        dxw (T, B, 3H), dW_hh (H, 3H), db_hh (3H,) or None when there was no recurrent bias,
        dh0 (B, H).
    """
    (dtype, W_hh, has_b_hh, reset_after, h_all, pre, gates, cand, mask, rec_dropout, act,
     sig, zh) = cache
    T, B, G = gates.shape
    H = G // 3
    dxw = np.empty((T, B, G), dtype=dtype)
    if reset_after:
        dhU = np.empty((T, B, G), dtype=dtype)       # gradient of hU at every step
    else:
        U_zr_T = np.ascontiguousarray(W_hh[:, : 2 * H].T)
        U_h_T = np.ascontiguousarray(W_hh[:, 2 * H :].T)
    check_backward_grads("gru_backward", dh_seq, (dh_T,), T, B, H)
    dh = np.zeros((B, H), dtype=dtype) if dh_T is None else np.array(dh_T, dtype=dtype)

    for t in reversed(range(T)):
        dh = dh + dh_seq[t]
        if dh_trace is not None:               # dL/dh_t in full, for diagnostics
            dh_trace[t] = dh
        if mask is not None:                   # a padded step passes its gradient straight on
            dh, dh_skip = carry_masked_backward(mask[t][:, None], dh)
        if zh is not None:                     # h_t = zh * h_prev + (1 - zh) * h~
            dh, dh_zone = zoneout_backward(zh[t], dh)
        h_prev, a_t, g_t = h_all[t], pre[t], gates[t]
        z, r, hh = g_t[:, :H], g_t[:, H : 2 * H], g_t[:, 2 * H :]
        da = dxw[t]                            # d of the pre-activations = d of xw_t
        # h_t = z * h_prev + (1 - z) * hh
        dh_prev, dz, dhh = gru_state_update_backward(dh, h_prev, z, hh)
        # hh = act(a_h)
        da_h = np.multiply(dhh, act.derivative(a_t[:, 2 * H :], hh), out=da[:, 2 * H :])
        if reset_after:
            # a_h = x_h + r * hU_h
            dr = da_h * cand[t]
            np.multiply(da_h, r, out=dhU[t, :, 2 * H :])
        else:
            # a_h = x_h + (r * h_in) @ U_h ,  h_in = h_prev * d
            d_rh = da_h @ U_h_T
            h_in = h_prev if rec_dropout is None else h_prev * rec_dropout
            dr = d_rh * h_in
            dh_in = d_rh * r
        # z = sigma(a_z) ;  r = sigma(a_r)
        da[:, :H] = dz * sig.derivative(a_t[:, :H], z)
        da[:, H : 2 * H] = dr * sig.derivative(a_t[:, H : 2 * H], r)
        if reset_after:
            # hU = h_in @ W_hh + b_hh ;  a_z, a_r = x_zr + hU_zr
            dhU[t, :, : 2 * H] = da[:, : 2 * H]
            dh_in = dhU[t] @ W_hh.T
        else:
            # a_z, a_r = x_zr + h_in @ U_zr
            dh_in += da[:, : 2 * H] @ U_zr_T
        # h_in = h_prev * d
        if rec_dropout is not None:
            dh_in *= rec_dropout
        dh_prev += dh_in
        if zh is not None:
            dh_prev += dh_zone
        if mask is not None:
            dh_prev += dh_skip
        dh = dh_prev

    h_in = h_all[:T] if rec_dropout is None else h_all[:T] * rec_dropout
    h_in = h_in.reshape(T * B, H)
    db_hh = None
    if reset_after:
        # dW_hh = sum_t h_in_t^T dhU_t, one product over all steps; db_hh = sum of dhU
        dhU2 = dhU.reshape(T * B, G)
        dW_hh = h_in.T @ dhU2
        if has_b_hh:
            db_hh = dhU2.sum(axis=0)
    else:
        # dU_zr = sum_t h_in_t^T da_zr_t ;  dU_h = sum_t (r * h_in)_t^T da_h_t
        dxw2 = dxw.reshape(T * B, G)
        dW_hh = np.empty((H, G), dtype=dtype)
        dW_hh[:, : 2 * H] = h_in.T @ dxw2[:, : 2 * H]
        dW_hh[:, 2 * H :] = cand.reshape(T * B, H).T @ dxw2[:, 2 * H :]
    return dxw, dW_hh, db_hh, dh
