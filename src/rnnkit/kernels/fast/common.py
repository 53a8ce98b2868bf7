"""Python-side helpers shared by the fast kernels: argument preparation and batch blocks."""

import numpy as np


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


def trace_buffer(dh_trace, scratch):
    """Where a backward pass writes dL/dh_t: ``dh_trace`` itself when it is C-contiguous of the
    right dtype, else a temporary to copy from (a placeholder when no trace is wanted)."""
    if dh_trace is None:
        return scratch.reshape((1,) + scratch.shape)
    if dh_trace.flags.c_contiguous and dh_trace.dtype == scratch.dtype:
        return dh_trace
    return np.empty(dh_trace.shape, dtype=scratch.dtype)


def run_blocks(block, B, H):
    """Call ``block(b0, b1)`` over the batch rows [0, B)."""
    block(0, B)
