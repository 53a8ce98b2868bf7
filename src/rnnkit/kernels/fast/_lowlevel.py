"""What the compiled kernels are built from: numpy's own BLAS, a pointer helper, a vector tanh.

**BLAS.** The per-step recurrent products are small (8-64 rows), so the time goes into calling
overhead and into which BLAS runs them. Numba's ``np.dot`` goes through SciPy's separate OpenBLAS
(a second thread pool fighting the first over two cores); instead we call the ``cblas_?gemm``
that numpy itself was linked against. numpy >= 2 wheels bundle OpenBLAS built with 64-bit
integers and export it as ``scipy_cblas_sgemm64_`` / ``scipy_cblas_dgemm64_``; we look the
symbols up through the handle of numpy's extension module (``dlsym`` searches its dependencies,
wherever the library file lies), check them on a tiny product, and register their addresses with
llvmlite under our own names. Compiled code refers to the symbol *name*, so ``cache=True`` keeps
working: every process registers the address again on import before any kernel runs.

If the symbols are missing (another BLAS, 32-bit integers) ``AVAILABLE`` is False and the
dispatcher keeps to the reference kernels.

**tanh.** LLVM vectorises a loop only if everything in it is vectorisable; libm's ``tanhf`` is
not. For float32 we use a rational approximation (Eigen's ``generic_fast_tanh_float``): odd
polynomial of degree 13 over an even one of degree 6, on x clamped to +-7.9053, max relative
error 3.4e-7 (about 3 float32 ulp near 0.5, i.e. float32 rounding). float64 uses ``np.tanh``
(libm, exact) so float64 results agree with the reference to ~1e-15.
Sigmoid is ``0.5 * tanh(0.5 x) + 0.5``, the same formula as :mod:`rnnkit.activations`.

Note: numba's on-disk cache of a kernel is invalidated by edits to the kernel's own file only.
Code from this file is inlined into the kernels, so after editing it delete the
``__pycache__/*.nbi`` / ``*.nbc`` files of this package (or touch the kernel modules).
"""

import ctypes

import numpy as np

import llvmlite.binding as llvm
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

_SYMBOLS = {  # our name -> candidate exported names (64-bit integer interface only)
    "rnnkit_sgemm": ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
    "rnnkit_dgemm": ("scipy_cblas_dgemm64_", "cblas_dgemm64_"),
    "rnnkit_blas_set_threads": ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_"),
    "rnnkit_blas_get_threads": ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_"),
}


def _find_blas():
    """ctypes functions of numpy's BLAS by our names, or None when not found/usable."""
    try:
        from numpy._core import _multiarray_umath as mod
    except ImportError:  # numpy < 2
        from numpy.core import _multiarray_umath as mod
    lib = ctypes.CDLL(mod.__file__)
    found = {}
    for ours, candidates in _SYMBOLS.items():
        for name in candidates:
            fn = getattr(lib, name, None)
            if fn is not None:
                found[ours] = fn
                break
        else:
            return None
    return found


def _check_gemm(fn, dtype):
    """One small product through ``fn`` against numpy's matmul (guards the ABI assumptions)."""
    ct = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    i64, i32 = ctypes.c_int64, ctypes.c_int
    fn.restype = None
    fn.argtypes = [i32, i32, i32, i64, i64, i64, ct, ctypes.c_void_p, i64, ctypes.c_void_p, i64,
                   ct, ctypes.c_void_p, i64]
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 5)).astype(dtype)
    b = rng.standard_normal((4, 5)).astype(dtype)       # used transposed
    c = np.ones((3, 4), dtype=dtype)
    fn(ROW_MAJOR, NO_TRANS, TRANS, 3, 4, 5, 2.0, a.ctypes.data, 5, b.ctypes.data, 5, 0.5,
       c.ctypes.data, 4)
    return np.allclose(c, 2.0 * a @ b.T + 0.5, rtol=1e-5, atol=1e-5)


def _register():
    found = _find_blas()
    if found is None:
        return None
    if not (_check_gemm(found["rnnkit_sgemm"], np.float32)
            and _check_gemm(found["rnnkit_dgemm"], np.float64)):
        return None
    for ours, fn in found.items():
        llvm.add_symbol(ours, ctypes.cast(fn, ctypes.c_void_p).value)
    found["rnnkit_blas_get_threads"].restype = ctypes.c_int
    found["rnnkit_blas_set_threads"].argtypes = [ctypes.c_int]
    return found


_BLAS = _register()
AVAILABLE = _BLAS is not None


def blas_threads():
    """The number of threads numpy's OpenBLAS uses now (the thread policy that sets it is in
    :mod:`rnnkit.kernels.threads`)."""
    return int(_BLAS["rnnkit_blas_get_threads"]())


def set_blas_threads(n):
    """Set the number of threads of numpy's OpenBLAS (process-wide)."""
    _BLAS["rnnkit_blas_set_threads"](int(n))


def _small_mnk():
    """Largest m*n*k that OpenBLAS runs with its small-matrix kernel, or 0 where it has none.

    OpenBLAS >= 0.3.17 built for AVX-512 cores (SkylakeX and later) has a separate sgemm/dgemm
    kernel for products with M*N*K <= 1e6 (no packing, no threading). On this machine a step's
    product (32, 128) @ (128, 512) -- 2.1e6 -- runs at ~73 GFLOP/s in one call and at ~95 in
    chunks of <= 15 rows. AVX2 cores have no such kernel: there we never split.
    """
    try:
        from numpy._core import _multiarray_umath as mod
    except ImportError:
        from numpy.core import _multiarray_umath as mod
    lib = ctypes.CDLL(mod.__file__)
    fn = getattr(lib, "scipy_openblas_get_corename64_", None)
    if fn is None:
        return 0
    fn.restype = ctypes.c_char_p
    core = (fn() or b"").decode(errors="replace").lower()
    return 1_000_000 if core in ("skylakex", "cooperlake", "sapphirerapids") else 0


SMALL_MNK = _small_mnk() if AVAILABLE else 0


def _gemm_sig(fp):
    i32, i64, p = types.int32, types.int64, types.voidptr
    return types.void(i32, i32, i32, i64, i64, i64, fp, p, i64, p, i64, fp, p, i64)


_sgemm = types.ExternalFunction("rnnkit_sgemm", _gemm_sig(types.float32))
_dgemm = types.ExternalFunction("rnnkit_dgemm", _gemm_sig(types.float64))


@intrinsic
def ptr(typingctx, arr, offset):
    """``void*`` to element ``offset`` (counted in elements, row-major) of a contiguous array."""
    if not isinstance(arr, types.Array) or not isinstance(offset, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        off = context.cast(builder, args[1], signature.args[1], types.intp)
        return builder.bitcast(builder.gep(ary.data, [off]), cgutils.voidptr_t)

    return types.voidptr(arr, offset), codegen


def gemm(trans_a, trans_b, m, n, k, alpha, a, off_a, lda, b, off_b, ldb, beta, c, off_c, ldc):
    """C = alpha op(A) op(B) + beta C on row-major operands given as (array, offset, ld)."""
    raise NotImplementedError("gemm is only callable from compiled code")


@overload(gemm, jit_options={"nogil": True})
def _gemm_impl(trans_a, trans_b, m, n, k, alpha, a, off_a, lda, b, off_b, ldb, beta, c, off_c,
               ldc):
    if a.dtype == types.float32:
        fn = _sgemm
    elif a.dtype == types.float64:
        fn = _dgemm
    else:
        return None
    fp = a.dtype

    def impl(trans_a, trans_b, m, n, k, alpha, a, off_a, lda, b, off_b, ldb, beta, c, off_c,
             ldc):
        if m > 0 and n > 0:
            fn(np.int32(ROW_MAJOR), np.int32(trans_a), np.int32(trans_b), np.int64(m),
               np.int64(n), np.int64(k), fp(alpha), ptr(a, off_a), np.int64(lda), ptr(b, off_b),
               np.int64(ldb), fp(beta), ptr(c, off_c), np.int64(ldc))

    return impl


@njit(nogil=True)
def gemm_rows(m, n, k, a, off_a, lda, b, off_b, ldb, beta, c, off_c, ldc, small_mnk):
    """C = A B + beta C (no transposes) for the m rows of A and C, in tiles small enough for
    OpenBLAS's small-matrix kernel when ``small_mnk`` > 0 (see :func:`_small_mnk`).

    Tiles of at most 12 rows (a multiple of 4, rows balanced over the chunks) by the whole
    width n, or, when 12 rows of the whole width are over the limit, by a multiple of 64
    (128) columns. Measured on this machine (one thread, GFLOP/s, one call -> tiles):
    (32, 128) @ (128, 512) 74 -> 97-114, (64, 256) @ (256, 1024) 78 -> 108 (12 x 256 tiles),
    (64, 1024) @ (1024, 256) 91 -> 97-100 (12 x 64), (128, 256) @ (256, 64) 92 -> 110.
    Outside the small kernel (4 x 1024 of k = 256, 12 x 512) the same products ran at 18-50.
    """
    rows, cols = m, n
    if small_mnk > 0 and m * n * k > small_mnk:
        if 12 * n * k > small_mnk:
            cols = (small_mnk // (12 * k)) // 64 * 64
            if cols > 128:
                cols = cols // 128 * 128
        if cols >= 64:
            m_max = min(12, (small_mnk // (cols * k)) // 4 * 4)
            if m_max >= 4:
                chunks = (m + m_max - 1) // m_max
                rows = ((m + chunks - 1) // chunks + 3) // 4 * 4
            else:
                cols = n
        else:
            cols = n
    c0 = 0
    while c0 < n:
        nc = min(cols, n - c0)
        r0 = 0
        while r0 < m:
            r = min(rows, m - r0)
            gemm(NO_TRANS, NO_TRANS, r, nc, k, 1.0, a, off_a + r0 * lda, lda, b, off_b + c0,
                 ldb, beta, c, off_c + r0 * ldc + c0, ldc)
            r0 += r
        c0 += nc


# vecmat_add instead of BLAS for at most DOT_ROWS rows per thread: measured here for one row
# times (K, 4K), K = 64 / 128 / 256: 0.71 / 2.9 / 11.7 us vs BLAS 0.79 / 4.4 / 32 us; from two
# rows BLAS is as fast or faster.
DOT_ROWS = 1


@njit(nogil=True, fastmath=True, error_model="numpy")
def vecmat_add(a, W, c, b0, b1):
    """``c[b, :] += a[b, :] @ W`` for rows ``b0 <= b < b1``, hand-written for one or two rows.

    a (B, K), W (K, N) row-major, c (B, N). For a single row a BLAS call costs more in calling
    and packing overhead than the product itself. Four rows of W at a time
    (``c_b += a_bk W_k + a_b,k+1 W_k+1 + ...``), so each pass over ``c_b`` does four
    multiply-adds per load and store; the loop over N is contiguous and vectorises
    (``fastmath``: a different summation order than BLAS, float32 rounding).
    """
    K, N = W.shape
    for b in range(b0, b1):
        v, out = a[b], c[b]
        k = 0
        while k + 4 <= K:
            v0, v1, v2, v3 = v[k], v[k + 1], v[k + 2], v[k + 3]
            w0, w1, w2, w3 = W[k], W[k + 1], W[k + 2], W[k + 3]
            for j in range(N):
                out[j] += v0 * w0[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j]
            k += 4
        while k < K:
            vk, w0 = v[k], W[k]
            for j in range(N):
                out[j] += vk * w0[j]
            k += 1


@njit(nogil=True)
def project_all_steps(x, W_ih, bias, xp, use_pre, small, b0, b1):
    """With ``use_pre``: ``xp[b] = bias + x[b] @ W_ih`` (T, G) for rows ``b0 <= b < b1``, one
    product per row over all T steps (BLAS in small-matrix tiles); nothing otherwise."""
    if not use_pre:
        return
    B, T, I = x.shape
    G = W_ih.shape[1]
    for b in range(b0, b1):
        for t in range(T):
            p = xp[b, t]
            for j in range(G):
                p[j] = bias[j]
        gemm_rows(T, G, I, x, b * T * I, I, W_ih, 0, G, 1.0, xp, b * T * G, G, small)


@njit(nogil=True)
def input_step(x, ts, W_ih, bias, xp, use_pre, u, z, small, b0, b1):
    """``z[b] = bias + x[b, ts] @ W_ih`` for rows ``b0 <= b < b1``: one step's input projection.

    x (B, T, I) batch-first and C-contiguous (BLAS reads the rows ``x[b, ts]`` with stride
    T*I), W_ih (I, G), bias (G,), z (B, G). With ``use_pre`` the projections of all steps were
    made beforehand, xp (B, T, G) (:func:`project_all_steps`), and are copied; otherwise one
    row copies ``x[b, ts]`` into the scratch u (B, I) and uses :func:`vecmat_add`, more rows
    BLAS.
    """
    B, T, I = x.shape
    G = W_ih.shape[1]
    if use_pre:
        for b in range(b0, b1):
            zb, pb = z[b], xp[b, ts]
            for j in range(G):
                zb[j] = pb[j]
        return
    for b in range(b0, b1):
        zb = z[b]
        for j in range(G):
            zb[j] = bias[j]
    if b1 - b0 <= DOT_ROWS:
        for b in range(b0, b1):
            xb, ub = x[b, ts], u[b]
            for k in range(I):
                ub[k] = xb[k]
        vecmat_add(u, W_ih, z, b0, b1)
    else:
        gemm_rows(b1 - b0, G, I, x, (b0 * T + ts) * I, T * I, W_ih, 0, G, 1.0, z, b0 * G, G,
                  small)


@njit(nogil=True)
def recurrent_step(h, W, z, small, b0, b1):
    """``z[b] += h[b] @ W`` for rows ``b0 <= b < b1``; h (B, K), W (K, G), z (B, G), all
    C-contiguous: BLAS with beta = 1, or :func:`vecmat_add` for one row."""
    K, G = W.shape
    if b1 - b0 <= DOT_ROWS:
        vecmat_add(h, W, z, b0, b1)
    else:
        gemm_rows(b1 - b0, G, K, h, b0 * K, K, W, 0, G, 1.0, z, b0 * G, G, small)


# float32 tanh: Eigen's rational approximation (see the module docstring)
_A1, _A3, _A5, _A7 = 4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, \
    5.12229709037114e-08
_A9, _A11, _A13 = -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16
_B0, _B2, _B4, _B6 = 4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, \
    1.19825839466702e-06
_CLAMP = 7.90531110763549805


def tanh(x):
    """Vectorisable tanh for compiled code: rational approximation (float32), libm (float64)."""
    return np.tanh(x)


@overload(tanh, jit_options={"fastmath": True, "error_model": "numpy"})
def _tanh_impl(x):
    if x == types.float32:
        f = np.float32
        a1, a3, a5, a7, a9, a11, a13 = (f(_A1), f(_A3), f(_A5), f(_A7), f(_A9), f(_A11),
                                        f(_A13))
        b0, b2, b4, b6 = f(_B0), f(_B2), f(_B4), f(_B6)
        lo, hi = f(-_CLAMP), f(_CLAMP)

        def impl(x):
            x = min(max(x, lo), hi)
            x2 = x * x
            p = x2 * a13 + a11
            p = x2 * p + a9
            p = x2 * p + a7
            p = x2 * p + a5
            p = x2 * p + a3
            p = x2 * p + a1
            q = x2 * b6 + b4
            q = x2 * q + b2
            q = x2 * q + b0
            return (x * p) / q

        return impl
    if x == types.float64:
        return lambda x: np.tanh(x)
    return None


def sigmoid(x):
    """``0.5 tanh(0.5 x) + 0.5`` for compiled code."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@overload(sigmoid, jit_options={"fastmath": True, "error_model": "numpy"})
def _sigmoid_impl(x):
    if isinstance(x, types.Float):
        half = np.float32(0.5) if x == types.float32 else 0.5

        def impl(x):
            return half * tanh(half * x) + half

        return impl
    return None


def like(arr, value):
    """``value`` as a scalar of ``arr``'s dtype (keeps float32 maths in float32)."""
    return arr.dtype.type(value)


@overload(like)
def _like_impl(arr, value):
    if isinstance(arr, types.Array):
        dt = arr.dtype
        return lambda arr, value: dt(value)
    return None
