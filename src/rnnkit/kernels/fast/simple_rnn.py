"""Simple RNN forward and BPTT as compiled passes: the contract of
:mod:`rnnkit.kernels.simple_rnn`, for the activations tanh and relu, float32 and float64::

    forward   a_t = xw_t + h_in @ W_hh  (BLAS)  ;  h_t = act(a_t)
    backward  da_t = dh * act'(a_t), from h_t: 1 - h_t^2 (tanh) or [h_t > 0] (relu)
              dh_prev = (da_t @ W_hh^T) * r + dh_seq[t-1]   (BLAS, then one loop)

One Numba call per pass, one BLAS call per step. The cache is h (T+1, B, H) only: act'(a_t) is
recovered from ``h_t = act(a_t)`` at unmasked steps (masked ones get no gradient).

:func:`simple_rnn_forward_x` is the same forward from the inputs x (T, B, I), ``b + x_t @
W_ih`` made per step inside the loop (the layer's fast path); :func:`simple_rnn_infer` the
forward alone for inference (no cache, outputs written batch-first).
"""

import numpy as np
from numba import njit

from ..shapes import check_backward_grads
from ._lowlevel import (SMALL_MNK, gemm_rows, input_step, like, project_all_steps,
                        recurrent_step, tanh)
from .common import (Cache, forward_x_args, infer_args, mask_and_rec, matmul_split,
                     run_blocks, trace_buffer)

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")
TANH, RELU = 0, 1


@njit(**_JIT)
def _forward_pass(xw, x, W_ih, bias, from_x, W, h, mask, rec, use_rec, h_in, act, small, b0,
                  b1):
    # a_t goes to h[t + 1]: xw[t], or (from_x: x (T, B, I) time-major) bias + x_t @ W_ih
    # made here per step; then + h_in @ W_hh and the activation in place
    T, B, H = h.shape[0] - 1, h.shape[1], h.shape[2]
    I = x.shape[2]
    nb = b1 - b0
    zero = like(h, 0.0)
    for t in range(T):
        off = ((t + 1) * B + b0) * H
        if from_x:
            for b in range(b0, b1):
                a = h[t + 1, b]
                for j in range(H):
                    a[j] = bias[j]
            gemm_rows(nb, H, I, x, (t * B + b0) * I, I, W_ih, 0, H, 1.0, h, off, H, small)
        else:
            for b in range(b0, b1):
                a, xb = h[t + 1, b], xw[t, b]
                for j in range(H):
                    a[j] = xb[j]
        # h[t + 1, b0:b1] += h_in @ W_hh
        if use_rec:
            for b in range(b0, b1):
                hp, r, hi = h[t, b], rec[b], h_in[b]
                for j in range(H):
                    hi[j] = hp[j] * r[j]
            gemm_rows(nb, H, H, h_in, b0 * H, H, W, 0, H, 1.0, h, off, H, small)
        else:
            gemm_rows(nb, H, H, h, (t * B + b0) * H, H, W, 0, H, 1.0, h, off, H, small)
        for b in range(b0, b1):
            h_prev, h_t = h[t, b], h[t + 1, b]
            if not mask[t, b]:                   # padded step: carry the state through
                for j in range(H):
                    h_t[j] = h_prev[j]
            elif act == TANH:
                for j in range(H):
                    h_t[j] = tanh(h_t[j])
            else:
                for j in range(H):
                    h_t[j] = max(h_t[j], zero)


@njit(**_JIT)
def _backward_pass(dh_seq, WT, h, mask, rec, use_rec, dh, dxw, scratch, trace, use_trace, act,
                   small, b0, b1):
    T, B, H = dxw.shape
    one, zero = like(dxw, 1.0), like(dxw, 0.0)
    for b in range(b0, b1):
        dh_b, ds = dh[b], dh_seq[T - 1, b]
        for j in range(H):
            dh_b[j] += ds[j]
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            dh_b, da, y = dh[b], dxw[t, b], h[t + 1, b]
            if use_trace:                        # dL/dh_t in full, for diagnostics
                tr = trace[t, b]
                for j in range(H):
                    tr[j] = dh_b[j]
            if not mask[t, b]:                   # padded step: the gradient passes on
                for j in range(H):
                    da[j] = zero
            elif act == TANH:                    # h_t = tanh(a_t)
                for j in range(H):
                    da[j] = dh_b[j] * (one - y[j] * y[j])
            else:                                # h_t = relu(a_t)
                for j in range(H):
                    da[j] = dh_b[j] if y[j] > zero else zero
        # dh_prev = (da @ W_hh^T) * r + dh_seq[t - 1]
        gemm_rows(b1 - b0, H, H, dxw, (t * B + b0) * H, H, WT, 0, H,
                  0.0, scratch, b0 * H, H, small)
        for b in range(b0, b1):
            dh_b = dh[b]
            if mask[t, b]:
                s = scratch[b]
                if use_rec:
                    r = rec[b]
                    for j in range(H):
                        dh_b[j] = s[j] * r[j]
                else:
                    for j in range(H):
                        dh_b[j] = s[j]
            if t > 0:
                ds = dh_seq[t - 1, b]
                for j in range(H):
                    dh_b[j] += ds[j]


@njit(**_JIT)
def _infer_pass(x, W_ih, bias, xp, use_pre, W, h, u, z, out, write_out, zero_masked, mask,
                act, reverse, small, b0, b1):
    # forward only. x (B, T, I) batch-first (step t reads x[:, T-1-t] when reverse); h (B, H)
    # the state, updated in place; z (B, H), u (B, I) per-step scratch; mask (B, T) in input
    # order; out (B, T, H) in processing order
    B, T, I = x.shape
    H = W.shape[0]
    zero = like(x, 0.0)
    project_all_steps(x, W_ih, bias, xp, use_pre, small, b0, b1)
    for t in range(T):
        ts = T - 1 - t if reverse else t
        input_step(x, ts, W_ih, bias, xp, use_pre, u, z, small, b0, b1)  # z = b + x_t W_ih
        recurrent_step(h, W, z, small, b0, b1)               # z += h_prev @ W_hh
        for b in range(b0, b1):
            a, h_b = z[b], h[b]
            if not mask[b, ts]:
                pass
            elif act == TANH:
                for j in range(H):
                    h_b[j] = tanh(a[j])
            else:
                for j in range(H):
                    h_b[j] = max(a[j], zero)
            if write_out:
                o_bt = out[b, t]
                if mask[b, ts] or not zero_masked:
                    for j in range(H):
                        o_bt[j] = h_b[j]
                else:
                    for j in range(H):
                        o_bt[j] = zero


def simple_rnn_infer(x, W_ih, b, W_hh, h0, mask=None, activation=None, out=None,
                     zero_masked=False, reverse=False):
    """Forward only, from the inputs, keeping nothing for a backward pass (inference).

    The same recurrence as :func:`simple_rnn_forward`, ``h_t = act(b + x_t @ W_ih + h_prev @
    W_hh)`` computed step by step into a (B, H) buffer, h_t written straight into ``out``.

    Args:
        x: (B, T, I) inputs, batch-first.
        W_ih: (I, H) kernel; b: (H,) bias or None; W_hh: (H, H) recurrent kernel.
        h0: (B, H) initial state.
        mask: optional (B, T) bool in input order; masked steps carry the state through.
        activation: tanh or relu (an activation object with ``.name``; None means tanh).
        out: optional (B, T, H) C-contiguous array that receives h_t in processing order
            (zeros at masked steps with ``zero_masked``).
        reverse: process the steps T-1, ..., 0 (``go_backwards``).

    Returns:
        h_T: (B, H) final state (a new array).
    """
    name = getattr(activation, "name", "tanh")
    if name not in ("tanh", "relu"):
        raise ValueError(f"fast simple_rnn_infer: activation {name!r} is not supported")
    x, W_ih, bias, W, mask, u, xp, use_pre = infer_args(x, W_ih, b, W_hh, mask)
    B, T, _ = x.shape
    H = W.shape[0]
    h = np.array(h0, dtype=x.dtype)              # (B, H) state, updated in place
    z = np.empty((B, H), dtype=x.dtype)
    write_out = out is not None
    out_arg = out if write_out else h.reshape(B, 1, H)
    act = TANH if name == "tanh" else RELU

    def block(b0, b1):
        _infer_pass(x, W_ih, bias, xp, use_pre, W, h, u, z, out_arg, write_out,
                    bool(zero_masked), mask, act, bool(reverse), SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    return h


def simple_rnn_forward(xw, W_hh, h0, mask=None, rec_dropout=None, activation=None):
    """As :func:`rnnkit.kernels.simple_rnn.simple_rnn_forward` (tanh or relu)."""
    xw = np.ascontiguousarray(xw)
    T, B, H = xw.shape
    return _forward(xw, np.empty((T, B, 1), dtype=xw.dtype), None, None, False, W_hh, h0, mask,
                    rec_dropout, activation)


def simple_rnn_forward_x(x, W_ih, b, W_hh, h0, mask=None, rec_dropout=None, activation=None):
    """:func:`simple_rnn_forward` from the inputs: ``b + x_t @ W_ih`` is made per step inside
    the loop, straight into h_t's slot (BLAS in small-matrix tiles), instead of a (T, B, H)
    ``xw`` beforehand; batches of at most ``PRE_PROJECT_ROWS`` rows project all steps first.
    Same returns and cache.

    Args:
        x: (T, B, I) inputs, time-major (the layer's ``x_in``, dropout applied).
        W_ih: (I, H) kernel; b: (H,) bias or None.
        the rest: as :func:`simple_rnn_forward`.
    """
    x, W_ih, bias, xw = forward_x_args(x, W_ih, b, W_hh.shape[1])
    if xw is not None:
        return simple_rnn_forward(xw, W_hh, h0, mask, rec_dropout, activation)
    return _forward(None, x, W_ih, bias, True, W_hh, h0, mask, rec_dropout, activation)


def _forward(xw, x, W_ih, bias, from_x, W_hh, h0, mask, rec_dropout, activation):
    name = getattr(activation, "name", "tanh")
    if name not in ("tanh", "relu"):
        raise ValueError(f"fast simple_rnn_forward: activation {name!r} is not supported")
    act = TANH if name == "tanh" else RELU
    dtype = x.dtype
    W = np.ascontiguousarray(W_hh, dtype=dtype)
    T, B, _ = x.shape
    H = W.shape[0]
    h = np.empty((T + 1, B, H), dtype=dtype)     # h[t] is h_prev of step t
    h[0] = h0
    mask, rec, rec_arg = mask_and_rec(mask, rec_dropout, T, B, H, dtype)
    h_in = np.empty((B, H), dtype=dtype)
    if from_x:
        xw = h[:1, :1]                           # placeholders of the right types
    else:
        W_ih, bias = W[:1], W[0]

    def block(b0, b1):
        _forward_pass(xw, x, W_ih, bias, from_x, W, h, mask, rec_arg, rec is not None, h_in,
                      act, SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    cache = Cache(W=W, h=h, mask=mask, rec=rec, act=act)
    return h[1:], h[T].copy(), cache


def simple_rnn_backward(dh_seq, dh_T, cache, dh_trace=None):
    """As :func:`rnnkit.kernels.simple_rnn.simple_rnn_backward`."""
    W, h = cache.W, cache.h
    dtype = h.dtype
    T1, B, H = h.shape
    T = T1 - 1
    dh_seq = np.ascontiguousarray(dh_seq, dtype=dtype)
    check_backward_grads("simple_rnn_backward", dh_seq, (dh_T,), T, B, H)
    dh = np.zeros((B, H), dtype=dtype) if dh_T is None else np.array(dh_T, dtype=dtype)
    dxw = np.empty((T, B, H), dtype=dtype)
    scratch = np.empty((B, H), dtype=dtype)
    use_rec = cache.rec is not None
    rec_arg = cache.rec if use_rec else scratch
    trace = trace_buffer(dh_trace, scratch)
    WT = np.ascontiguousarray(W.T)               # BLAS is faster without transposes

    def block(b0, b1):
        _backward_pass(dh_seq, WT, h, cache.mask, rec_arg, use_rec, dh, dxw, scratch, trace,
                       dh_trace is not None, cache.act, SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    if dh_trace is not None and trace is not dh_trace:
        dh_trace[...] = trace
    h_in = h[:T] if not use_rec else h[:T] * cache.rec
    dW_hh = matmul_split(h_in.reshape(T * B, H).T, dxw.reshape(T * B, H),  # sum_t h_in^T da
                         np.empty((H, H), dtype=dtype))
    return dxw, dW_hh, dh
