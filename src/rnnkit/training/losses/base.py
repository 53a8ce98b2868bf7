"""The :class:`Loss` base: per-sample values, Keras 3's reduction, and the gradient of it.

A loss first computes per-sample values with ``call`` (Keras's name): one number per sequence for
outputs of shape ``(B, C)`` and one per step for outputs of shape ``(B, T, C)``; the last axis is
always reduced inside the loss. The reduction ``"sum_over_batch_size"`` (Keras's default) then
merges a ``mask`` and ``sample_weight`` exactly as ``keras.losses.loss.reduce_weighted_values``::

    W    = sample_weight * mask * (mask.size / mask.sum())     # the mask rescaled: total / valid
    loss = sum(values * W) / values.size                       # = sum_valid(values * sw) / n_valid

so a masked loss is the (sample-weighted) mean over the valid steps only, and 0.0 when no step is
valid (Keras's ``divide_no_nan``). ``value_and_grad`` returns that number and ``dloss/dy_pred``:
``dvalues = W / values.size`` goes into the subclass's hand-written ``backward``.

Subclasses implement ``forward(y_true, y_pred, mask=None) -> (values, cache)`` and
``backward(dvalues, cache) -> dy_pred`` side by side. A subclass may add a fused path for the
common case with neither mask nor sample weights (every ``dvalues`` entry the same number):
``fused_value_and_grad(y_true, y_pred, dvalue, divisor, out)``, the same numbers in fewer
passes and no new arrays when the caller gives ``out`` (the training step does, with a buffer
it keeps between batches).

Where rnnkit extends Keras (Keras would broadcast wrongly or fail): a ``sample_weight`` or
``mask`` with fewer axes than the per-sample values is broadcast over the trailing axes, so
per-sequence weights ``(B,)`` apply to every step of ``(B, T)`` losses.

    >>> import numpy as np
    >>> from rnnkit.training.losses import MeanSquaredError
    >>> y_true = np.zeros((2, 3, 1)); y_pred = np.ones((2, 3, 1)); y_pred[0, 2] = 5.0
    >>> mask = np.array([[1, 1, 0], [1, 1, 1]])      # step 2 of sequence 0 is padding
    >>> MeanSquaredError()(y_true, y_pred, mask=mask)
    1.0
"""

import numpy as np

from ... import config

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`: expected one of {REDUCTIONS}, "
                         f"got {reduction!r}")
    return reduction


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras's ``squeeze_or_expand_to_same_rank``: drop or add a trailing axis of 1 when the
    ranks differ by one (used by the metrics, which follow Keras's ``Mean`` reduction)."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def align_ranks(y_true, y_pred, name):
    """``y_true`` with the shape of ``y_pred`` when they differ only by a trailing axis of 1.

    Keras squeezes or expands one of the two (``squeeze_or_expand_to_same_rank``); rnnkit only
    ever reshapes ``y_true``, so per-sample values always have the shape ``y_pred.shape[:-1]``.
    With equal sizes the reduced loss is the same number either way.
    """
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{name}: y_true of shape {y_true.shape} does not match y_pred of "
                         f"shape {y_pred.shape}")
    return y_true


def broadcast_weights(w, shape, what, name):
    """``w`` (sample weights or a mask) broadcast to the per-sample values' ``shape``."""
    w = np.asarray(w)
    if w.ndim == len(shape) + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    if w.ndim < len(shape):
        w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))   # (B,) -> (B, 1) for (B, T)
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"{name}: {what} of shape {np.shape(w)} does not fit the per-sample "
                         f"losses of shape {tuple(shape)}") from None


def reduction_weights(shape, sample_weight, mask, reduction, dtype, name):
    """``(W, divisor)`` with ``loss = sum(values * W) / divisor`` (``W`` None means all ones).

    Mirrors ``keras.losses.loss.apply_mask`` and ``reduce_values``; ``divisor == 0`` means the
    loss is 0 (``divide_no_nan``).
    """
    weights = None
    if mask is not None:
        m = broadcast_weights(mask, shape, "mask", name).astype(dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            valid = m.sum()
            # valid entries weigh total / valid, padded ones 0: the mean over valid steps
            m = m * (m.size / valid) if valid != 0 else np.zeros(shape, dtype)
        weights = m
    if sample_weight is not None:
        sw = broadcast_weights(sample_weight, shape, "sample_weight", name).astype(dtype)
        weights = sw if weights is None else sw * weights
    size = int(np.prod(shape))
    if reduction == "sum":
        divisor = 1.0
    elif reduction == "mean_with_sample_weight" and weights is not None:
        divisor = float(weights.sum())
    else:
        divisor = float(size)
    return weights, divisor


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None, mask=None) -> float``.

    Args:
        name: the loss name (Keras's, e.g. ``"mean_squared_error"``).
        reduction: ``"sum_over_batch_size"`` (default), ``"mean"`` (the same), ``"sum"``,
            ``"mean_with_sample_weight"`` (divide by the sum of the weights) or ``None``/
            ``"none"`` (``__call__`` returns the weighted per-sample values).
    """

    sparse = False      # True where y_true holds integer labels of shape y_pred.shape[:-1]

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        self.name = name or type(self).__name__.lower()
        self.reduction = standardize_reduction(reduction)

    def targets_fit(self, t_shape, p_shape):
        """Whether per-sample target shape ``t_shape`` goes with output shape ``p_shape``."""
        return t_shape == p_shape or t_shape + (1,) == p_shape or t_shape == p_shape + (1,)

    def check_targets(self, y_true, y_pred_shape):
        """Raise a clear ValueError, before training, when targets of shape ``y_true.shape``
        cannot go with outputs of shape ``y_pred_shape`` (the batch sizes may differ)."""
        t_shape, p_shape = tuple(np.shape(y_true))[1:], tuple(y_pred_shape)[1:]
        if not self.targets_fit(t_shape, p_shape):
            expected = (p_shape[:-1] if self.sparse else p_shape)
            raise ValueError(f"{self.name}: targets of shape {tuple(np.shape(y_true))} do not "
                             f"fit outputs of shape (None,) + {p_shape}; expected targets of "
                             f"shape (N,) + {expected}")

    # ---- the two halves a subclass writes ------------------------------------------------
    def forward(self, y_true, y_pred, mask=None):
        """Per-sample values (shape ``y_pred.shape[:-1]``) and a cache for ``backward``."""
        raise NotImplementedError

    def backward(self, dvalues, cache):
        """``dL/dy_pred`` from ``dL/dvalues`` (shape ``y_pred.shape[:-1]``)."""
        raise NotImplementedError

    # ---- the public API --------------------------------------------------------------------
    def _prepare(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        if not np.issubdtype(y_pred.dtype, np.floating):
            y_pred = y_pred.astype(config.floatx())
        return np.asarray(y_true), y_pred

    def call(self, y_true, y_pred):
        """The per-sample losses, before any weighting or reduction (as Keras's ``call``)."""
        values, _ = self.forward(*self._prepare(y_true, y_pred))
        return values

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        y_true, y_pred = self._prepare(y_true, y_pred)
        values, _ = self.forward(y_true, y_pred, mask=mask)
        weights, divisor = reduction_weights(values.shape, sample_weight, mask, self.reduction,
                                             values.dtype, self.name)
        weighted = values if weights is None else values * weights
        if self.reduction in (None, "none"):
            return weighted
        if values.size == 0 or divisor == 0:
            return 0.0
        return float(np.sum(weighted, dtype=np.float64) / divisor)   # float16 sums overflow

    def fused_value_and_grad(self, y_true, y_pred, dvalue, divisor, out=None):
        """``(loss, dy_pred)`` without mask or weights in one fused pass, or None (no fused
        path: ``value_and_grad`` runs forward and backward). ``dvalue`` is every entry of
        ``dvalues`` (``1 / divisor`` in the values' dtype); ``out``, when given, is an array of
        ``y_pred``'s shape and dtype to write the gradient into."""
        return None

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None, out=None):
        """``(loss, dloss/dy_pred)``; the gradient has the shape and dtype of ``y_pred``.

        ``out``: an array of ``y_pred``'s shape and dtype that a loss with a fused path (MSE,
        MAE, without mask and sample weights) writes the gradient into instead of a new array;
        use the returned gradient in any case.
        """
        if self.reduction in (None, "none"):
            raise ValueError(f"{self.name}: value_and_grad needs a reduction to a single number, "
                             f"got reduction={self.reduction!r}")
        y_true, y_pred = self._prepare(y_true, y_pred)
        if mask is None and sample_weight is None and y_pred.size and \
                y_pred.dtype.itemsize >= 4 and (        # float16: np.mean sums in float32
                out is None or (out.shape == y_pred.shape and out.dtype == y_pred.dtype)):
            divisor = 1.0 if self.reduction == "sum" else float(y_pred[..., 0].size)
            fused = self.fused_value_and_grad(y_true, y_pred, y_pred.dtype.type(1.0 / divisor),
                                              divisor, out)
            if fused is not None:
                return fused
        values, cache = self.forward(y_true, y_pred, mask=mask)
        weights, divisor = reduction_weights(values.shape, sample_weight, mask, self.reduction,
                                             values.dtype, self.name)
        if values.size == 0 or divisor == 0:
            return 0.0, np.zeros_like(y_pred)
        # forward:  loss = sum(values * W) / divisor
        # backward: dvalues = W / divisor
        if weights is None:
            dvalues = np.full(values.shape, 1.0 / divisor, dtype=values.dtype)
            value = float(np.sum(values, dtype=np.float64) / divisor)   # float16 sums overflow
        else:
            dvalues = (weights / divisor).astype(values.dtype)
            value = float(np.sum(values * weights, dtype=np.float64) / divisor)
        dy_pred = self.backward(dvalues, cache)
        return value, dy_pred.reshape(y_pred.shape).astype(y_pred.dtype, copy=False)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"
