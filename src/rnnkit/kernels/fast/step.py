"""One inference step of each cell as a single compiled call: the fast path of streaming.

Same equations as the cells' ``step`` (the NumPy reference: ``LSTMCell.step``, ...), default
activations only (tanh and sigmoid; tanh or relu for SimpleRNN), float32 and float64. What
makes it fast at batch 1, where OpenBLAS spends ~20 µs per call on a one-row product:

* the two weight matrices are packed once, when a stream starts, as one transposed matrix
  ``WT = [W_ih; W_hh]^T`` (G, I+H), so that every gate pre-activation is one dot product of a
  contiguous weight row with the contiguous vector ``u = [x_t, h_prev]`` (I+H,);
* the dot products are hand-written, four weight rows at a time with four accumulators, in an
  inner loop that LLVM vectorises (``fastmath`` lets it reorder the sum: the result differs from
  BLAS's only by float32 rounding);
* products, gate math and the state update are one call into preallocated buffers: nothing is
  allocated per step. With ``BLAS_ROWS`` or more batch rows the products go to numpy's BLAS
  (one ``gemm`` against ``WT`` transposed), which wins once the weights are reused enough.

Per step, for each batch row ``b`` (``u_b = [x_b, h_b]``, sums over k)::

    LSTM       z_j = sum_k WT[j, k] u_b[k] + b_j                 j < 4H
               i, f, o = sigmoid(z_i, z_f, z_o) ; g = tanh(z_g)
               c_b = f * c_b + i * g ;  h_b = o * tanh(c_b)      (in place)
    GRU        zr_j = sum_{k < I+H} WT[j, k] u_b[k] + b_ih_j + b_hh_j           j < 2H
      reset_after=True:   xh_j = sum_{k < I} WT[j, k] x_b[k] ; hUh_j = sum_{k >= I} WT[j, k] h_b[k]
                          hh = tanh(xh + b_ih_h + r * (hUh + b_hh_h))
      reset_after=False:  u_b[I:] = r * h_b ;  hh = tanh(sum_k WT[j, k] u_b[k] + b_ih_h)
               h_b = hh + z * (h_b - hh)                          (= z h_prev + (1 - z) hh)
    SimpleRNN  h_b = act(sum_k WT[j, k] u_b[k] + b_j)             act = tanh or relu

Zoneout (LSTM, GRU) by its expectation, ``p_zone = (p_h, p_c)`` (0: off): ``c_b = p_c c_b +
(1 - p_c) c~`` and ``h_b = p_h h_b + (1 - p_h) h~`` after the updates above.
States are updated in place. Every function takes its scratch buffers as arguments and the
input ``x`` last, so that a stream binds everything else once (``functools.partial``).

The arguments stay separate arrays (7 to 9), not packed into tuples as the whole-sequence
passes are: a SimpleRNN(64) step at batch 1 takes ~2.2 us in all, and numba's dispatcher types
a tuple argument more slowly than arrays (measured here, numba 0.68, CPU time per call of an
empty function: 7 arrays 0.61 us, one plain tuple of 6 arrays and an array 0.84 us, a
namedtuple instead 1.67 us), so packing would cost a streamer 10-20% per step.
"""

import numpy as np
from numba import njit

from ._lowlevel import NO_TRANS, TRANS, gemm, like, sigmoid, tanh
from .zoneout import zoneout

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")
BLAS_ROWS = 16        # batch rows from which the products go to BLAS instead of the dot loops


@njit(**_JIT)
def _row_dots(WT, j0, j1, k0, k1, u_b, out_b, c0):
    """``out_b[c0 + j - j0] = sum_{k0 <= k < k1} WT[j, k] u_b[k]`` for ``j0 <= j < j1``."""
    n = k1 - k0
    v = u_b[k0:k1]
    zero = like(WT, 0.0)
    j = j0
    while j + 4 <= j1:                     # four rows at a time: v is loaded once for four
        w0, w1 = WT[j, k0:k1], WT[j + 1, k0:k1]
        w2, w3 = WT[j + 2, k0:k1], WT[j + 3, k0:k1]
        s0 = s1 = s2 = s3 = zero
        for k in range(n):
            vk = v[k]
            s0 += w0[k] * vk
            s1 += w1[k] * vk
            s2 += w2[k] * vk
            s3 += w3[k] * vk
        c = c0 + j - j0
        out_b[c], out_b[c + 1], out_b[c + 2], out_b[c + 3] = s0, s1, s2, s3
        j += 4
    while j < j1:
        w0 = WT[j, k0:k1]
        s0 = zero
        for k in range(n):
            s0 += w0[k] * v[k]
        out_b[c0 + j - j0] = s0
        j += 1


@njit(**_JIT)
def _dots(WT, j0, j1, k0, k1, u, out, c0):
    """``out[:, c0 : c0 + j1 - j0] = u[:, k0:k1] @ WT[j0:j1, k0:k1]^T`` for every batch row."""
    B, K = u.shape
    G = out.shape[1]
    if B >= BLAS_ROWS:
        gemm(NO_TRANS, TRANS, B, j1 - j0, k1 - k0, 1.0, u, k0, K, WT, j0 * K + k0, K,
             0.0, out, c0, G)
    else:
        for b in range(B):
            _row_dots(WT, j0, j1, k0, k1, u[b], out[b], c0)


@njit(**_JIT)
def _load(u, x, h):
    """``u[b] = [x[b], h[b]]``: the operand of the packed product."""
    B, I = x.shape
    H = h.shape[1]
    for b in range(B):
        ub, xb, hb = u[b], x[b], h[b]
        for k in range(I):
            ub[k] = xb[k]
        for k in range(H):
            ub[I + k] = hb[k]


@njit(**_JIT)
def lstm_step(h, c, WT, bias, p_zone, u, z, x):
    """One LSTM step in place: h and c (B, H) updated, x (B, I), WT (4H, I+H), bias (4H,),
    p_zone (p_h, p_c) zoneout probabilities (0: off), scratch u (B, I+H) and z (B, 4H)."""
    B, I = x.shape
    H = h.shape[1]
    p_h, p_c = p_zone
    on_h, on_c = p_h != 0, p_c != 0
    _load(u, x, h)
    _dots(WT, 0, 4 * H, 0, I + H, u, z, 0)              # z = [x, h_prev] @ [W_ih; W_hh]
    b_i, b_f, b_g, b_o = bias[:H], bias[H:2 * H], bias[2 * H:3 * H], bias[3 * H:]
    for b in range(B):
        zb, h_b, c_b = z[b], h[b], c[b]
        z_i, z_f, z_g, z_o = zb[:H], zb[H:2 * H], zb[2 * H:3 * H], zb[3 * H:]
        for j in range(H):
            i = sigmoid(z_i[j] + b_i[j])
            f = sigmoid(z_f[j] + b_f[j])
            g = tanh(z_g[j] + b_g[j])
            o = sigmoid(z_o[j] + b_o[j])
            c_t = f * c_b[j] + i * g                   # c~ = f * c_prev + i * g
            h_t = o * tanh(c_t)                        # h~ = o * tanh(c~)
            c_b[j] = zoneout(p_c, c_t, c_b[j]) if on_c else c_t
            h_b[j] = zoneout(p_h, h_t, h_b[j]) if on_h else h_t


@njit(**_JIT)
def gru_step(h, WT, b_ih, b_hh, reset_after, p_h, u, zx, zh, x):
    """One GRU step in place: h (B, H) updated, x (B, I), WT (3H, I+H), b_ih and b_hh (3H,)
    (b_hh zeros with reset_after=False), p_h the zoneout probability (0: off), scratch
    u (B, I+H), zx (B, 3H) and zh (B, H) (h_prev @ U_h)."""
    B, I = x.shape
    H = h.shape[1]
    on_h = p_h != 0
    K = I + H
    _load(u, x, h)
    _dots(WT, 0, 2 * H, 0, K, u, zx, 0)                 # z, r pre-activations, both parts
    for b in range(B):                                  # z, r = sigmoid(...), in place
        zr = zx[b]                                      # (3H,): [z, r] pre-activations
        for j in range(2 * H):
            zr[j] = sigmoid(zr[j] + b_ih[j] + b_hh[j])
    if reset_after:
        _dots(WT, 2 * H, 3 * H, 0, I, u, zx, 2 * H)     # x_t @ W_h
        _dots(WT, 2 * H, 3 * H, I, K, u, zh, 0)         # h_prev @ U_h
        bx, bh = b_ih[2 * H:], b_hh[2 * H:]
        for b in range(B):
            a, hU, h_b = zx[b], zh[b], h[b]
            z, r, xh = a[:H], a[H:2 * H], a[2 * H:]
            for j in range(H):
                hh = tanh(xh[j] + bx[j] + r[j] * (hU[j] + bh[j]))
                h_t = hh + z[j] * (h_b[j] - hh)         # h~ = z h_prev + (1 - z) hh
                h_b[j] = zoneout(p_h, h_t, h_b[j]) if on_h else h_t
    else:
        for b in range(B):                              # u_b = [x_b, r * h_prev]
            ub, r, h_b = u[b], zx[b, H:2 * H], h[b]
            for j in range(H):
                ub[I + j] = r[j] * h_b[j]
        _dots(WT, 2 * H, 3 * H, 0, K, u, zx, 2 * H)     # x_t @ W_h + (r * h_prev) @ U_h
        bx = b_ih[2 * H:]
        for b in range(B):
            a, h_b = zx[b], h[b]
            z, ah = a[:H], a[2 * H:]
            for j in range(H):
                hh = tanh(ah[j] + bx[j])
                h_t = hh + z[j] * (h_b[j] - hh)
                h_b[j] = zoneout(p_h, h_t, h_b[j]) if on_h else h_t


@njit(**_JIT)
def simple_rnn_step(h, WT, bias, relu, u, a, x):
    """One SimpleRNN step in place: h (B, H) updated, x (B, I), WT (H, I+H), bias (H,),
    ``relu`` False for tanh, scratch u (B, I+H) and a (B, H)."""
    B, I = x.shape
    H = h.shape[1]
    zero = like(a, 0.0)
    _load(u, x, h)
    _dots(WT, 0, H, 0, I + H, u, a, 0)                  # a = [x, h_prev] @ [W_ih; W_hh]
    for b in range(B):
        a_b, h_b = a[b], h[b]
        if relu:
            for j in range(H):
                h_b[j] = max(a_b[j] + bias[j], zero)
        else:
            for j in range(H):
                h_b[j] = tanh(a_b[j] + bias[j])


def pack(W_ih, W_hh):
    """``[W_ih; W_hh]^T`` as one C-contiguous (G, I+H) array: row j holds gate column j."""
    return np.ascontiguousarray(np.concatenate([W_ih, W_hh], axis=0).T)
