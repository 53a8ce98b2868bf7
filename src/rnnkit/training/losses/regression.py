"""Regression losses: mean squared error and mean absolute error (Keras 3 formulas).

Per sample, over the last axis of ``C`` outputs::

    mean_squared_error  = mean((y_pred - y_true)^2)     d/dy_pred = 2 (y_pred - y_true) / C
    mean_absolute_error = mean(|y_pred - y_true|)       d/dy_pred = sign(y_pred - y_true) / C

(``sign(0) = 0``, the subgradient PyTorch's ``l1_loss`` uses too.)

    >>> import numpy as np
    >>> from rnnkit.training.losses import MeanAbsoluteError
    >>> loss, grad = MeanAbsoluteError().value_and_grad(np.array([[0.0, 1.0]]),
    ...                                                 np.array([[1.0, 1.0]]))
    >>> loss, grad.tolist()
    (0.5, [[0.5, 0.0]])
"""

import numpy as np

from .base import Loss, align_ranks


def error_means(op, y_true, y_pred, out=None, name="loss"):
    """``mean(op(y_pred - y_true), axis=-1)`` (``op``: ``np.square`` or ``np.abs``) computed in
    ``out`` (an array of ``y_pred``'s shape and dtype, or None: a new one), without another
    array of that size: the per-sample values of ``forward`` below, bit for bit (float32 and
    float64; float16's ``np.mean`` sums in float32). Returns ``(values, out)``."""
    y_true = align_ranks(y_true, y_pred, name)
    d = np.subtract(y_pred, y_true, out=out, dtype=y_pred.dtype)          # diff, (..., C)
    values = np.add.reduce(op(d, out=d), axis=-1)                         # sum op(diff)
    values /= y_pred.shape[-1]                                            # mean over C
    return values, d


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true)^2)`` over the last axis, then Keras's reduction."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(name=name, reduction=reduction)

    def forward(self, y_true, y_pred, mask=None):
        y_true = align_ranks(y_true, y_pred, self.name).astype(y_pred.dtype, copy=False)
        diff = y_pred - y_true                                   # (..., C)
        return np.mean(np.square(diff), axis=-1), diff

    def backward(self, dvalues, diff):
        C = diff.shape[-1]
        # values = sum(diff^2) / C  ->  ddiff = dvalues * 2 diff / C ; dy_pred = ddiff
        return dvalues[..., None] * diff * (2.0 / C)

    def fused_value_and_grad(self, y_true, y_pred, dvalue, divisor, out=None):
        """forward and backward above in four passes over ``out`` (no other array)."""
        values, d = error_means(np.square, y_true, y_pred, out, self.name)
        np.subtract(y_pred, align_ranks(y_true, y_pred, self.name), out=d,
                    dtype=y_pred.dtype)                                   # diff again
        d *= dvalue
        d *= 2.0 / y_pred.shape[-1]                                       # dvalue * diff * 2/C
        return float(np.sum(values, dtype=np.float64) / divisor), d   # as the unfused path


class MeanAbsoluteError(Loss):
    """``mean(|y_pred - y_true|)`` over the last axis, then Keras's reduction."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(name=name, reduction=reduction)

    def forward(self, y_true, y_pred, mask=None):
        y_true = align_ranks(y_true, y_pred, self.name).astype(y_pred.dtype, copy=False)
        diff = y_pred - y_true                                   # (..., C)
        return np.mean(np.abs(diff), axis=-1), diff

    def backward(self, dvalues, diff):
        C = diff.shape[-1]
        # values = sum(|diff|) / C  ->  dy_pred = dvalues * sign(diff) / C
        return dvalues[..., None] * np.sign(diff) * (1.0 / C)

    def fused_value_and_grad(self, y_true, y_pred, dvalue, divisor, out=None):
        """forward and backward above in four passes over ``out`` (no other array)."""
        values, d = error_means(np.abs, y_true, y_pred, out, self.name)
        np.subtract(y_pred, align_ranks(y_true, y_pred, self.name), out=d, dtype=y_pred.dtype)
        np.sign(d, out=d)
        d *= dvalue
        d *= 1.0 / y_pred.shape[-1]                                       # dvalue * sign / C
        return float(np.sum(values, dtype=np.float64) / divisor), d   # as the unfused path


def mean_squared_error(y_true, y_pred):
    """Per-sample ``mean((y_pred - y_true)^2)`` over the last axis (no reduction), as Keras."""
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample ``mean(|y_pred - y_true|)`` over the last axis (no reduction), as Keras."""
    return MeanAbsoluteError().call(y_true, y_pred)
