"""The linear scan h_t = a_t h_{t-1} + b_t (kernels/scan.py): the sequential loop, the blocked
two-pass scan and Heinsen's log-space scan agree, also where naive products underflow, and the
reverse scan is the exact gradient."""

import numpy as np
import pytest

from rnnkit.kernels.scan import linear_scan, linear_scan_backward, scan_blocked
from gradcheck import assert_close, numeric_grad


@pytest.fixture(params=["reference", "fast"])
def kernels(request, monkeypatch):
    """Both kernel sets: the NumPy scan loop and the compiled one (RNNKIT_KERNELS)."""
    monkeypatch.setenv("RNNKIT_KERNELS", request.param)
    return request.param


def _brute(a, b, h0):
    h, out = h0, []
    for t in range(a.shape[0]):
        h = a[t] * h + b[t]
        out.append(h)
    return np.stack(out)


def _coeffs(T, B, H, dtype, seed=0, low=0.05, high=0.95):
    rng = np.random.default_rng(seed)
    a = rng.uniform(low, high, (T, B, H)).astype(dtype)
    b = rng.normal(size=(T, B, H)).astype(dtype)
    h0 = rng.normal(size=(B, H)).astype(dtype)
    return a, b, h0


@pytest.mark.parametrize("T", [1, 2, 5, 17, 64])
@pytest.mark.parametrize("block", [None, 1, 3, 8])
def test_every_method_is_the_recurrence(kernels, T, block):
    a, b, h0 = _coeffs(T, 2, 3, np.float64, seed=T)
    want = _brute(a, b, h0)
    assert_close(linear_scan(a, b, h0, "sequential"), want, 1e-14, 0, "sequential")
    assert_close(scan_blocked(a, b, h0, block), want, 1e-14, 0, "blocked")
    assert_close(linear_scan(a, b, h0, "log"), want, 1e-12, 0, "log")


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_long_sequence_where_naive_products_underflow(kernels, dtype, tol):
    T = 4096
    a, b, h0 = _coeffs(T, 2, 4, dtype, seed=1, low=0.3, high=0.7)
    with np.errstate(all="ignore"):                # the naive closed form breaks down ...
        A = np.cumprod(a.astype(np.float64), axis=0)
        naive = A * (h0 + np.cumsum(b / A, axis=0))
    assert A[-1].max() == 0.0 and not np.all(np.isfinite(naive))
    seq = linear_scan(a, b, h0, "sequential")      # ... the scans do not
    assert seq.dtype == dtype and np.all(np.isfinite(seq))
    assert_close(linear_scan(a, b, h0, "blocked"), seq, tol, 0, "blocked vs sequential")
    assert_close(_brute(a.astype(np.float64), b.astype(np.float64), h0.astype(np.float64)),
                 seq, tol, 0, "float64 recurrence")


def test_log_space_with_positive_inputs_is_exact_to_rounding_over_4096_steps():
    a, b, h0 = _coeffs(4096, 2, 4, np.float64, seed=2, low=0.3, high=0.99)
    b, h0 = np.abs(b), np.abs(h0)                  # the paper's setting: positive candidates
    seq = linear_scan(a, b, h0, "sequential")
    got = linear_scan(a, b, h0, "log")
    assert np.max(np.abs(got - seq) / seq) < 1e-10


def test_auto_picks_blocked_only_for_long_narrow_scans(monkeypatch):
    import rnnkit.kernels.scan as scan
    monkeypatch.setenv("RNNKIT_KERNELS", "reference")         # no compiled loop: the rule
    calls = []
    monkeypatch.setattr(scan, "scan_blocked", lambda a, b, h0, block=None: calls.append("b"))
    monkeypatch.setattr(scan, "scan_sequential", lambda a, b, h0: calls.append("s"))
    for shape in [(300, 1, 8), (300, 16, 64), (10, 1, 8)]:
        scan.linear_scan(np.ones(shape), np.ones(shape), np.ones(shape[1:]))
    assert calls == ["b", "s", "s"]


@pytest.mark.parametrize("method", ["sequential", "blocked"])
def test_reverse_scan_is_the_gradient(kernels, method):
    T, B, H = 9, 2, 3
    a, b, h0 = _coeffs(T, B, H, np.float64, seed=3)
    w = np.random.default_rng(4).normal(size=(T, B, H))

    def loss():
        return float(np.sum(w * linear_scan(a, b, h0, method, block=4 if method == "blocked"
                                            else None)))
    g, dh0 = linear_scan_backward(a, w, method, block=2 if method == "blocked" else None)
    h = linear_scan(a, b, h0, method)
    h_prev = np.concatenate([h0[None], h[:-1]])
    assert_close(g, numeric_grad(loss, b), 1e-8, 1e-10, "db = g")
    assert_close(g * h_prev, numeric_grad(loss, a), 1e-8, 1e-10, "da = g h_prev")
    assert_close(dh0, numeric_grad(loss, h0), 1e-8, 1e-10, "dh0 = a_0 g_0")


def test_reverse_scans_agree_over_4096_steps(kernels):
    a, _, _ = _coeffs(4096, 2, 4, np.float64, seed=5, low=0.3, high=0.7)
    dh = np.random.default_rng(6).normal(size=a.shape)
    g1, d1 = linear_scan_backward(a, dh, "sequential")
    g2, d2 = linear_scan_backward(a, dh, "blocked")
    assert_close(g2, g1, 1e-12, 0, "g")
    assert_close(d2, d1, 1e-12, 0, "dh0")


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="scan must be one of"):
        linear_scan(np.ones((2, 1, 1)), np.ones((2, 1, 1)), np.ones((1, 1)), "fft")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_and_numpy_loops_agree_bit_for_bit(monkeypatch, dtype):
    import rnnkit.kernels.scan as scan
    a, b, h0 = _coeffs(300, 3, 5, dtype, seed=7)
    monkeypatch.setenv("RNNKIT_KERNELS", "fast")
    assert scan._compiled(dtype) is not None
    fast = linear_scan(a, b, h0, "sequential"), linear_scan_backward(a, b, "sequential")
    monkeypatch.setenv("RNNKIT_KERNELS", "reference")
    assert scan._compiled(dtype) is None
    ref = linear_scan(a, b, h0, "sequential"), linear_scan_backward(a, b, "sequential")
    assert fast[0].dtype == dtype
    np.testing.assert_array_equal(fast[0], ref[0])
    np.testing.assert_array_equal(fast[1][0], ref[1][0])
    np.testing.assert_array_equal(fast[1][1], ref[1][1])
