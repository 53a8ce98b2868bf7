"""GRU forward and BPTT as compiled passes: the contract of :mod:`rnnkit.kernels.gru`, both
reset_after modes, default activations (tanh, sigmoid), float32 and float64.

Gate blocks z, r, h as the reference. One Numba call per pass; per step::

    reset_after=True                              reset_after=False
      hU = h_in @ W_hh            (1 BLAS call)     a_zr = h_in @ U_zr          (BLAS)
      z, r = sigmoid(xw_zr + hU_zr + b_zr)          z, r = sigmoid(xw_zr + a_zr)
      cand = hU_h + b_h                             cand = r * h_in
      hh = tanh(xw_h + r * cand)                    hh = tanh(xw_h + cand @ U_h)  (BLAS)
    h_t = hh + z * (h_prev - hh)  (= z h_prev + (1 - z) hh)
    zoneout: h_t = zh h_prev + (1 - zh) h_t   (keep-mask zh (T, B, H), when given)

Backward, per step (``dh`` includes dh_seq[t]):
    dz = dh (h_prev - hh) ; da_h = dh (1 - z)(1 - hh^2) ; dh_prev = dh z + dh_in d
    reset_after=True:  dr = da_h cand ; dhU = (da_z, da_r, da_h r) ;  dh_in = dhU @ W_hh^T
    reset_after=False: d_rh = da_h @ U_h^T (BLAS) ; dr = d_rh h_in ;
                       dh_in = d_rh r + da_zr @ U_zr^T (BLAS)
With zoneout ``dh`` is first split: ``dh (1 - zh)`` goes through the cell as above, ``dh zh``
straight to h_prev. Gate gradients are written over the gate activations (that buffer is
returned as ``dxw``) and, with reset_after, ``da_h r`` over ``cand``; a cache therefore
serves one backward only.
``dW_hh`` (and ``db_hh``) are products/sums after the loop.

:func:`gru_forward_x` is the same forward from the inputs x (T, B, I), the input projection
``b_ih + x_t @ W_ih`` made per step inside the loop (the layer's fast path); :func:`gru_infer`
the forward alone for inference (no cache, outputs written batch-first), in
:mod:`rnnkit.kernels.fast.gru_infer` and re-exported here.
"""

import numpy as np
from numba import njit

from ..shapes import check_backward_grads
from ._lowlevel import SMALL_MNK, gemm_rows, like, sigmoid, tanh
from .common import (Cache, Dropout, StepInputs, Trace, forward_x_args, mask_and_rec,
                     matmul_split, run_blocks, trace_buffer)
from .gru_infer import gru_infer  # noqa: F401 - the forward-only pass, re-exported here
from .zoneout import zoneout, zoneout_backward, zoneout_masks

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")


@njit(**_JIT)
def _input_rows(h, t, rec, use_rec, h_in, b0, b1):
    """Offset of h_in's rows b0.. in the array returned: h[t] itself, or h[t] * r in h_in."""
    B, H = h.shape[1], h.shape[2]
    if not use_rec:
        return h, (t * B + b0) * H
    for b in range(b0, b1):
        hp, r, hi = h[t, b], rec[b], h_in[b]
        for j in range(H):
            hi[j] = hp[j] * r[j]
    return h_in.reshape(1, B, H), b0 * H


@njit(**_JIT)
def _forward_pass(src, xs, W, b_hh, h, gates, cand, mask, drop, zone, h_in, reset_after, small,
                  b0, b1):
    # src: StepInputs, the step's input projections read from src.xw[t] (T, B, 3H), or (from_x:
    # src.x (T, B, I) time-major, src.W_ih (I, 3H), src.bias = b_ih (3H,)) computed here per
    # step into xs (B, 3H): b_ih + x_t @ W_ih; W = W_hh (H, 3H); b_hh (3H,); h (T+1, B, H);
    # gates (T, B, 3H) out: z, r, hh; cand (T, B, H) out: hU_h + b_h (reset_after) or
    # r * h_in; mask (T, B); drop: Dropout (drop.r (B, H) when drop.on); zone: Zoneout,
    # keep-mask zone.h (T, B, H) when zone.on_h; h_in (B, H) scratch for h_prev * r
    T, B, G = gates.shape
    H = G // 3
    xw, x, W_ih, b_ih, from_x = src
    rec, use_rec = drop
    I = x.shape[2]
    nb = b1 - b0
    for t in range(T):
        if from_x:
            for b in range(b0, b1):
                xb = xs[b]
                for j in range(G):
                    xb[j] = b_ih[j]
            gemm_rows(nb, G, I, x, (t * B + b0) * I, I, W_ih, 0, G, 1.0, xs, b0 * G, G, small)
            xt = xs
        else:
            xt = xw[t]
        h_src, off = _input_rows(h, t, rec, use_rec, h_in, b0, b1)
        if reset_after:
            # hU = h_in @ W_hh  (into the gate buffer; the bias is added below)
            gemm_rows(nb, G, H, h_src, off, H, W, 0, G, 0.0, gates, (t * B + b0) * G, G, small)
            for b in range(b0, b1):
                if not mask[t, b]:
                    continue
                a, xr, cd = gates[t, b], xt[b], cand[t, b]
                for j in range(2 * H):                       # z, r
                    a[j] = sigmoid(a[j] + xr[j] + b_hh[j])
                for j in range(H):                           # hh = tanh(x_h + r * (hU_h + b_h))
                    cj = a[2 * H + j] + b_hh[2 * H + j]
                    cd[j] = cj
                    a[2 * H + j] = tanh(xr[2 * H + j] + a[H + j] * cj)
        else:
            # a_zr = h_in @ U_zr
            gemm_rows(nb, 2 * H, H, h_src, off, H, W, 0, G, 0.0, gates, (t * B + b0) * G, G,
                      small)
            for b in range(b0, b1):
                a, xr, cd = gates[t, b], xt[b], cand[t, b]
                for j in range(2 * H):                       # z, r
                    a[j] = sigmoid(a[j] + xr[j])
                hi = h_src[0 if use_rec else t, b]
                for j in range(H):                           # cand = r * h_in
                    cd[j] = a[H + j] * hi[j]
            # a_h = cand @ U_h
            gemm_rows(nb, H, H, cand, (t * B + b0) * H, H, W, 2 * H, G,
                      0.0, gates, (t * B + b0) * G + 2 * H, G, small)
            for b in range(b0, b1):
                if not mask[t, b]:
                    continue
                a, xr = gates[t, b], xt[b]
                for j in range(2 * H, 3 * H):                # hh
                    a[j] = tanh(a[j] + xr[j])
        for b in range(b0, b1):
            h_prev, h_t = h[t, b], h[t + 1, b]
            if not mask[t, b]:                   # padded step: carry the state through
                for j in range(H):
                    h_t[j] = h_prev[j]
                continue
            a = gates[t, b]
            z, hh = a[:H], a[2 * H:]
            if zone.on_h:                        # h_t = zh h_prev + (1 - zh) h~
                zh = zone.h[t, b]
                for j in range(H):
                    hj = hh[j] + z[j] * (h_prev[j] - hh[j])          # h~
                    h_t[j] = zoneout(zh[j], hj, h_prev[j])
            else:
                for j in range(H):
                    h_t[j] = hh[j] + z[j] * (h_prev[j] - hh[j])


@njit(**_JIT)
def _backward_pass(dh_seq, WT, h, gates, cand, mask, drop, zone, dh, scratch, tr_dh,
                   reset_after, small, b0, b1):
    # WT = W_hh^T (3H, H): rows [0, 2H) are U_zr^T, rows [2H, 3H) U_h^T
    # dh_seq (T, B, H); h (T+1, B, H); gates (T, B, 3H) activations z, r, hh in, their
    # pre-activation gradients out; cand (T, B, H) (reset_after: hU_h + b_h in, dhU_h out);
    # mask (T, B); drop: Dropout (drop.r (B, H) when drop.on); zone: Zoneout (keep-mask
    # zone.h (T, B, H)); dh (B, H): on entry dL/dh_T from outside, on exit dL/dh_0;
    # scratch (B, H) dL/dh_in of the step; tr_dh: Trace, tr_dh.dh (T, B, H) gets dL/dh_t
    T, B, G = gates.shape
    H = G // 3
    rec, use_rec = drop
    trace, use_trace = tr_dh
    nb = b1 - b0
    one, zero = like(gates, 1.0), like(gates, 0.0)
    for b in range(b0, b1):
        dh_b, ds = dh[b], dh_seq[T - 1, b]
        for j in range(H):
            dh_b[j] += ds[j]
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            dh_b, da, cd = dh[b], gates[t, b], cand[t, b]
            if use_trace:                        # dL/dh_t in full, for diagnostics
                tr = trace[t, b]
                for j in range(H):
                    tr[j] = dh_b[j]
            if not mask[t, b]:                   # padded step: the gradient passes on
                for j in range(G):
                    da[j] = zero
                for j in range(H):
                    cd[j] = zero
                continue
            h_prev = h[t, b]
            # dL/d(pre-activation) of z, r, hh, (H,) each, written over the activations
            da_z, da_r, da_h = da[:H], da[H:2 * H], da[2 * H:]
            if zone.on_h:
                zh = zone.h[t, b]                                 # (H,) keep-mask
                for j in range(H):
                    zj, hhj = da_z[j], da_h[j]                    # activations z, hh first
                    # h_t = zh h_prev + (1 - zh) h~
                    dhj, keep = zoneout_backward(zh[j], dh_b[j])
                    # h~ = hh + z (h_prev - hh) ; hh = tanh(a_h)
                    da_z[j] = dhj * (h_prev[j] - hhj) * zj * (one - zj)
                    da_h[j] = dhj * (one - zj) * (one - hhj * hhj)
                    dh_b[j] = dhj * zj + keep                     # direct paths to h_prev
            else:
                for j in range(H):
                    zj, hhj, dhj = da_z[j], da_h[j], dh_b[j]      # activations z, hh first
                    # h_t = hh + z (h_prev - hh) ; hh = tanh(a_h)
                    da_z[j] = dhj * (h_prev[j] - hhj) * zj * (one - zj)
                    da_h[j] = dhj * (one - zj) * (one - hhj * hhj)
                    dh_b[j] = dhj * zj                            # direct path to h_prev
            if reset_after:
                # a_h = x_h + r * cand ;  hU_h = cand - b_h ; cd: cand in, dhU_h out
                for j in range(H):
                    rj = da_r[j]                                  # the activation r
                    da_r[j] = da_h[j] * cd[j] * rj * (one - rj)
                    cd[j] = da_h[j] * rj                          # dhU_h
        if reset_after:
            # dh_in = dhU @ W_hh^T = da_zr @ W_zr^T + dhU_h @ W_h^T
            gemm_rows(nb, H, 2 * H, gates, (t * B + b0) * G, G, WT, 0, H,
                      0.0, scratch, b0 * H, H, small)
            gemm_rows(nb, H, H, cand, (t * B + b0) * H, H, WT, 2 * H * H, H,
                      1.0, scratch, b0 * H, H, small)
        else:
            # a_h = x_h + (r * h_in) @ U_h :  d(r h_in) = da_h @ U_h^T
            gemm_rows(nb, H, H, gates, (t * B + b0) * G + 2 * H, G, WT, 2 * H * H, H,
                      0.0, scratch, b0 * H, H, small)
            for b in range(b0, b1):
                if not mask[t, b]:
                    continue
                s, da_r, h_prev = scratch[b], gates[t, b, H:2 * H], h[t, b]   # (H,) each
                d = rec[b] if use_rec else rec[0]
                for j in range(H):
                    hij = h_prev[j] * d[j] if use_rec else h_prev[j]
                    rj = da_r[j]                                  # the activation r
                    da_r[j] = s[j] * hij * rj * (one - rj)
                    s[j] = s[j] * rj                              # d h_in, through r * h_in
            # a_zr = x_zr + h_in @ U_zr :  d h_in += da_zr @ U_zr^T
            gemm_rows(nb, H, 2 * H, gates, (t * B + b0) * G, G, WT, 0, H,
                      1.0, scratch, b0 * H, H, small)
        # dh_prev = dh z + dh_in * d + dh_seq[t - 1]   (masked rows: dh_in is 0)
        for b in range(b0, b1):
            dh_b, s = dh[b], scratch[b]
            if use_rec:
                d = rec[b]
                for j in range(H):
                    dh_b[j] += s[j] * d[j]
            else:
                for j in range(H):
                    dh_b[j] += s[j]
            if t > 0:
                ds = dh_seq[t - 1, b]
                for j in range(H):
                    dh_b[j] += ds[j]


def gru_forward(xw, W_hh, b_hh, h0, mask=None, rec_dropout=None, reset_after=True,
                activation=None, recurrent_activation=None, zh=None):
    """As :func:`rnnkit.kernels.gru.gru_forward` (default activations only)."""
    if b_hh is not None and not reset_after:
        raise ValueError("gru_forward: a recurrent bias b_hh exists only with reset_after=True")
    xw = np.ascontiguousarray(xw)
    T, B, G = xw.shape
    return _forward(xw, np.empty((T, B, 1), dtype=xw.dtype), None, None, False, W_hh, b_hh, h0,
                    mask, rec_dropout, reset_after, zh)


def gru_forward_x(x, W_ih, b_ih, W_hh, b_hh, h0, mask=None, rec_dropout=None, reset_after=True,
                  zh=None):
    """:func:`gru_forward` from the inputs: the input projection ``b_ih + x_t @ W_ih`` is made
    per step inside the loop into a (B, 3H) buffer (BLAS in small-matrix tiles) instead of a
    (T, B, 3H) ``xw`` beforehand; batches of at most ``PRE_PROJECT_ROWS`` rows project all
    steps first. Same returns and cache as :func:`gru_forward`.

    Args:
        x: (T, B, I) inputs, time-major (the layer's ``x_in``, dropout applied).
        W_ih: (I, 3H) kernel; b_ih: (3H,) input bias or None.
        the rest: as :func:`gru_forward`.
    """
    if b_hh is not None and not reset_after:
        raise ValueError("gru_forward_x: a recurrent bias b_hh exists only with reset_after=True")
    x, W_ih, b_ih, xw = forward_x_args(x, W_ih, b_ih, W_hh.shape[1])
    if xw is not None:
        return gru_forward(xw, W_hh, b_hh, h0, mask, rec_dropout, reset_after, zh=zh)
    return _forward(None, x, W_ih, b_ih, True, W_hh, b_hh, h0, mask, rec_dropout, reset_after,
                    zh)


def _forward(xw, x, W_ih, b_ih, from_x, W_hh, b_hh, h0, mask, rec_dropout, reset_after, zh):
    dtype = x.dtype
    W = np.ascontiguousarray(W_hh, dtype=dtype)
    T, B, _ = x.shape
    H, G = W.shape
    bias = np.zeros(G, dtype=dtype) if b_hh is None else np.ascontiguousarray(b_hh, dtype=dtype)
    h = np.empty((T + 1, B, H), dtype=dtype)     # h[t] is h_prev of step t
    h[0] = h0
    gates = np.empty((T, B, G), dtype=dtype)     # z, r, hh
    cand = np.empty((T, B, H), dtype=dtype)      # hU_h + b_h (reset_after) or r * h_in
    mask, rec, rec_arg = mask_and_rec(mask, rec_dropout, T, B, H, dtype)
    zone = zoneout_masks(zh, None, T, B, H, dtype)  # keep-mask (T, B, H) or a placeholder
    h_in = np.empty((B, H), dtype=dtype)
    xs = np.empty((B, G) if from_x else (1, G), dtype=dtype)   # (B, 3H) step projections
    if from_x:
        xw = gates[:1, :1]                       # placeholders of the right types
    else:
        W_ih, b_ih = W[:1], bias
    src = StepInputs(xw, x, W_ih, b_ih, from_x)
    drop = Dropout(rec_arg, rec is not None)     # (B, H) mask, or a placeholder

    def block(b0, b1):
        _forward_pass(src, xs, W, bias, h, gates, cand, mask, drop, zone, h_in,
                      bool(reset_after), SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    cache = Cache(W=W, has_b_hh=b_hh is not None, reset_after=bool(reset_after), h=h,
                  gates=gates, cand=cand, mask=mask, rec=rec, zone=zone)
    return h[1:], h[T].copy(), cache


def gru_backward(dh_seq, dh_T, cache, dh_trace=None):
    """As :func:`rnnkit.kernels.gru.gru_backward`."""
    cache.consume("gru_backward")
    W, h, gates, cand = cache.W, cache.h, cache.gates, cache.cand
    dtype = gates.dtype
    T, B, G = gates.shape
    H = G // 3
    dh_seq = np.ascontiguousarray(dh_seq, dtype=dtype)
    check_backward_grads("gru_backward", dh_seq, (dh_T,), T, B, H)
    dh = np.zeros((B, H), dtype=dtype) if dh_T is None else np.array(dh_T, dtype=dtype)
    scratch = np.empty((B, H), dtype=dtype)
    use_rec = cache.rec is not None
    drop = Dropout(cache.rec if use_rec else scratch, use_rec)
    trace = trace_buffer(dh_trace, scratch)      # (T, B, H), or a placeholder
    WT = np.ascontiguousarray(W.T)               # (3H, H): BLAS is faster without transposes

    def block(b0, b1):
        _backward_pass(dh_seq, WT, h, gates, cand, cache.mask, drop, cache.zone, dh, scratch,
                       Trace(trace, dh_trace is not None), cache.reset_after, SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    if dh_trace is not None and trace is not dh_trace:
        dh_trace[...] = trace
    dxw = gates                                  # gate gradients, written over the gates
    dxw2 = dxw.reshape(T * B, G)
    h_in = (h[:T] if not use_rec else h[:T] * cache.rec).reshape(T * B, H)
    dW_hh = np.empty((H, G), dtype=dtype)
    db_hh = None
    if cache.reset_after:
        # dhU = (da_z, da_r, da_h r): its h block was written over cand
        dhU_h = cand.reshape(T * B, H)
        matmul_split(h_in.T, dxw2[:, :2 * H], dW_hh[:, :2 * H])
        matmul_split(h_in.T, dhU_h, dW_hh[:, 2 * H:])
        if cache.has_b_hh:
            db_hh = np.concatenate([dxw2[:, :2 * H].sum(axis=0), dhU_h.sum(axis=0)])
    else:
        # dU_zr = sum_t h_in^T da_zr ;  dU_h = sum_t (r h_in)^T da_h
        matmul_split(h_in.T, dxw2[:, :2 * H], dW_hh[:, :2 * H])
        matmul_split(cand.reshape(T * B, H).T, dxw2[:, 2 * H:], dW_hh[:, 2 * H:])
    cache.gates = cache.h = cache.cand = None
    return dxw, dW_hh, db_hh, dh
