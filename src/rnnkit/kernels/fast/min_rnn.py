"""minGRU and minLSTM as fused compiled passes: the contract of :mod:`rnnkit.kernels.min_rnn`
for the paper's linear candidate (``activation="linear"``), float32 and float64.

One Numba call per pass: the gates, the scan and (backward) the gate derivatives in a single
sweep over time, with no (T, B, H) temporaries. The cache is ``xw``, ``h0``, ``h_seq`` and the
mask: the backward recomputes the gates from ``xw``::

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

_JIT = dict(cache=True, nogil=True, error_model="numpy")
GRU, LSTM = 0, 1


@njit(**_JIT)
def _sig(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))       # as rnnkit.activations.sigmoid


@njit(**_JIT)
def _forward(cell, xw, h0, mask, use_mask, h):
    T, B, _ = xw.shape
    H = h0.shape[1]
    prev = h0.copy()
    for t in range(T):
        for b in range(B):
            if use_mask and not mask[t, b]:
                for j in range(H):
                    h[t, b, j] = prev[b, j]
                continue
            for j in range(H):
                if cell == GRU:
                    z = _sig(xw[t, b, j])
                    v = (1.0 - z) * prev[b, j] + z * xw[t, b, H + j]
                else:
                    f = _sig(xw[t, b, j])
                    i = _sig(xw[t, b, H + j])
                    s = f + i
                    v = (f / s) * prev[b, j] + (i / s) * xw[t, b, 2 * H + j]
                h[t, b, j] = v
                prev[b, j] = v


@njit(**_JIT)
def _backward(cell, xw, h0, h, mask, use_mask, dh_seq, g, dxw, trace, use_trace):
    T, B, _ = xw.shape
    H = h0.shape[1]
    for t in range(T - 1, -1, -1):
        for b in range(B):
            for j in range(H):
                g[b, j] += dh_seq[t, b, j]               # dL/dh_t, every path
                if use_trace:
                    trace[t, b, j] = g[b, j]
            if use_mask and not mask[t, b]:
                for j in range(dxw.shape[2]):
                    dxw[t, b, j] = 0.0                   # state carried: g passes through
                continue
            for j in range(H):
                hp = h0[b, j] if t == 0 else h[t - 1, b, j]
                gj = g[b, j]
                if cell == GRU:
                    z = _sig(xw[t, b, j])
                    hh = xw[t, b, H + j]
                    dxw[t, b, j] = gj * (hh - hp) * z * (1.0 - z)
                    dxw[t, b, H + j] = gj * z
                    g[b, j] = gj * (1.0 - z)
                else:
                    f = _sig(xw[t, b, j])
                    i = _sig(xw[t, b, H + j])
                    hh = xw[t, b, 2 * H + j]
                    s = f + i
                    dfn = gj * (hp - hh)
                    dxw[t, b, j] = dfn * i / (s * s) * f * (1.0 - f)
                    dxw[t, b, H + j] = -dfn * f / (s * s) * i * (1.0 - i)
                    dxw[t, b, 2 * H + j] = gj * i / s
                    g[b, j] = gj * f / s


def _mask_args(mask, T, B):
    if mask is None:
        return np.ones((1, 1), dtype=np.bool_), False
    return np.ascontiguousarray(mask, dtype=np.bool_), True


def forward(cell, xw, h0, mask=None):
    """h_seq (T, B, H), h_T (B, H) and the cache for :func:`backward` (cell GRU or LSTM)."""
    xw = np.ascontiguousarray(xw)
    T, B, _ = xw.shape
    h0 = np.ascontiguousarray(h0, dtype=xw.dtype)
    h = np.empty((T, B, h0.shape[1]), dtype=xw.dtype)
    m, use_mask = _mask_args(mask, T, B)
    _forward(cell, xw, h0, m, use_mask, h)
    h_T = h[-1].copy() if T else h0.copy()
    return h, h_T, (cell, xw, h0, h, m, use_mask)


def backward(dh_seq, dh_T, cache, trace=None):
    """dxw (T, B, G*H) and dh0 (B, H), as :func:`rnnkit.kernels.min_rnn.mingru_backward`."""
    cell, xw, h0, h, m, use_mask = cache
    g = np.zeros(h0.shape, dtype=xw.dtype) if dh_T is None else \
        np.array(dh_T, dtype=xw.dtype, copy=True)
    dxw = np.empty_like(xw)
    use_trace = trace is not None
    tr = trace if use_trace else np.empty((1, 1, 1), dtype=xw.dtype)
    _backward(cell, xw, h0, h, m, use_mask, np.ascontiguousarray(dh_seq, dtype=xw.dtype), g,
              dxw, tr, use_trace)
    return dxw, g
