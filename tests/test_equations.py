"""kernels/equations.py: each state update once, its adjoint checked by finite differences,
and compiled by numba as it is (so the fast kernels can call the same definitions)."""

import numpy as np
import pytest

from gradcheck import assert_close
from rnnkit.kernels import dispatch, equations


def test_equations_adjoints_by_finite_differences():
    rng = np.random.default_rng(12)
    c_prev, i, f, g, h_prev, z, hh, dc = (rng.standard_normal((2, 3)) for _ in range(8))
    di, df, dg, dc_prev = equations.lstm_cell_update_backward(dc, c_prev, i, f, g)
    eps = 1e-6
    for arr, d in ((c_prev, dc_prev), (i, di), (f, df), (g, dg)):
        num = np.zeros_like(arr)
        for k in np.ndindex(arr.shape):
            old = arr[k]
            arr[k] = old + eps
            up = np.sum(dc * equations.lstm_cell_update(c_prev, i, f, g))
            arr[k] = old - eps
            num[k] = (up - np.sum(dc * equations.lstm_cell_update(c_prev, i, f, g))) / (2 * eps)
            arr[k] = old
        assert_close(d, num, what="lstm cell update adjoint")
    dh_prev, dz, dhh = equations.gru_state_update_backward(dc, h_prev, z, hh)
    for arr, d in ((h_prev, dh_prev), (z, dz), (hh, dhh)):
        num = np.zeros_like(arr)
        for k in np.ndindex(arr.shape):
            old = arr[k]
            arr[k] = old + eps
            up = np.sum(dc * equations.gru_state_update(h_prev, z, hh))
            arr[k] = old - eps
            num[k] = (up - np.sum(dc * equations.gru_state_update(h_prev, z, hh))) / (2 * eps)
            arr[k] = old
        assert_close(d, num, what="gru state update adjoint")


@pytest.mark.skipif(not dispatch.fast_available(), reason="numba (the fast kernels) not available")
def test_equations_compile_with_numba():
    """The state updates are plain arithmetic: numba.njit compiles them as they are."""
    import numba

    rng = np.random.default_rng(13)
    a = [rng.standard_normal((2, 3)) for _ in range(4)]
    m = rng.random((2, 1)) > 0.5
    for fn, args in ((equations.lstm_cell_update, a), (equations.gru_state_update, a[:3]),
                     (equations.lstm_cell_update_backward, a + [a[0]]),
                     (equations.gru_state_update_backward, a),
                     (equations.carry_masked, [m, a[0], a[1]])):
        args = args[:fn.__code__.co_argcount]
        want, got = fn(*args), numba.njit(fn)(*args)
        for w_, g_ in zip(want if isinstance(want, tuple) else [want],
                          got if isinstance(got, tuple) else [got]):
            np.testing.assert_allclose(g_, w_, rtol=1e-15)
