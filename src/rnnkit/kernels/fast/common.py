"""Python-side helpers shared by the fast kernels: argument preparation and batch blocks."""

from collections import namedtuple

import numpy as np

from ... import config
from .. import threads


# The compiled LSTM and GRU passes take their arguments packed by concept: module-level
# namedtuples, which numba passes as one argument each (and caches the passes that take them).
# The inputs of a training pass: its step projections read from xw (T, B, G), or (from_x) made
# per step from x (T, B, I) time-major, W_ih (I, G) and bias (G,); the unused: placeholders.
StepInputs = namedtuple("StepInputs", ["xw", "x", "W_ih", "bias", "from_x"])
# Recurrent dropout: the (B, H) mask r multiplying h_prev where it enters a product, when on.
Dropout = namedtuple("Dropout", ["r", "on"])
# dL/dh_t of every step, for diagnostics: a (T, B, H) buffer the backward pass fills when on.
Trace = namedtuple("Trace", ["dh", "on"])
# The inputs of a forward-only pass: x (B, T, I) batch-first, W_ih (I, G), bias (G,), and
# xp (B, T, G) for the projections of all steps when use_pre (see infer_args).
InferInputs = namedtuple("InferInputs", ["x", "W_ih", "bias", "xp", "use_pre"])
# Where a forward-only pass writes h_t: y (B, T, H) in processing order when on (zeros at the
# masked steps with zero_masked), else a placeholder.
InferOutput = namedtuple("InferOutput", ["y", "on", "zero_masked"])


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


# The thread policy and the pool live in rnnkit.config and rnnkit.kernels.threads; these names
# stay for older callers (``common.set_num_threads(n)`` is ``rnnkit.config.set_num_threads``).
usable_cores = config.usable_cores
set_num_threads = config.set_num_threads
num_threads = config.get_num_threads
run_blocks = threads.run_blocks
_one_blas_thread = threads.blas_one_thread


def matmul_split(a, b, out):
    """``out[...] = a @ b`` over the threads (:func:`rnnkit.kernels.threads.matmul`)."""
    return threads.matmul(a, b, out)


def plain(*packs):
    """The argument packs (namedtuples of arrays and switches) as plain tuples, for a compiled
    pass that unpacks them by position (``W_ih, bias, W_hh = w``) in the namedtuple's field
    order. numba's dispatcher types a plain tuple of arrays almost as fast as separate
    arguments, a namedtuple through a slower path: measured here (numba 0.68, CPU time per call
    of an empty function taking 10 arrays, 6 switches and the block), separate arguments 1.3
    us, three plain tuples 1.5 us, three namedtuples 3.9 us."""
    return tuple(map(tuple, packs))
