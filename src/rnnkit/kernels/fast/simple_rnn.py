"""Simple RNN forward and BPTT as compiled passes: the contract of
:mod:`rnnkit.kernels.simple_rnn`, for the activations tanh and relu, float32 and float64::

    forward   a_t = xw_t + h_in @ W_hh   (BLAS)    h_in = h_prev * r  (h_prev without dropout)
              h_t = act(a_t)                              h_t = h_prev at padded steps
    backward  dh   = dh_seq[t] + (what flows back from step t+1)
              da_t = dh * act'(a_t), from h_t: 1 - h_t^2 (tanh) or [h_t > 0] (relu)
              dh_in = da_t @ W_hh^T  (BLAS) ;  dh_prev = dh_in * r   (dh passes on when padded)
              dW_hh = sum_t h_in^T da_t        (one product after the loop)

``dxw_t = da_t``: ``xw_t`` enters ``a_t`` with slope one. One Numba call per pass, one BLAS
call per step. The cache is h (T+1, B, H) only: act'(a_t) is recovered from ``h_t = act(a_t)``
at unmasked steps (masked ones get no gradient).

:func:`simple_rnn_forward_x` is the same forward from the inputs x (T, B, I), ``b + x_t @
W_ih`` made per step inside the loop (the layer's fast path); :func:`simple_rnn_infer` the
forward alone for inference (no cache, outputs written batch-first).

The compiled passes take their arrays packed by purpose: :class:`Weights`, what the pass
reads (:class:`ForwardIn`, :class:`BackwardIn`), what it writes (:class:`ForwardOut`,
:class:`BackwardOut`, :class:`InferState`), :class:`Options`, and the block of batch rows
``b0 <= b < b1`` it runs on (:func:`rnnkit.kernels.fast.common.run_blocks`). A field a pass does
not use holds a small placeholder of the right type. The packs are made as these namedtuples and
handed over as plain tuples (:func:`rnnkit.kernels.fast.common.plain`: numba calls them
faster), which each pass unpacks in the namedtuple's field order.
"""

import collections

import numpy as np
from numba import njit

from ..shapes import check_backward_grads
from ._lowlevel import (SMALL_MNK, gemm_rows, input_step, like, project_all_steps,
                        recurrent_step, tanh)
from .common import (Cache, forward_x_args, infer_args, mask_and_rec, matmul_split, plain,
                     run_blocks, trace_buffer)

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")
TANH, RELU = 0, 1

Weights = collections.namedtuple("Weights", "W_ih bias W_hh")
Weights.__doc__ = """The cell's weights: ``W_ih`` (I, H) kernel, ``bias`` (H,), ``W_hh`` (H, H)
recurrent kernel (placeholders for W_ih and bias where the forward starts from ``xw``)."""

ForwardIn = collections.namedtuple("ForwardIn", "xw x mask r")
ForwardIn.__doc__ = """What a training forward reads: ``xw`` (T, B, H) the input projections
``x_t @ W_ih + b``, or (``Options.from_x``) ``x`` (T, B, I) the inputs, time-major; ``mask``
(T, B) bool, False at padded steps; ``r`` (B, H) the recurrent-dropout multiplier."""

ForwardOut = collections.namedtuple("ForwardOut", "h h_in")
ForwardOut.__doc__ = """What a training forward writes: ``h`` (T+1, B, H), ``h[0]`` the given
initial state, ``h[t + 1]`` = h_t (also the cache); ``h_in`` (B, H) scratch, h_prev * r."""

BackwardIn = collections.namedtuple("BackwardIn", "dh_seq h mask r")
BackwardIn.__doc__ = """What the backward reads: ``dh_seq`` (T, B, H) dL/dh_t from the outputs;
the forward's ``h`` (T+1, B, H), ``mask`` (T, B) and ``r`` (B, H)."""

BackwardOut = collections.namedtuple("BackwardOut", "dh dxw dh_in dh_trace")
BackwardOut.__doc__ = """What the backward writes: ``dh`` (B, H) dL/dh_t through every path,
given dL/dh_T, left holding dL/dh0; ``dxw`` (T, B, H) = da_t; ``dh_in`` (B, H) scratch,
da_t @ W_hh^T; ``dh_trace`` (T, B, H) dL/dh_t of every step (``Options.use_trace``)."""

InferState = collections.namedtuple("InferState", "h out xp u a")
InferState.__doc__ = """What the forward-only pass writes: ``h`` (B, H) the state, in place;
``out`` (B, T, H) h_t in processing order (``Options.write_out``); ``xp`` (B, T, H) the input
projections of all steps (``Options.use_pre``); scratch ``u`` (B, I), a copy of x_t's row, and
``a`` (B, H), the pre-activation a_t."""

Options = collections.namedtuple("Options", "act small from_x use_r use_trace use_pre write_out "
                                            "zero_masked reverse")
Options.__doc__ = """Switches of the passes: ``act`` TANH or RELU; ``small`` the BLAS
small-matrix limit (:data:`rnnkit.kernels.fast._lowlevel.SMALL_MNK`); ``from_x`` the forward
projects x itself; ``use_r`` recurrent dropout; ``use_trace`` fill ``dh_trace``; inference:
``use_pre`` project all steps first, ``write_out`` fill ``out``, ``zero_masked`` zeros in ``out``
at padded steps, ``reverse`` run the steps T-1, ..., 0."""


def _options(act, from_x=False, use_r=False, use_trace=False, use_pre=False, write_out=False,
             zero_masked=False, reverse=False):
    return Options(act, SMALL_MNK, bool(from_x), bool(use_r), bool(use_trace), bool(use_pre),
                   bool(write_out), bool(zero_masked), bool(reverse))


@njit(**_JIT)
def _forward_pass(w, inp, out, opt, b0, b1):
    """Rows b0:b1 of the training forward (see the module docstring): ``w`` :class:`Weights`,
    ``inp`` :class:`ForwardIn`, ``out`` :class:`ForwardOut`, ``opt`` :class:`Options`."""
    W_ih, bias, W_hh = w                        # (I, H), (H,), (H, H)
    xw, x, mask, r = inp                        # (T, B, H), (T, B, I), (T, B), (B, H)
    h, h_in = out                               # (T+1, B, H), (B, H)
    act, small, from_x, use_r, use_trace, use_pre, write_out, zero_masked, reverse = opt
    T, B, H = h.shape[0] - 1, h.shape[1], h.shape[2]
    I = x.shape[2]
    nb = b1 - b0
    zero = like(h, 0.0)
    for t in range(T):
        off = ((t + 1) * B + b0) * H            # a_t is made in h[t + 1], then act in place
        if from_x:                              # a_t = b + x_t @ W_ih
            for b in range(b0, b1):
                a = h[t + 1, b]
                for j in range(H):
                    a[j] = bias[j]
            gemm_rows(nb, H, I, x, (t * B + b0) * I, I, W_ih, 0, H, 1.0, h, off, H, small)
        else:                                   # a_t = xw_t
            for b in range(b0, b1):
                a, xb = h[t + 1, b], xw[t, b]
                for j in range(H):
                    a[j] = xb[j]
        if use_r:                               # a_t += (h_prev * r) @ W_hh
            for b in range(b0, b1):
                hp, rb, hi = h[t, b], r[b], h_in[b]
                for j in range(H):
                    hi[j] = hp[j] * rb[j]
            gemm_rows(nb, H, H, h_in, b0 * H, H, W_hh, 0, H, 1.0, h, off, H, small)
        else:                                   # a_t += h_prev @ W_hh
            gemm_rows(nb, H, H, h, (t * B + b0) * H, H, W_hh, 0, H, 1.0, h, off, H, small)
        for b in range(b0, b1):
            h_prev, h_t = h[t, b], h[t + 1, b]
            if not mask[t, b]:                   # padded step: carry the state through
                for j in range(H):
                    h_t[j] = h_prev[j]
            elif act == TANH:                    # h_t = tanh(a_t)
                for j in range(H):
                    h_t[j] = tanh(h_t[j])
            else:                                # h_t = relu(a_t)
                for j in range(H):
                    h_t[j] = max(h_t[j], zero)


@njit(**_JIT)
def _backward_pass(W_hhT, inp, out, opt, b0, b1):
    """Rows b0:b1 of BPTT (see the module docstring): ``W_hhT`` (H, H), ``inp``
    :class:`BackwardIn`, ``out`` :class:`BackwardOut`, ``opt`` :class:`Options`."""
    dh_seq, h, mask, r = inp                     # (T, B, H), (T+1, B, H), (T, B), (B, H)
    dh, dxw, dh_in, dh_trace = out               # (B, H), (T, B, H), (B, H), (T, B, H)
    act, small, from_x, use_r, use_trace, use_pre, write_out, zero_masked, reverse = opt
    T, B, H = dxw.shape
    one, zero = like(dxw, 1.0), like(dxw, 0.0)
    for b in range(b0, b1):                      # dh = dL/dh_T + dh_seq[T - 1]
        dh_b, ds = dh[b], dh_seq[T - 1, b]
        for j in range(H):
            dh_b[j] += ds[j]
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            dh_b, da, h_t = dh[b], dxw[t, b], h[t + 1, b]
            if use_trace:                        # dL/dh_t in full, for diagnostics
                tr = dh_trace[t, b]
                for j in range(H):
                    tr[j] = dh_b[j]
            if not mask[t, b]:                   # padded step: the gradient passes on
                for j in range(H):
                    da[j] = zero
            elif act == TANH:                    # h_t = tanh(a_t): da = dh (1 - h_t^2)
                for j in range(H):
                    da[j] = dh_b[j] * (one - h_t[j] * h_t[j])
            else:                                # h_t = relu(a_t): da = dh [h_t > 0]
                for j in range(H):
                    da[j] = dh_b[j] if h_t[j] > zero else zero
        # dh_in = da_t @ W_hh^T
        gemm_rows(b1 - b0, H, H, dxw, (t * B + b0) * H, H, W_hhT, 0, H,
                  0.0, dh_in, b0 * H, H, small)
        for b in range(b0, b1):                  # dh_prev = dh_in * r + dh_seq[t - 1]
            dh_b = dh[b]
            if mask[t, b]:
                dhi = dh_in[b]
                if use_r:
                    rb = r[b]
                    for j in range(H):
                        dh_b[j] = dhi[j] * rb[j]
                else:
                    for j in range(H):
                        dh_b[j] = dhi[j]
            if t > 0:
                ds = dh_seq[t - 1, b]
                for j in range(H):
                    dh_b[j] += ds[j]


@njit(**_JIT)
def _infer_pass(w, x, mask, state, opt, b0, b1):
    """Rows b0:b1 of the forward-only pass: ``w`` :class:`Weights`, ``x`` (B, T, I)
    batch-first (step t reads ``x[:, T-1-t]`` with ``reverse``), ``mask`` (B, T) bool in
    input order, ``state`` :class:`InferState` (``out`` in processing order), ``opt``
    :class:`Options`."""
    W_ih, bias, W_hh = w                        # (I, H), (H,), (H, H)
    h, out, xp, u, a = state                    # (B, H), (B, T, H), (B, T, H), (B, I), (B, H)
    act, small, from_x, use_r, use_trace, use_pre, write_out, zero_masked, reverse = opt
    B, T, I = x.shape
    H = W_hh.shape[0]
    zero = like(x, 0.0)
    project_all_steps(x, W_ih, bias, xp, use_pre, small, b0, b1)
    for t in range(T):
        ts = T - 1 - t if reverse else t
        input_step(x, ts, W_ih, bias, xp, use_pre, u, a, small, b0, b1)  # a = b + x_t W_ih
        recurrent_step(h, W_hh, a, small, b0, b1)                        # a += h_prev W_hh
        for b in range(b0, b1):
            a_b, h_b = a[b], h[b]
            if not mask[b, ts]:                  # padded step: the state stays
                pass
            elif act == TANH:
                for j in range(H):
                    h_b[j] = tanh(a_b[j])
            else:
                for j in range(H):
                    h_b[j] = max(a_b[j], zero)
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
    x, W_ih, bias, W_hh, mask, u, xp, use_pre = infer_args(x, W_ih, b, W_hh, mask)
    B, T, _ = x.shape
    H = W_hh.shape[0]
    h = np.array(h0, dtype=x.dtype)              # (B, H) state, updated in place
    a = np.empty((B, H), dtype=x.dtype)          # (B, H) pre-activation a_t
    write_out = out is not None
    state = InferState(h, out if write_out else h.reshape(B, 1, H), xp, u, a)
    opt = _options(TANH if name == "tanh" else RELU, use_pre=use_pre, write_out=write_out,
                   zero_masked=zero_masked, reverse=reverse)
    args = (tuple(Weights(W_ih, bias, W_hh)), x, mask) + plain(state, opt)

    def block(b0, b1):
        _infer_pass(*args, b0, b1)

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
    """The training forward from ``xw`` (T, B, H), or with ``from_x`` from ``x`` (T, B, I),
    ``W_ih`` (I, H) and ``bias`` (H,); the unused ones are replaced by placeholders."""
    name = getattr(activation, "name", "tanh")
    if name not in ("tanh", "relu"):
        raise ValueError(f"fast simple_rnn_forward: activation {name!r} is not supported")
    act = TANH if name == "tanh" else RELU
    dtype = x.dtype
    W_hh = np.ascontiguousarray(W_hh, dtype=dtype)      # (H, H)
    T, B, _ = x.shape
    H = W_hh.shape[0]
    h = np.empty((T + 1, B, H), dtype=dtype)     # h[t] is h_prev of step t
    h[0] = h0
    mask, r, r_arg = mask_and_rec(mask, rec_dropout, T, B, H, dtype)   # (T, B), (B, H)
    h_in = np.empty((B, H), dtype=dtype)         # (B, H) h_prev * r
    if from_x:
        xw = h[:1, :1]                           # placeholders of the right types
    else:
        W_ih, bias = W_hh[:1], W_hh[0]
    args = plain(Weights(W_ih, bias, W_hh), ForwardIn(xw, x, mask, r_arg), ForwardOut(h, h_in),
                 _options(act, from_x=from_x, use_r=r is not None))

    def block(b0, b1):
        _forward_pass(*args, b0, b1)

    run_blocks(block, B, H)
    cache = Cache(W_hh=W_hh, h=h, mask=mask, r=r, act=act)
    return h[1:], h[T].copy(), cache


def simple_rnn_backward(dh_seq, dh_T, cache, dh_trace=None):
    """As :func:`rnnkit.kernels.simple_rnn.simple_rnn_backward`."""
    h, r = cache.h, cache.r                      # (T+1, B, H), (B, H) or None
    dtype = h.dtype
    T1, B, H = h.shape
    T = T1 - 1
    dh_seq = np.ascontiguousarray(dh_seq, dtype=dtype)
    check_backward_grads("simple_rnn_backward", dh_seq, (dh_T,), T, B, H)
    dh = np.zeros((B, H), dtype=dtype) if dh_T is None else np.array(dh_T, dtype=dtype)
    dxw = np.empty((T, B, H), dtype=dtype)       # (T, B, H) da_t
    dh_in = np.empty((B, H), dtype=dtype)        # (B, H) da_t @ W_hh^T
    trace = trace_buffer(dh_trace, dh_in)        # (T, B, H), or a placeholder
    W_hhT = np.ascontiguousarray(cache.W_hh.T)   # BLAS is faster without transposes
    args = (W_hhT,) + plain(BackwardIn(dh_seq, h, cache.mask, dh_in if r is None else r),
                            BackwardOut(dh, dxw, dh_in, trace),
                            _options(cache.act, use_r=r is not None,
                                     use_trace=dh_trace is not None))

    def block(b0, b1):
        _backward_pass(*args, b0, b1)

    run_blocks(block, B, H)
    if dh_trace is not None and trace is not dh_trace:
        dh_trace[...] = trace
    h_in = h[:T] if r is None else h[:T] * r
    dW_hh = matmul_split(h_in.reshape(T * B, H).T, dxw.reshape(T * B, H),  # sum_t h_in^T da
                         np.empty((H, H), dtype=dtype))
    return dxw, dW_hh, dh
