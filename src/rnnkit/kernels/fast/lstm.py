"""LSTM forward and BPTT as compiled passes: the contract of :mod:`rnnkit.kernels.lstm`.

Same equations, gate order (i, f, g, o), arguments and returns as the reference kernel, for the
default activations (tanh, sigmoid) in float32 and float64. Each pass over the sequence is one
Numba call (no Python per step); per step it makes one BLAS call for the recurrent product
(a hand loop for a one-row block) and runs the gate math row by row in short loops that LLVM
vectorises::

    forward   gates_t = xw_t + h_in @ W_hh          (BLAS beta=1, h_in = h_prev or h_prev * r)
              i, f, o = sigmoid(gates_t), g = tanh(gates_t)            (in place)
              c_t = f * c_prev + i * g ;  h_t = o * tanh(c_t)
              zoneout: c_t = zc c_prev + (1 - zc) c_t ; h_t = zh h_prev + (1 - zh) h_t
    backward  dh = dh_seq[t] + (dz_{t+1} @ W_hh^T) * r       (BLAS, then one fused loop)
              tc = tanh(c_t) (recomputed, not stored)
              dc += dh * o * (1 - tc^2) ; dz_o = dh * tc * o(1-o)
              dz_i = dc * g * i(1-i) ; dz_f = dc * c_prev * f(1-f) ; dz_g = dc * i * (1-g^2)
              dc_prev = dc * f
              zoneout: first dh, dc split into the parts through h~, c~ (times 1 - z) and
              the parts kept for h_prev, c_prev (times z); tanh(c~) from c~ = f c_prev + i g

Zoneout's keep-masks ``zh``, ``zc`` (T, B, H) travel as one argument
(:class:`rnnkit.kernels.fast.zoneout.Zoneout`); where they are None the passes run exactly
as without zoneout. The cache holds h (T+1, B, H), c (T+1, B, H) and the gate activations
(T, B, 4H). Backward writes the gate gradients over the activations and returns that buffer
as ``dxw``, so a cache serves one backward only (a second call raises). ``dW_hh = H_in^T
dxw`` is one product after the loop. A batch can be split in row blocks ``[b0, b1)``: the
passes touch only their rows, so two threads can each run a block (see
:func:`rnnkit.kernels.fast.common.run_blocks`).

:func:`lstm_forward_x` is the same forward from the inputs x (T, B, I): ``gates_t = b +
x_t @ W_ih`` is made per step inside the loop (no (T, B, 4H) ``xw`` made beforehand); the layer
uses it on the fast path.

:func:`lstm_infer` is the forward pass alone, for inference (no backward follows), from the
inputs: per step ``z = b + x_t @ W_ih + h_prev @ W_hh`` in one (B, 4H) buffer, no cache, h_t
written batch-first into the layer's output; a single row per thread uses a hand-written
product (:func:`rnnkit.kernels.fast._lowlevel.vecmat_add`) instead of BLAS.
"""

import numpy as np
from numba import njit

from ..shapes import check_backward_grads
from ._lowlevel import (SMALL_MNK, gemm_rows, input_step, like, project_all_steps,
                        recurrent_step, sigmoid, tanh)
from .common import (Cache, Dropout, InferInputs, InferOutput, StepInputs, Trace,
                     forward_x_args, infer_args, mask_and_rec, matmul_split, run_blocks,
                     trace_buffer)
from .zoneout import zoneout, zoneout_backward, zoneout_masks, zoneout_probs

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")


@njit(**_JIT)
def _forward_pass(src, W, h, c, gates, mask, drop, zone, h_in, small, b0, b1):
    # src: StepInputs, src.xw (T, B, 4H), or (src.from_x) src.x (T, B, I) time-major with
    #   src.W_ih (I, 4H) and src.bias (4H,); W = W_hh (H, 4H);
    # h, c (T+1, B, H) states, slot 0 the initial ones; gates (T, B, 4H) out: activations;
    # mask (T, B); drop: Dropout, drop.r (B, H) the recurrent dropout mask when drop.on;
    # zone: Zoneout, keep-masks zone.h, zone.c (T, B, H); h_in (B, H) scratch for h_prev * r
    # the step's pre-activations go to gates[t]: xw[t] (from_x False), or bias + x_t @ W_ih
    # (from_x: the input projection done here per step), then + h_in @ W_hh; the gate loop
    # turns them into the activations in place
    T, B, G = gates.shape
    H = G // 4
    xw, x, W_ih, bias, from_x = src
    rec, use_rec = drop
    I = x.shape[2]
    nb = b1 - b0
    on_h, on_c = zone.on_h, zone.on_c
    for t in range(T):
        off = (t * B + b0) * G
        if from_x:
            for b in range(b0, b1):
                a = gates[t, b]
                for j in range(G):
                    a[j] = bias[j]
            gemm_rows(nb, G, I, x, (t * B + b0) * I, I, W_ih, 0, G, 1.0, gates, off, G, small)
        else:
            for b in range(b0, b1):
                a, xb = gates[t, b], xw[t, b]
                for j in range(G):
                    a[j] = xb[j]
        # gates[t, b0:b1] += h_in @ W_hh  (BLAS; a hand loop for one row)
        if use_rec:
            for b in range(b0, b1):
                hp, r, hi = h[t, b], rec[b], h_in[b]
                for j in range(H):
                    hi[j] = hp[j] * r[j]
            recurrent_step(h_in, W, gates[t], small, b0, b1)
        else:
            recurrent_step(h[t], W, gates[t], small, b0, b1)
        for b in range(b0, b1):
            c_prev, c_t, h_prev, h_t = c[t, b], c[t + 1, b], h[t, b], h[t + 1, b]
            if not mask[t, b]:                   # padded step: carry the state through
                for j in range(H):
                    c_t[j] = c_prev[j]
                    h_t[j] = h_prev[j]
                continue
            a = gates[t, b]
            i, f, g, o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            zh = zone.h[t, b] if on_h else zone.h[0, 0]          # (H,) keep-masks
            zc = zone.c[t, b] if on_c else zone.c[0, 0]
            for j in range(H):                   # one fused loop: 2x faster than one per gate
                ij = sigmoid(i[j])
                fj = sigmoid(f[j])
                gj = tanh(g[j])
                oj = sigmoid(o[j])
                i[j], f[j], g[j], o[j] = ij, fj, gj, oj
                cj = fj * c_prev[j] + ij * gj    # c~ = f * c_prev + i * g
                hj = oj * tanh(cj)               # h~ = o * tanh(c~)
                c_t[j] = zoneout(zc[j], cj, c_prev[j]) if on_c else cj
                h_t[j] = zoneout(zh[j], hj, h_prev[j]) if on_h else hj


@njit(**_JIT)
def _zoneout_step_backward(dz_i, dz_f, dz_g, dz_o, dh_b, dc_b, c_prev, c_t, zone, t, b):
    """The gate loop of :func:`_backward_pass` for one row under zoneout: dh_b, dc_b (H,)
    (dL/dh_t, dL/dc_t) are split into the parts through h~, c~ and the parts kept for h_prev,
    c_prev; tanh(c~) from c~ = f c_prev + i g (c_t is its blend). dz_* (H,) hold the
    activations on entry and their pre-activation gradients on exit; dc_b gets dL/dc_prev,
    dh_b the kept part of dL/dh_prev (the pass adds the product's part)."""
    H = dh_b.shape[0]
    one = like(dh_b, 1.0)
    on_h, on_c = zone.on_h, zone.on_c
    zh = zone.h[t, b] if on_h else zone.h[0, 0]                  # (H,) keep-masks
    zc = zone.c[t, b] if on_c else zone.c[0, 0]
    for j in range(H):
        ij, fj, gj, oj = dz_i[j], dz_f[j], dz_g[j], dz_o[j]       # activations, read first
        dhj, dcj, cj = dh_b[j], dc_b[j], c_t[j]                  # dL/dh_t, dL/dc_t, c_t
        keep_h = keep_c = dhj                                    # (assigned where used)
        if on_h:                                                 # h_t = zh h_prev + (1-zh) h~
            dhj, keep_h = zoneout_backward(zh[j], dhj)
        if on_c:                                                 # c_t = zc c_prev + (1-zc) c~
            dcj, keep_c = zoneout_backward(zc[j], dcj)
            cj = fj * c_prev[j] + ij * gj                        # c~, recomputed
        tc = tanh(cj)                                            # h~ = o * tanh(c~)
        dcj = dcj + dhj * oj * (one - tc * tc)                   # dL/dc~
        dz_o[j] = dhj * tc * oj * (one - oj)
        dz_i[j] = dcj * gj * ij * (one - ij)                      # c~ = f c_prev + i g
        dz_f[j] = dcj * c_prev[j] * fj * (one - fj)
        dz_g[j] = dcj * ij * (one - gj * gj)
        dc_b[j] = dcj * fj + keep_c if on_c else dcj * fj        # dL/dc_prev
        if on_h:
            dh_b[j] = keep_h                     # the kept part; the product's part is added


@njit(**_JIT)
def _backward_pass(dh_seq, WT, c, gates, mask, drop, zone, dh, dc, scratch, tr_dh, small,
                   b0, b1):
    # dh_seq (T, B, H) dL/dh_t from above; WT = W_hh^T (4H, H); c (T+1, B, H) cell states;
    # gates (T, B, 4H) activations i, f, g, o in, dz (gate gradients) out; mask (T, B);
    # drop: Dropout (drop.r (B, H) when drop.on); zone: Zoneout, keep-masks zone.h, zone.c
    # (T, B, H); dh, dc (B, H): on entry dL/dh_T, dL/dc_T from outside, on exit dL/dh_0,
    # dL/dc_0; scratch (B, H) dL/dh_in; tr_dh: Trace, tr_dh.dh (T, B, H) receives dL/dh_t
    T, B, G = gates.shape
    H = G // 4
    rec, use_rec = drop
    trace, use_trace = tr_dh
    one = like(gates, 1.0)
    on_h, on_c = zone.on_h, zone.on_c
    for b in range(b0, b1):
        dh_b, ds = dh[b], dh_seq[T - 1, b]
        for j in range(H):
            dh_b[j] += ds[j]
    for t in range(T - 1, -1, -1):
        if use_trace:                            # dL/dh_t in full, for diagnostics
            for b in range(b0, b1):
                dh_b, tr = dh[b], trace[t, b]
                for j in range(H):
                    tr[j] = dh_b[j]
        for b in range(b0, b1):
            dz = gates[t, b]                     # (4H,) activations in, gate gradients out
            if not mask[t, b]:                   # padded step: gradients pass straight on
                for j in range(G):
                    dz[j] = 0.0
                continue
            dh_b, dc_b, c_prev, c_t = dh[b], dc[b], c[t, b], c[t + 1, b]          # (H,) each
            # dL/d(pre-activation) of each gate, (H,) each, over the activations i, f, g, o
            dz_i, dz_f, dz_g, dz_o = dz[:H], dz[H:2 * H], dz[2 * H:3 * H], dz[3 * H:]
            if on_h or on_c:                     # the loop below, with zoneout's split first
                _zoneout_step_backward(dz_i, dz_f, dz_g, dz_o, dh_b, dc_b, c_prev, c_t, zone,
                                       t, b)
                continue
            for j in range(H):
                ij, fj, gj, oj = dz_i[j], dz_f[j], dz_g[j], dz_o[j]   # activations, read first
                tc = tanh(c_t[j])                                  # h_t = o * tanh(c_t)
                dcj = dc_b[j] + dh_b[j] * oj * (one - tc * tc)     # dL/dc_t
                dz_o[j] = dh_b[j] * tc * oj * (one - oj)
                dz_i[j] = dcj * gj * ij * (one - ij)                # c_t = f c_prev + i g
                dz_f[j] = dcj * c_prev[j] * fj * (one - fj)
                dz_g[j] = dcj * ij * (one - gj * gj)
                dc_b[j] = dcj * fj                                 # dL/dc_prev
        # dh_prev = dz @ W_hh^T, times the dropout mask; plus dh_seq of the step before
        # (BLAS even for one row: (1, 512) @ (512, 128) 3.7 us vs 4.0 for vecmat_add)
        gemm_rows(b1 - b0, H, G, gates, (t * B + b0) * G, G, WT, 0, H,
                  0.0, scratch, b0 * H, H, small)
        for b in range(b0, b1):
            dh_b = dh[b]
            if mask[t, b]:
                s = scratch[b]
                if on_h:                         # zoneout: dh_b holds the part kept for h_prev
                    if use_rec:
                        r = rec[b]
                        for j in range(H):
                            dh_b[j] += s[j] * r[j]
                    else:
                        for j in range(H):
                            dh_b[j] += s[j]
                elif use_rec:
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
def _infer_pass(src, W, h, c, u, z, dst, mask, reverse, p_zone, small, b0, b1):
    # forward only. src: InferInputs, src.x (B, T, I) batch-first, step t reads x[:, T-1-t]
    # when reverse; W = W_hh (H, 4H); h, c (B, H) states updated in place; z (B, 4H), u (B, I)
    # per-step scratch; dst: InferOutput, dst.y (B, T, H) in processing order when dst.on;
    # mask (B, T) in input order; p_zone = (p_h, p_c) zoneout probabilities (0: off),
    # blended by their expectation
    x, W_ih, bias, xp, use_pre = src
    out, write_out, zero_masked = dst
    B, T, I = x.shape
    G = W.shape[1]
    H = G // 4
    p_h, p_c = p_zone
    on_h, on_c = p_h != 0, p_c != 0
    project_all_steps(x, W_ih, bias, xp, use_pre, small, b0, b1)
    for t in range(T):
        ts = T - 1 - t if reverse else t
        input_step(x, ts, W_ih, bias, xp, use_pre, u, z, small, b0, b1)  # z = b + x_t W_ih
        recurrent_step(h, W, z, small, b0, b1)               # z += h_prev @ W_hh
        for b in range(b0, b1):
            h_b, c_b = h[b], c[b]
            keep = mask[b, ts]
            if keep:
                a = z[b]
                z_i, z_f, z_g, z_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
                for j in range(H):
                    cj = sigmoid(z_f[j]) * c_b[j] + sigmoid(z_i[j]) * tanh(z_g[j])  # c~
                    hj = sigmoid(z_o[j]) * tanh(cj)          # h~ = o * tanh(c~)
                    c_b[j] = zoneout(p_c, cj, c_b[j]) if on_c else cj    # c_t
                    h_b[j] = zoneout(p_h, hj, h_b[j]) if on_h else hj    # h_t
            if write_out:
                o_bt = out[b, t]
                if keep or not zero_masked:
                    for j in range(H):
                        o_bt[j] = h_b[j]
                else:
                    for j in range(H):
                        o_bt[j] = 0.0


def lstm_infer(x, W_ih, b, W_hh, h0, c0, mask=None, out=None, zero_masked=False,
               reverse=False, zoneout_h=0.0, zoneout_c=0.0):
    """Forward only, from the inputs, keeping nothing for a backward pass (inference).

    The same recurrence as :func:`lstm_forward`, but the input projection is done step by
    step inside the loop (``z = b + x_t @ W_ih + h_prev @ W_hh`` into one (B, 4H) buffer that
    stays in cache), the states are two (B, H) buffers updated in place, and h_t goes straight
    into ``out``: no (T, B, 4H) xw or gates, no (T+1, B, H) h and c, no transposes.

    Args:
        x: (B, T, I) inputs, batch-first.
        W_ih: (I, 4H) kernel; b: (4H,) bias or None; W_hh: (H, 4H) recurrent kernel.
        h0, c0: (B, H) initial states.
        mask: optional (B, T) bool in input order; masked steps carry the states through.
        out: optional (B, T, H) C-contiguous array of x's dtype that receives h_t in
            processing order (zeros at masked steps with ``zero_masked``).
        reverse: process the steps T-1, ..., 0 (``go_backwards``).
        zoneout_h, zoneout_c: zoneout probabilities of h and c, applied by their expectation
            ``h_t = p_h h_prev + (1 - p_h) h~`` (0: none).

    Returns:
        h_T, c_T: (B, H) final states (new arrays).
    """
    x, W_ih, bias, W, mask, u, xp, use_pre = infer_args(x, W_ih, b, W_hh, mask)
    B, T, _ = x.shape
    H = W.shape[0]
    h = np.array(h0, dtype=x.dtype)              # (B, H) state buffers, updated in place
    c = np.array(c0, dtype=x.dtype)
    z = np.empty((B, 4 * H), dtype=x.dtype)
    write_out = out is not None
    src = InferInputs(x, W_ih, bias, xp, use_pre)
    dst = InferOutput(out if write_out else h.reshape(B, 1, H), write_out, bool(zero_masked))
    p_zone = zoneout_probs(zoneout_h, zoneout_c, x.dtype)

    def block(b0, b1):
        _infer_pass(src, W, h, c, u, z, dst, mask, bool(reverse), p_zone, SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    return h, c


def lstm_forward(xw, W_hh, h0, c0, mask=None, rec_dropout=None, activation=None,
                 recurrent_activation=None, zh=None, zc=None):
    """As :func:`rnnkit.kernels.lstm.lstm_forward` (default activations only)."""
    xw = np.ascontiguousarray(xw)
    T, B, G = xw.shape
    return _forward(xw, np.empty((T, B, 1), dtype=xw.dtype), None, None, False, W_hh, h0, c0,
                    mask, rec_dropout, zh, zc)


def lstm_forward_x(x, W_ih, b, W_hh, h0, c0, mask=None, rec_dropout=None, zh=None, zc=None):
    """:func:`lstm_forward` from the inputs: ``xw = x @ W_ih + b`` is not made beforehand but
    step by step inside the loop, straight into the gate buffer (BLAS in small-matrix tiles;
    no (T, B, 4H) xw array and no bias pass). Same returns and cache; the layer then computes
    ``dW_ih = X^T dxw`` and ``dx = dxw W_ih^T`` from ``dxw`` as usual.

    Args:
        x: (T, B, I) inputs, time-major (the layer's ``x_in``, dropout applied).
        W_ih: (I, 4H) kernel; b: (4H,) bias or None.
        the rest: as :func:`lstm_forward`.
    """
    x, W_ih, bias, xw = forward_x_args(x, W_ih, b, W_hh.shape[1])
    if xw is not None:
        return lstm_forward(xw, W_hh, h0, c0, mask, rec_dropout, zh=zh, zc=zc)
    return _forward(None, x, W_ih, bias, True, W_hh, h0, c0, mask, rec_dropout, zh, zc)


def _forward(xw, x, W_ih, bias, from_x, W_hh, h0, c0, mask, rec_dropout, zh, zc):
    dtype = x.dtype
    W = np.ascontiguousarray(W_hh, dtype=dtype)
    T, B, _ = x.shape
    H, G = W.shape
    h = np.empty((T + 1, B, H), dtype=dtype)     # h[t] is h_prev of step t
    c = np.empty((T + 1, B, H), dtype=dtype)
    h[0], c[0] = h0, c0
    gates = np.empty((T, B, G), dtype=dtype)
    mask, rec, rec_arg = mask_and_rec(mask, rec_dropout, T, B, H, dtype)
    drop = Dropout(rec_arg, rec is not None)     # (B, H) mask, or a placeholder
    zone = zoneout_masks(zh, zc, T, B, H, dtype)   # keep-masks (T, B, H), or placeholders
    h_in = np.empty((B, H), dtype=dtype)
    if from_x:
        xw = gates[:1, :1]                       # placeholders of the right types
    else:
        W_ih, bias = W[:1], W[0]
    src = StepInputs(xw, x, W_ih, bias, from_x)

    def block(b0, b1):
        _forward_pass(src, W, h, c, gates, mask, drop, zone, h_in, SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    cache = Cache(W=W, h=h, c=c, gates=gates, mask=mask, rec=rec, zone=zone)
    return h[1:], h[T].copy(), c[T].copy(), cache


def lstm_backward(dh_seq, dh_T, dc_T, cache, dh_trace=None):
    """As :func:`rnnkit.kernels.lstm.lstm_backward`."""
    cache.consume("lstm_backward")
    W, h, c, gates = cache.W, cache.h, cache.c, cache.gates
    dtype = gates.dtype
    T, B, G = gates.shape
    H = G // 4
    dh_seq = np.ascontiguousarray(dh_seq, dtype=dtype)
    check_backward_grads("lstm_backward", dh_seq, (dh_T, dc_T), T, B, H)
    dh = np.zeros((B, H), dtype=dtype) if dh_T is None else np.array(dh_T, dtype=dtype)
    dc = np.zeros((B, H), dtype=dtype) if dc_T is None else np.array(dc_T, dtype=dtype)
    use_rec = cache.rec is not None
    scratch = np.empty((B, H), dtype=dtype)      # dL/dh_in of a step
    drop = Dropout(cache.rec if use_rec else scratch, use_rec)
    WT = np.ascontiguousarray(W.T)               # (4H, H): BLAS is faster without transposes
    use_trace = dh_trace is not None
    trace = trace_buffer(dh_trace, scratch)      # (T, B, H), or a placeholder

    def block(b0, b1):
        _backward_pass(dh_seq, WT, c, gates, cache.mask, drop, cache.zone, dh, dc, scratch,
                       Trace(trace, use_trace), SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    if use_trace and trace is not dh_trace:
        dh_trace[...] = trace
    dxw = gates                                  # gate gradients, written over the gates
    h_in = h[:T] if not use_rec else h[:T] * cache.rec
    dW_hh = matmul_split(h_in.reshape(T * B, H).T, dxw.reshape(T * B, G),  # sum_t h_in^T dz
                         np.empty((H, G), dtype=dtype))
    cache.gates = cache.h = cache.c = None
    return dxw, dW_hh, dh, dc
