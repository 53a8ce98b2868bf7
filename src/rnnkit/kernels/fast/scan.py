"""The linear scan ``h_t = a_t h_{t-1} + b_t`` and its reverse as compiled (Numba) loops: the
contract of :func:`rnnkit.kernels.scan.scan_sequential` and of the reverse scan in
:func:`rnnkit.kernels.scan.linear_scan_backward`, for float32 and float64.

One call per pass; the inner loop over the B*H values of a step is contiguous and
vectorises. No fastmath: the products and sums round as NumPy's do (no FMA contraction), so
the compiled and the NumPy sequential scans agree bit for bit on the same machine.
"""

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True, error_model="numpy")


@njit(**_JIT)
def _forward(a, b, h0, h):
    """h_t = a_t h_{t-1} + b_t: ``a``, ``b`` (T, N) with N = B*H flattened, ``h0`` (N,), ``h``
    (T, N) written."""
    T, N = a.shape
    prev = h0.copy()                            # (N,) h_{t-1}
    for t in range(T):
        for n in range(N):
            v = a[t, n] * prev[n]
            v += b[t, n]
            h[t, n] = v
            prev[n] = v


@njit(**_JIT)
def _reverse(a, dh, g, dh0):
    """g_t = dh_t + a_{t+1} g_{t+1} (g = dL/dh_t through every path): ``a``, ``dh`` (T, N)
    with N = B*H flattened, ``g`` (T, N) and ``dh0`` (N,) = a_0 g_0 written."""
    T, N = a.shape
    for n in range(N):
        g[T - 1, n] = dh[T - 1, n]
    for t in range(T - 2, -1, -1):
        for n in range(N):
            v = a[t + 1, n] * g[t + 1, n]
            g[t, n] = dh[t, n] + v
    for n in range(N):
        dh0[n] = a[0, n] * g[0, n]


def _flat(x, dtype):
    return np.ascontiguousarray(x, dtype=dtype).reshape(x.shape[0], -1)


def scan_forward(a, b, h0):
    """a, b (T, B, H), h0 (B, H) -> h (T, B, H)."""
    dt = np.result_type(a, b, h0)
    T = a.shape[0]
    h = np.empty((T,) + tuple(h0.shape), dtype=dt)
    if T:
        _forward(_flat(a, dt), _flat(b, dt), np.ascontiguousarray(h0, dtype=dt).ravel(),
                 h.reshape(T, -1))
    return h


def scan_reverse(a, dh):
    """g_t = dh_t + a_{t+1} g_{t+1}; returns g (T, B, H) and dh0 = a_0 g_0 (B, H)."""
    dt = np.result_type(a, dh)
    T = a.shape[0]
    g = np.empty(dh.shape, dtype=dt)
    dh0 = np.zeros(dh.shape[1:], dtype=dt)
    if T:
        _reverse(_flat(a, dt), _flat(dh, dt), g.reshape(T, -1), dh0.reshape(-1))
    return g, dh0
