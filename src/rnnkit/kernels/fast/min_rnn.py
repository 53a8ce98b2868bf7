"""minGRU and minLSTM as fused compiled passes: the contract of :mod:`rnnkit.kernels.min_rnn`
for the paper's linear candidate (``activation="linear"``), float32 and float64.

The sigmoid gates are one NumPy call over all steps (exactly the reference's values; a
compiled approximate tanh was 2x faster but moved float32 gradients over 4096 steps by 1.3e-6),
then one Numba call per pass: the scan and (backward) the gate derivatives in a single sweep
over time, with no further (T, B, H) temporaries; the inner loop over the H units vectorises.
The cache is ``xw``, the gates (z; f and i), ``h0``, ``h_seq`` and the mask::

    minGRU    z = sig(xw_z), hh = xw_h          h_t = (1 - z) h_prev + z hh
              dxw_z = g (hh - h_prev) z (1 - z) ;  dxw_h = g z ;  g_prev = g (1 - z)
    minLSTM   f = sig(xw_f), i = sig(xw_i), hh = xw_h, s = f + i
              h_t = (f / s) h_prev + (i / s) hh
              df' = g (h_prev - hh) ; dxw_f = df' i / s^2 f (1 - f)
              dxw_i = -df' f / s^2 i (1 - i) ; dxw_h = g i / s ; g_prev = g f / s

``g`` is dL/dh_t through every path (the output gradient of step t plus what flows back from
t+1); padded steps pass it through unchanged and get no gate gradient.
"""

import numpy as np
from numba import njit

from ...activations import sigmoid as sigmoid_np

from ._lowlevel import like

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")
GRU, LSTM = 0, 1


@njit(**_JIT)
def _carry(h, t, b, prev, H):
    for j in range(H):
        h[t, b, j] = prev[b, j]


@njit(**_JIT)
def _gru_forward(xw, zg, h0, mask, use_mask, h):
    T, B, _ = xw.shape
    H = h0.shape[1]
    one = like(xw, 1.0)
    prev = h0.copy()
    for t in range(T):
        for b in range(B):
            if use_mask and not mask[t, b]:
                _carry(h, t, b, prev, H)
                continue
            for j in range(H):
                z = zg[t, b, j]
                v = (one - z) * prev[b, j] + z * xw[t, b, H + j]
                h[t, b, j] = v
                prev[b, j] = v


@njit(**_JIT)
def _lstm_forward(xw, fg, ig, h0, mask, use_mask, h):
    T, B, _ = xw.shape
    H = h0.shape[1]
    prev = h0.copy()
    for t in range(T):
        for b in range(B):
            if use_mask and not mask[t, b]:
                _carry(h, t, b, prev, H)
                continue
            for j in range(H):
                f, i = fg[t, b, j], ig[t, b, j]
                v = (f * prev[b, j] + i * xw[t, b, 2 * H + j]) / (f + i)
                h[t, b, j] = v
                prev[b, j] = v


@njit(**_JIT)
def _backward(cell, xw, g1, g2, h0, h, mask, use_mask, dh_seq, g, dxw, trace, use_trace):
    T, B, _ = xw.shape
    H = h0.shape[1]
    one, zero = like(xw, 1.0), like(xw, 0.0)
    for t in range(T - 1, -1, -1):
        for b in range(B):
            for j in range(H):
                g[b, j] += dh_seq[t, b, j]               # dL/dh_t, every path
            if use_trace:
                for j in range(H):
                    trace[t, b, j] = g[b, j]
            if use_mask and not mask[t, b]:
                for j in range(dxw.shape[2]):
                    dxw[t, b, j] = zero                  # state carried: g passes through
                continue
            hp = h0[b] if t == 0 else h[t - 1, b]
            if cell == GRU:
                for j in range(H):
                    gj = g[b, j]
                    z = g1[t, b, j]
                    dxw[t, b, j] = gj * (xw[t, b, H + j] - hp[j]) * z * (one - z)
                    dxw[t, b, H + j] = gj * z
                    g[b, j] = gj * (one - z)
            else:
                for j in range(H):
                    gj = g[b, j]
                    f, i = g1[t, b, j], g2[t, b, j]
                    r = one / (f + i)
                    dfn = gj * (hp[j] - xw[t, b, 2 * H + j]) * r * r
                    dxw[t, b, j] = dfn * i * f * (one - f)
                    dxw[t, b, H + j] = -dfn * f * i * (one - i)
                    dxw[t, b, 2 * H + j] = gj * i * r
                    g[b, j] = gj * f * r


def _mask_args(mask, T, B):
    if mask is None:
        return np.ones((1, 1), dtype=np.bool_), False
    return np.ascontiguousarray(mask, dtype=np.bool_), True


def forward(cell, xw, h0, mask=None):
    """h_seq (T, B, H), h_T (B, H) and the cache for :func:`backward` (cell GRU or LSTM)."""
    xw = np.ascontiguousarray(xw)
    T, B, _ = xw.shape
    H = h0.shape[1]
    h0 = np.ascontiguousarray(h0, dtype=xw.dtype)
    h = np.empty((T, B, H), dtype=xw.dtype)
    m, use_mask = _mask_args(mask, T, B)
    g1 = np.ascontiguousarray(sigmoid_np(xw[..., :H]))         # z, or f
    if cell == GRU:
        g2 = g1[:1, :1, :1]                                      # unused
        _gru_forward(xw, g1, h0, m, use_mask, h)
    else:
        g2 = np.ascontiguousarray(sigmoid_np(xw[..., H:2 * H]))  # i
        _lstm_forward(xw, g1, g2, h0, m, use_mask, h)
    h_T = h[-1].copy() if T else h0.copy()
    return h, h_T, (cell, xw, g1, g2, h0, h, m, use_mask)


def backward(dh_seq, dh_T, cache, trace=None):
    """dxw (T, B, G*H) and dh0 (B, H), as :func:`rnnkit.kernels.min_rnn.mingru_backward`."""
    cell, xw, g1, g2, h0, h, m, use_mask = cache
    g = np.zeros(h0.shape, dtype=xw.dtype) if dh_T is None else \
        np.array(dh_T, dtype=xw.dtype, copy=True)
    dxw = np.empty_like(xw)
    use_trace = trace is not None
    tr = trace if use_trace else np.empty((1, 1, 1), dtype=xw.dtype)
    _backward(cell, xw, g1, g2, h0, h, m, use_mask,
              np.ascontiguousarray(dh_seq, dtype=xw.dtype), g, dxw, tr, use_trace)
    return dxw, g
