"""Checking and batching what ``fit``/``evaluate``/``predict`` receive.

Inputs and targets are NumPy arrays, or lists of arrays for models with several inputs or
outputs. All must have the same number of samples (first axis) and at least one sample; the
check happens before any training step.
"""

import numpy as np


def as_list(x):
    """``x`` as a list of arrays (one per model input or output)."""
    if x is None:
        return None
    if isinstance(x, (list, tuple)) and len(x) and not np.isscalar(x[0]) and np.ndim(x[0]) > 0 \
            and _looks_like_arrays(x):
        return [np.asarray(a) for a in x]
    return [np.asarray(x)]


def _looks_like_arrays(seq):
    try:
        return all(hasattr(a, "shape") for a in seq)
    except TypeError:
        return False


def unwrap(xs):
    """A single array for one input, the list otherwise."""
    return xs[0] if len(xs) == 1 else xs


def check_data(x, y=None, sample_weight=None, where="fit"):
    """Validate sample counts; returns (xs, ys, sw) as lists (ys/sw may be None)."""
    if x is None:
        raise ValueError(f"{where}: x is required")
    xs = as_list(x)
    ys = as_list(y)
    n = len(xs[0]) if xs[0].ndim else 0
    for i, a in enumerate(xs):
        if a.ndim == 0:
            raise ValueError(f"{where}: x[{i}] must be an array with a batch axis, got a scalar")
        if len(a) != n:
            raise ValueError(f"{where}: all inputs must have the same number of samples, "
                             f"got {[len(a) for a in xs]}")
        if a.dtype == object:
            raise ValueError(f"{where}: x[{i}] is ragged (sequences of different lengths); "
                             "pad it first, e.g. with rnnkit.data.pad_sequences")
    if n == 0:
        raise ValueError(f"{where}: x is empty (0 samples)")
    if ys is not None:
        for i, a in enumerate(ys):
            if a.ndim == 0 or len(a) != n:
                got = "a scalar" if a.ndim == 0 else f"{len(a)} samples"
                raise ValueError(f"{where}: x has {n} samples but y"
                                 f"{'' if len(ys) == 1 else f'[{i}]'} has {got}")
            if a.dtype == object:
                raise ValueError(f"{where}: y is ragged; pad it first")
    sw = None
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.ndim == 0 or len(sw) != n:
            raise ValueError(f"{where}: sample_weight must have {n} entries, got shape {sw.shape}")
    return xs, ys, sw


def take(arrays, index):
    """Rows ``index`` (a slice or an index array) of every array; None stays None."""
    if arrays is None:
        return None
    if isinstance(arrays, np.ndarray):
        return arrays[index]
    return [a[index] for a in arrays]


def split_validation(xs, ys, sw, validation_split):
    """Keras semantics: the LAST ``validation_split`` fraction of samples, before shuffling."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split}")
    n = len(xs[0])
    cut = int(n * (1.0 - validation_split))
    if cut == 0 or cut == n:
        raise ValueError(f"fit: validation_split={validation_split} of {n} samples leaves an "
                         "empty training or validation set")
    tr, va = slice(0, cut), slice(cut, n)
    return (take(xs, tr), take(ys, tr), take(sw, tr)), (take(xs, va), take(ys, va), take(sw, va))


def batches(n, batch_size, shuffle=False, rng=None):
    """Index arrays (or slices) for successive batches of ``n`` samples; no data is copied."""
    if shuffle:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]
    else:
        for start in range(0, n, batch_size):
            yield slice(start, min(start + batch_size, n))
