"""GRU forward-only pass for inference, compiled: :func:`gru_infer` (split from
:mod:`rnnkit.kernels.fast.gru`, which holds the training passes and re-exports it).

The same recurrence as :func:`rnnkit.kernels.fast.gru.gru_forward`, from the inputs, keeping
nothing for a backward pass: per step the input projection ``b_ih + x_t @ W_ih`` into one
(B, 3H) buffer, the state one (B, H) buffer updated in place, h_t written batch-first straight
into the layer's output. Zoneout by its expectation: ``h_t = p h_prev + (1 - p) h~``.
"""

import numpy as np
from numba import njit

from ._lowlevel import (SMALL_MNK, gemm_rows, input_step, like, project_all_steps,
                        recurrent_step, sigmoid, tanh)
from .common import InferInputs, InferOutput, infer_args, run_blocks
from .zoneout import zoneout, zoneout_probs

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")


@njit(**_JIT)
def _infer_pass(src, W, b_hh, h, u, zx, s, cand, dst, mask, reset_after, reverse, p_h, small,
                b0, b1):
    # forward only. src: InferInputs, src.x (B, T, I) batch-first (step t reads x[:, T-1-t]
    # when reverse), src.W_ih (I, 3H), src.bias = b_ih (3H,); W = W_hh (H, 3H), b_hh (3H,);
    # h (B, H) the state, updated in place; zx, s (B, 3H), cand (B, H), u (B, I) per-step
    # scratch; dst: InferOutput, dst.y (B, T, H) in processing order when dst.on; mask (B, T)
    # in input order; p_h the zoneout probability (0: off), blended by its expectation
    x, W_ih, b_ih, xp, use_pre = src
    out, write_out, zero_masked = dst
    B, T, I = x.shape
    G = W.shape[1]
    H = G // 3
    nb = b1 - b0
    zero = like(x, 0.0)
    on_h = p_h != 0
    project_all_steps(x, W_ih, b_ih, xp, use_pre, small, b0, b1)
    for t in range(T):
        ts = T - 1 - t if reverse else t
        input_step(x, ts, W_ih, b_ih, xp, use_pre, u, zx, small, b0, b1)  # zx = b_ih + x_t W_ih
        if reset_after:
            # s = b_hh + h_prev @ W_hh : (hU_z, hU_r, hU_h), biases included
            for b in range(b0, b1):
                sb = s[b]
                for j in range(G):
                    sb[j] = b_hh[j]
            recurrent_step(h, W, s, small, b0, b1)
            for b in range(b0, b1):
                if not mask[b, ts]:
                    continue
                xb, sb, h_b = zx[b], s[b], h[b]
                for j in range(H):
                    zj = sigmoid(xb[j] + sb[j])
                    rj = sigmoid(xb[H + j] + sb[H + j])
                    hhj = tanh(xb[2 * H + j] + rj * sb[2 * H + j])   # r * (hU_h + b_hh_h)
                    hj = hhj + zj * (h_b[j] - hhj)        # h~ = z h_prev + (1 - z) hh
                    h_b[j] = zoneout(p_h, hj, h_b[j]) if on_h else hj
        else:
            # zx[:, :2H] += h_prev @ U_zr ; z, r in place ; cand = r * h_prev
            gemm_rows(nb, 2 * H, H, h, b0 * H, H, W, 0, G, 1.0, zx, b0 * G, G, small)
            for b in range(b0, b1):
                a, h_b, cd = zx[b], h[b], cand[b]
                for j in range(2 * H):
                    a[j] = sigmoid(a[j])
                for j in range(H):
                    cd[j] = a[H + j] * h_b[j]
            # zx[:, 2H:] += cand @ U_h
            gemm_rows(nb, H, H, cand, b0 * H, H, W, 2 * H, G, 1.0, zx, b0 * G + 2 * H, G,
                      small)
            for b in range(b0, b1):
                if not mask[b, ts]:
                    continue
                a, h_b = zx[b], h[b]
                for j in range(H):
                    hhj = tanh(a[2 * H + j])
                    hj = hhj + a[j] * (h_b[j] - hhj)      # h~
                    h_b[j] = zoneout(p_h, hj, h_b[j]) if on_h else hj
        if write_out:
            for b in range(b0, b1):
                o_bt, h_b = out[b, t], h[b]
                if mask[b, ts] or not zero_masked:
                    for j in range(H):
                        o_bt[j] = h_b[j]
                else:
                    for j in range(H):
                        o_bt[j] = zero


def gru_infer(x, W_ih, b_ih, W_hh, b_hh, h0, mask=None, reset_after=True, out=None,
              zero_masked=False, reverse=False, zoneout_h=0.0):
    """Forward only, from the inputs, keeping nothing for a backward pass (inference).

    The same recurrence as :func:`rnnkit.kernels.fast.gru.gru_forward`, with the input
    projection done step by step inside the loop into a (B, 3H) buffer, the state one (B, H)
    buffer updated in place and h_t written straight into ``out``.

    Args:
        x: (B, T, I) inputs, batch-first.
        W_ih: (I, 3H) kernel; b_ih: (3H,) input bias or None.
        W_hh: (H, 3H) recurrent kernel; b_hh: (3H,) recurrent bias (reset_after=True) or None.
        h0: (B, H) initial state.
        mask: optional (B, T) bool in input order; masked steps carry the state through.
        out: optional (B, T, H) C-contiguous array that receives h_t in processing order
            (zeros at masked steps with ``zero_masked``).
        reverse: process the steps T-1, ..., 0 (``go_backwards``).
        zoneout_h: the zoneout probability of h, applied by its expectation (0: none).

    Returns:
        h_T: (B, H) final state (a new array).
    """
    if b_hh is not None and not reset_after:
        raise ValueError("gru_infer: a recurrent bias b_hh exists only with reset_after=True")
    x, W_ih, b_ih, W, mask, u, xp, use_pre = infer_args(x, W_ih, b_ih, W_hh, mask)
    B, T, _ = x.shape
    H, G = W.shape
    b_hh = np.zeros(G, dtype=x.dtype) if b_hh is None else \
        np.ascontiguousarray(b_hh, dtype=x.dtype)
    h = np.array(h0, dtype=x.dtype)              # (B, H) state, updated in place
    zx, s = np.empty((B, G), dtype=x.dtype), np.empty((B, G), dtype=x.dtype)
    cand = np.empty((B, H), dtype=x.dtype)
    write_out = out is not None
    p_h, _ = zoneout_probs(zoneout_h, 0.0, x.dtype)
    src = InferInputs(x, W_ih, b_ih, xp, use_pre)
    dst = InferOutput(out if write_out else h.reshape(B, 1, H), write_out, bool(zero_masked))

    def block(b0, b1):
        _infer_pass(src, W, b_hh, h, u, zx, s, cand, dst, mask, bool(reset_after),
                    bool(reverse), p_h, SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    return h

