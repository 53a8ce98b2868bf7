"""``to_categorical``: class indices to one-hot rows, as ``keras.utils.to_categorical``.

For an integer array ``y`` of shape S and ``num_classes`` C the result has shape S + (C,), with
``out[..., k] = 1`` where ``y == k``; as in Keras, a trailing axis of size 1 in ``y`` (a column
of labels, shape (N, 1)) is dropped first, so (N, 1) gives (N, C).

    >>> to_categorical([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
"""

import numpy as np

__all__ = ["to_categorical"]


def to_categorical(x, num_classes=None):
    """One-hot encode the class indices ``x`` (float64, like NumPy's default in Keras 3).

    Args:
        x: array-like of non-negative integers (class indices), any shape.
        num_classes: C; ``None`` takes ``max(x) + 1``.

    Returns:
        float64 array of shape ``x.shape + (C,)`` (a trailing axis of size 1 dropped first).
    """
    y = np.asarray(x)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.floor(y)):
            raise ValueError("to_categorical: expected integer class indices, got non-integer "
                             "values")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iu" or y.dtype == bool:
        raise TypeError(f"to_categorical: expected integer class indices, got dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: class indices must be >= 0, got {int(y.min())}")
    top = int(y.max()) + 1 if y.size else 0
    if num_classes is None:
        num_classes = top
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be a positive int, "
                         f"got {num_classes!r}")
    elif top > num_classes:
        raise ValueError(f"to_categorical: class index {top - 1} is out of range for "
                         f"num_classes={num_classes}")
    out = np.zeros(y.shape + (int(num_classes),), dtype=np.float64)
    np.put_along_axis(out, y[..., None].astype(np.intp), 1.0, axis=-1)
    return out
