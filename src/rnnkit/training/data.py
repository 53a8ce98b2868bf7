"""Checking and batching what ``fit``/``evaluate``/``predict`` receive.

Inputs and targets are NumPy arrays (or nested lists that make one), or lists of arrays for
models with several inputs or outputs. All must have the same number of samples (first axis) and
at least one sample; the check happens before any training step. A list of equally shaped
samples given to a model with one input is stacked into one array; sequences of different
lengths are refused with a message saying to pad them.
"""

import numpy as np


def _array(a, what, where):
    """``a`` as an array; a ragged nested list becomes a clear error, not an object array."""
    try:
        arr = np.asarray(a)
    except ValueError:                   # NumPy >= 1.24 refuses inhomogeneous nested lists
        arr = None
    if arr is None or arr.dtype == object:
        raise ValueError(f"{where}: {what} is ragged (its samples or sequences have different "
                         "lengths); pad them to one length first")
    return arr


def _is_array_list(x):
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(hasattr(a, "shape") for a in x)


def as_list(x, n=None, what="x", where="fit"):
    """``x`` as a list of arrays, one per model input (or output); ``n`` is how many the model
    has (None: guess from ``x``: a list of arrays is one array per input)."""
    if x is None:
        return None
    if isinstance(x, dict):
        raise ValueError(f"{where}: {what} given as a dict; pass a list in the model's "
                         f"{'input' if what == 'x' else 'output'} order")
    if isinstance(x, (list, tuple)) and n is not None and n > 1:
        if len(x) != n:
            raise ValueError(f"{where}: the model has {n} {'inputs' if what == 'x' else 'outputs'}"
                             f" but {what} is a list of {len(x)} arrays")
        return [_array(a, f"{what}[{i}]", where) for i, a in enumerate(x)]
    if _is_array_list(x) and (n is None or len(x) == 1):
        return [_array(a, what if len(x) == 1 else f"{what}[{i}]", where)
                for i, a in enumerate(x)]
    return [_array(x, what, where)]     # one array, or a list of samples stacked into one


def unwrap(xs):
    """A single array for one input, the list otherwise."""
    return xs[0] if len(xs) == 1 else xs


def check_data(x, y=None, sample_weight=None, where="fit", n_inputs=None, n_outputs=None):
    """Validate sample counts; returns (xs, ys, sw) as lists (ys/sw may be None)."""
    if x is None:
        raise ValueError(f"{where}: x is required")
    xs = as_list(x, n_inputs, "x", where)
    ys = as_list(y, n_outputs, "y", where)
    for i, a in enumerate(xs):
        if a.ndim == 0:
            raise ValueError(f"{where}: x{'' if len(xs) == 1 else f'[{i}]'} must be an array "
                             f"with a batch axis, got a scalar")
    n = len(xs[0])
    if any(len(a) != n for a in xs):
        raise ValueError(f"{where}: all inputs must have the same number of samples, "
                         f"got {[len(a) for a in xs]}")
    if n == 0:
        raise ValueError(f"{where}: x is empty (0 samples)")
    if ys is not None:
        for i, a in enumerate(ys):
            if a.ndim == 0 or len(a) != n:
                got = "a scalar" if a.ndim == 0 else f"{len(a)} samples"
                raise ValueError(f"{where}: x has {n} samples but y"
                                 f"{'' if len(ys) == 1 else f'[{i}]'} has {got}")
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


def check_finite(arrays, what, where):
    """Raise a clear ValueError when a float array of ``arrays`` holds NaN or inf, naming the
    first sample: without a guard one such value turns every weight into NaN."""
    for k, a in enumerate(arrays or []):
        a = np.asarray(a)
        if a.dtype.kind != "f" or a.size == 0 or (np.isfinite(a.min()) and np.isfinite(a.max())):
            continue
        bad = np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).all(axis=1))
        name = what if len(arrays) == 1 else f"{what}[{k}]"
        raise ValueError(f"{where}: {name} holds NaN or inf (first in sample {bad[0]}, "
                         f"{len(bad)} sample(s) in all); clean the data, or guard the training "
                         f"with compile(skip_nonfinite=True) or the TerminateOnNaN callback")
