"""Python-side helpers shared by the fast kernels: argument preparation and batch blocks."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _lowlevel


class Cache:
    """What a fast forward pass keeps for its backward pass (attributes by keyword)."""

    def __init__(self, **arrays):
        self.__dict__.update(arrays)
        self.used = False

    def consume(self, who):
        """Mark the cache as used by a backward pass that overwrites it in place."""
        if self.used:
            raise RuntimeError(f"fast {who}: this forward cache was already used by a backward "
                               f"pass (which overwrites it in place); run forward again")
        self.used = True


def mask_and_rec(mask, rec_dropout, T, B, H, dtype):
    """The (T, B) bool mask (all True when None), the (B, H) dropout mask or None, and the
    array to pass for it to compiled code (a placeholder when None)."""
    mask = np.ones((T, B), dtype=np.bool_) if mask is None else \
        np.ascontiguousarray(mask, dtype=np.bool_)
    if rec_dropout is None:
        return mask, None, np.ones((1, 1), dtype=dtype)
    rec = np.ascontiguousarray(rec_dropout, dtype=dtype)
    return mask, rec, rec


# At most this many batch rows: the input projection of all steps as one product per row
# rather than per step inside the loop (measured, LSTM forward at (B, 100, 64, 128): B = 1
# 0.58 vs 0.63 ms, B = 2 0.49 vs 0.52, B = 4 1.8 vs 0.83).
PRE_PROJECT_ROWS = 2


def infer_args(x, W_ih, b, W_hh, mask):
    """Arguments of the forward-only passes, C-contiguous in x's dtype: ``x`` (B, T, I),
    ``W_ih`` (I, G), the bias (G,) (zeros for None), ``W_hh`` (H, G), the (B, T) bool mask (all
    True for None), a (B, I) scratch row buffer, and ``(xp, use_pre)``: for a batch of at most
    PRE_PROJECT_ROWS rows a (B, T, G) buffer for the input projections of all steps, which
    the pass fills first (:func:`rnnkit.kernels.fast._lowlevel.project_all_steps`; a one-row
    product per step is slower), else a placeholder and False.
    """
    x = np.ascontiguousarray(x)
    dtype = x.dtype
    B, T, I = x.shape
    G = W_hh.shape[1]
    W_ih = np.ascontiguousarray(W_ih, dtype=dtype)
    bias = np.zeros(G, dtype=dtype) if b is None else np.ascontiguousarray(b, dtype=dtype)
    mask = np.ones((B, T), dtype=np.bool_) if mask is None else \
        np.ascontiguousarray(mask, dtype=np.bool_)
    use_pre = B <= PRE_PROJECT_ROWS
    xp = np.empty((B, T, G) if use_pre else (1, 1, 1), dtype=dtype)
    return (x, W_ih, bias, np.ascontiguousarray(W_hh, dtype=dtype), mask,
            np.empty((B, I), dtype=dtype), xp, use_pre)


def forward_x_args(x, W_ih, b, G):
    """Arguments of the training forwards from the inputs (``*_forward_x``), C-contiguous in
    x's dtype: ``x`` (T, B, I), ``W_ih`` (I, G), the bias (G,) (zeros for None), and ``xw``:
    for a batch of at most PRE_PROJECT_ROWS rows the input projections of all steps,
    ``x W_ih + b`` (T, B, G), made in one product (the caller then runs the forward on ``xw``),
    else None (the pass projects each step inside the loop).
    """
    x = np.ascontiguousarray(x)
    T, B, I = x.shape
    bias = np.zeros(G, dtype=x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    W_ih = np.ascontiguousarray(W_ih, dtype=x.dtype)
    xw = None
    if B <= PRE_PROJECT_ROWS:                    # one or two rows: one product for all steps
        xw = x.reshape(T * B, I) @ W_ih
        xw += bias
        xw = xw.reshape(T, B, G)
    return x, W_ih, bias, xw


def trace_buffer(dh_trace, scratch):
    """Where a backward pass writes dL/dh_t: ``dh_trace`` itself when it is C-contiguous of the
    right dtype, else a temporary to copy from (a placeholder when no trace is wanted)."""
    if dh_trace is None:
        return scratch.reshape((1,) + scratch.shape)
    if dh_trace.flags.c_contiguous and dh_trace.dtype == scratch.dtype:
        return dh_trace
    return np.empty(dh_trace.shape, dtype=scratch.dtype)


def usable_cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


MIN_ROWS = 4            # fewest batch rows worth a thread of their own
_threads = max(1, int(os.environ.get("RNNKIT_NUM_THREADS", 0)) or usable_cores())
_pool = None
_pool_lock = threading.Lock()


def set_num_threads(n):
    """How many threads a pass may split its batch over (default: the usable cores, or the
    environment variable ``RNNKIT_NUM_THREADS``)."""
    global _threads
    _threads = max(1, int(n))


def num_threads():
    """How many threads a pass may split its batch over."""
    return _threads


def _get_pool(n):
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < n:
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="rnnkit")
        return _pool


def _after_fork_in_child():
    """A forked child has none of the parent's threads: start a fresh pool when needed."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()
    _one_blas_thread.__init__()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run_blocks(block, B, H):
    """Call ``block(b0, b1)`` over row blocks covering the batch rows [0, B).

    The compiled passes release the GIL and touch only their own rows, so the blocks run
    concurrently: the caller runs the first, pool threads the others; there is no barrier per
    step, each block runs its whole time loop. Meanwhile numpy's BLAS is set to one thread
    (the per-step products are small; two BLAS pools over two cores fight each other) and
    restored afterwards.
    """
    n = max(1, min(_threads, B // MIN_ROWS))
    with _one_blas_thread:
        if n == 1:
            block(0, B)
            return
        edges = [B * k // n for k in range(n + 1)]
        futures = [_get_pool(n - 1).submit(block, edges[k], edges[k + 1])
                   for k in range(1, n)]
        block(edges[0], edges[1])
        for f in futures:
            f.result()


class _OneBlasThread:
    """numpy's BLAS at one thread while any pass runs (passes may overlap on several Python
    threads: the first to enter saves the setting, the last to leave restores it)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._active = 0
        self._saved = None

    def __enter__(self):
        with self._lock:
            if self._active == 0:
                self._saved = _lowlevel.blas_threads()
                if self._saved != 1:
                    _lowlevel.set_blas_threads(1)
            self._active += 1

    def __exit__(self, *exc):
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._saved != 1:
                _lowlevel.set_blas_threads(self._saved)


_one_blas_thread = _OneBlasThread()


def matmul_split(a, b, out, min_flops=2e7):
    """``out[...] = a @ b`` with the columns of ``out`` split over the pass threads, each
    product on one BLAS thread (numpy releases the GIL inside BLAS). One thread below
    ``min_flops``. Keeps the threading of a whole training step ours: OpenBLAS's own pool
    is not woken between the compiled passes."""
    m, k = a.shape
    n = b.shape[1]
    parts = max(1, min(_threads, n // 64)) if 2.0 * m * n * k >= min_flops else 1
    with _one_blas_thread:
        if parts == 1:
            np.matmul(a, b, out=out)
            return out
        edges = [n * q // parts for q in range(parts + 1)]

        def part(q):
            c0, c1 = edges[q], edges[q + 1]
            out[:, c0:c1] = a @ b[:, c0:c1]

        futures = [_get_pool(parts - 1).submit(part, q) for q in range(1, parts)]
        part(0)
        for f in futures:
            f.result()
    return out
