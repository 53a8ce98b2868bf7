"""rnnkit's one thread pool: the batch split of the recurrences and the products around them.

The policy (the number lives in :func:`rnnkit.config.get_num_threads`): at most N threads
compute at a time, all of them ours. numpy's OpenBLAS is held at one thread while a recurrent
layer runs (:data:`blas_one_thread`), and the parallel work is split here over one
``ThreadPoolExecutor`` of N - 1 workers plus the calling thread:

* the recurrence: the batch in row blocks, one per thread, each block a whole compiled pass
  over the sequence with the GIL released (:func:`run_blocks`; no barrier per step);
* the big products outside the time loop (``dW_ih = X^T dxw``, ``dx = dxw W_ih^T``, ``db``,
  ``dW_hh``, the input projection ``x W_ih``): one BLAS call per thread on a block of rows or
  columns of the result (:func:`matmul`, :func:`input_grads`), so that no element's summation
  order depends on the number of threads.

Why not OpenBLAS's own threads for the products: after each threaded call its workers spin
(``sched_yield``) for up to ~0.1 s waiting for more work, while our pass threads want the same
cores; on a 2-core machine a training step at 2 threads took 4x its 1-thread time (issue 11).
A pool worker here waits on a queue without spinning.

Below ``MIN_ROWS`` rows per block (except single rows: :func:`block_edges`) or ``MIN_FLOPS`` per
product part, work stays on the calling thread (threads do not pay there). A pass called from inside a pool worker runs unsplit (no
nested pools).
"""

import contextlib
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..config import get_num_threads

MIN_ROWS = 8            # fewest batch rows worth a thread of their own in the recurrence
ALIGN_ROWS = 4          # batch blocks start on multiples of this (see block_edges)
# fewest flops of a product part worth a thread: input_grads (I = 64, G = 512) on 2 threads,
# critical-path CPU time / 1-thread time by total flops: 3.3M 1.17, 6.6M 0.96, 13M 0.85,
# 26M 0.76, 52M 0.67, 420M 0.60 (waking a worker, not in CPU time, adds ~10-50 us)
MIN_FLOPS = 8e6
MIN_COLS = 64           # narrowest column block of a split product (BLAS kernels' panel)
MIN_PROD_ROWS = 32      # fewest rows of a row block of a split product
MIN_COPY = 1 << 16      # fewest elements of a block of a split copy (a transpose)


# ---- numpy's OpenBLAS thread count (ctypes; no numba needed) -------------------------------
def _find_blas_threads():
    try:
        from numpy._core import _multiarray_umath as mod
    except ImportError:  # numpy < 2
        from numpy.core import _multiarray_umath as mod
    lib = ctypes.CDLL(mod.__file__)
    for prefix, suffix in (("scipy_", "64_"), ("", "64_"), ("scipy_", ""), ("", "")):
        get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
        put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
        if get is not None and put is not None:
            get.restype, get.argtypes = ctypes.c_int, []
            put.restype, put.argtypes = None, [ctypes.c_int]
            return get, put
    return None


_BLAS = _find_blas_threads()


def blas_threads():
    """The number of threads numpy's OpenBLAS uses now (None when it is not OpenBLAS)."""
    return None if _BLAS is None else int(_BLAS[0]())


def set_blas_threads(n):
    """Set numpy's OpenBLAS thread count (process-wide; nothing when it is not OpenBLAS)."""
    if _BLAS is not None:
        _BLAS[1](int(n))


class _BlasOneThread(contextlib.ContextDecorator):
    """numpy's BLAS at one thread while rnnkit computes (a context manager and a decorator;
    nested and overlapping uses from several Python threads: the first to enter saves the
    setting, the last to leave restores it)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._active = 0
        self._saved = None

    def __enter__(self):
        with self._lock:
            if self._active == 0:
                self._saved = blas_threads()
                if self._saved not in (None, 1):
                    set_blas_threads(1)
            self._active += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._saved not in (None, 1):
                set_blas_threads(self._saved)
        return False


blas_one_thread = _BlasOneThread()


# ---- the pool --------------------------------------------------------------------------------
_pool = None
_pool_lock = threading.Lock()
_local = threading.local()        # .inside: this thread is running a block of ours


def num_threads():
    """The threads rnnkit may compute on now (:func:`rnnkit.config.get_num_threads`)."""
    return get_num_threads()


def _get_pool(workers):
    """The pool with exactly ``workers`` threads (a pool of another size is shut down, so no
    idle threads of an old setting stay around)."""
    global _pool
    with _pool_lock:
        if _pool is not None and _pool._max_workers != workers:
            old, _pool = _pool, None
            old.shutdown(wait=threading.current_thread() not in old._threads)
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rnnkit")
        return _pool


def shutdown():
    """Stop the pool's threads (a later parallel call starts a new pool)."""
    global _pool
    with _pool_lock:
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=threading.current_thread() not in old._threads)


def _after_fork_in_child():
    """A forked child has none of the parent's threads: start a fresh pool when needed."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()
    blas_one_thread.__init__()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _inside(fn):
    def run(*args):
        _local.inside = True
        try:
            return fn(*args)
        finally:
            _local.inside = False
    return run


def parallel(fn, parts):
    """``fn(q)`` for q in range(parts): the caller runs part 0, pool workers the others; BLAS
    at one thread meanwhile. Returns when all are done (re-raises the first error)."""
    with blas_one_thread:
        if parts <= 1:
            fn(0)
            return
        pool = _get_pool(max(parts, num_threads()) - 1)
        futures = [pool.submit(_inside(fn), q) for q in range(1, parts)]
        try:
            _inside(fn)(0)
        finally:
            for f in futures:
                f.result()


def _parts(limit):
    """How many threads to use for work that can use at most ``limit``: 1 inside a worker."""
    if getattr(_local, "inside", False):
        return 1
    return max(1, min(num_threads(), int(limit)))


def block_edges(B, n=None):
    """Row blocks ``[edges[q], edges[q+1])`` for splitting a batch of B rows over at most ``n``
    threads (default: the thread setting), chosen from measurements of one LSTM block's
    forward + backward per step on this machine kind (OpenBLAS, AVX2; CPU ms over 100 steps,
    I = 64, H = 128, by rows: 1: 2.8, 2: 6.1, 3: 11.0, 4: 8.5, 5: 11.2, 6: 9.7, 7: 13.0,
    8: 9.7, 12: 12.4, 16: 13.2, 32: 29.4):

    * a block of fewer than ``MIN_ROWS`` (8) rows gains little over twice its rows (4 -> 8 rows:
      1.14x), so blocks get at least 8 rows: no split below a batch of 16;
    * except single rows (the hand-written product, 2.2x faster than BLAS's two rows): a batch
      of at most n rows runs one row per thread;
    * block edges fall on multiples of ``ALIGN_ROWS`` (4): a 7-row block costs more than an
      8-row one.
    """
    n = _parts(B) if n is None else max(1, min(n, B))
    if B <= n:
        return list(range(B + 1)) if B > 1 else [0, B]
    n = max(1, min(n, B // MIN_ROWS))
    edges = [B * k // n for k in range(n + 1)]
    aligned = [0] + [min(B, ALIGN_ROWS * int(e / ALIGN_ROWS + 0.5)) for e in edges[1:-1]] + [B]
    if all(a < b for a, b in zip(aligned, aligned[1:])):
        edges = aligned
    return edges


def run_blocks(block, B, H=None):
    """Call ``block(b0, b1)`` over row blocks covering the batch rows [0, B), one per thread
    (:func:`block_edges`).

    The compiled passes release the GIL and touch only their own rows, so the blocks run
    concurrently, each its whole time loop (no barrier per step); BLAS runs at one thread
    inside them (the per-step products are small). ``H`` is accepted for older callers.
    """
    edges = block_edges(B)
    parallel(lambda q: block(edges[q], edges[q + 1]), len(edges) - 1)


def _split(total, parts):
    return [total * q // parts for q in range(parts + 1)]


def matmul(a, b, out=None, accumulate=False):
    """``out = a @ b`` (or ``out += a @ b`` with ``accumulate``) for 2-D operands, in blocks of
    rows (tall results) or of columns of ``out`` over the threads, each block one BLAS call.
    Every element is summed in the same order whatever the number of threads."""
    m, k = a.shape
    n = b.shape[1]
    if out is None:
        out = np.empty((m, n), dtype=np.result_type(a, b))
        accumulate = False
    by_rows = m >= 4 * n
    limit = min(2.0 * m * n * k / MIN_FLOPS, (m // MIN_PROD_ROWS) if by_rows else (n // MIN_COLS))
    parts = _parts(limit)
    edges = _split(m if by_rows else n, parts)

    def part(q):
        s = slice(edges[q], edges[q + 1])
        if by_rows:
            p = a[s] @ b
            dst = out[s]
        else:
            p = a @ b[:, s]
            dst = out[:, s]
        if accumulate:
            dst += p
        else:
            dst[...] = p

    if parts == 1:
        with blas_one_thread:
            if accumulate:
                out += a @ b
            else:
                np.matmul(a, b, out=out)
        return out
    parallel(part, parts)
    return out


def input_grads(x, dxw, W_ih, dW, db=None):
    """The gradients of the input projection ``xw = x W_ih + b`` after BPTT, in one parallel
    region over the threads:

        dW += x^T dxw          x (N, I), dxw (N, G), dW (I, G)   (N = T * B)
        db += sum_n dxw        db (G,) or None
        dx  = dxw W_ih^T       W_ih (I, G)  ->  dx (N, I), returned

    Thread q makes the columns [c_q, c_q+1) of dW and db and the rows [r_q, r_q+1) of dx.
    """
    N, I = x.shape
    G = dxw.shape[1]
    dx = np.empty((N, I), dtype=dxw.dtype)
    flops = 4.0 * N * I * G
    parts = _parts(min(flops / MIN_FLOPS, G // MIN_COLS, N // MIN_PROD_ROWS))
    cols, rows = _split(G, parts), _split(N, parts)

    def part(q):
        c, r = slice(cols[q], cols[q + 1]), slice(rows[q], rows[q + 1])
        dW[:, c] += x.T @ dxw[:, c]
        if db is not None:
            db[c] += dxw[:, c].sum(axis=0)
        np.matmul(dxw[r], W_ih.T, out=dx[r])

    parallel(part, parts)
    return dx


def project(x, W_ih, b=None):
    """``x W_ih + b`` (N, G) for x (N, I), in row blocks over the threads."""
    out = matmul(x, W_ih)
    if b is not None:
        parts = _parts(out.shape[0] // MIN_PROD_ROWS) if out.size >= 1 << 16 else 1
        rows = _split(out.shape[0], parts)

        def add(q):
            out[rows[q]:rows[q + 1]] += b
        parallel(add, parts)
    return out


def contiguous(a):
    """``np.ascontiguousarray(a)``, the copy (a transpose, a reversal) split along axis 0 over
    the threads when it is big (numpy copies without the GIL)."""
    if a.flags.c_contiguous:
        return a
    parts = _parts(min(a.shape[0], a.size / MIN_COPY)) if a.ndim else 1
    if parts == 1:
        return np.ascontiguousarray(a)
    out = np.empty(a.shape, dtype=a.dtype)
    edges = _split(a.shape[0], parts)

    def part(q):
        out[edges[q]:edges[q + 1]] = a[edges[q]:edges[q + 1]]
    parallel(part, parts)
    return out
