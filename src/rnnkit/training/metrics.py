"""Stateful metrics with Keras 3 names and its ``Mean`` reduction, masks included.

A metric accumulates over batches: ``update_state(y_true, y_pred, sample_weight=None,
mask=None)``, ``result() -> float``, ``reset_state()``. Like Keras's ``MeanMetricWrapper``, a
metric computes per-sample values (``(B,)`` per sequence, ``(B, T)`` per step), turns the mask
into sample weights and keeps ``total`` and ``count``; for per-step values that is::

    total += sum_b mean_t(values * w)          count += sum_b mean_t(w)      w = sw * mask

so ``result() = sum(values * w) / sum(w)``: the mean over valid steps. ``Mean`` is the plain
weighted mean of the numbers given (the fit loop's ``"loss"``: ``update_state(loss, B)``).

``get(name, loss=None)`` resolves ``"accuracy"``/``"acc"`` from the loss, as Keras 2's
``get_metric_function`` did (sparse_categorical_crossentropy -> SparseCategoricalAccuracy,
categorical_crossentropy -> CategoricalAccuracy, binary_crossentropy -> BinaryAccuracy, with its
0.5 threshold even for ``from_logits=True``, as Keras); for any other loss it returns an
accuracy that picks its kind from the first batch's shapes, Keras 3's rule (``compile_utils.
is_binary_or_sparse_categorical``): binary when y_pred has one output, sparse when y_true has
fewer axes than y_pred (or one label against several outputs), categorical otherwise. As in
Keras, a metric made from a name is named by that string (``"mae"`` logs as ``"mae"``).

    >>> import numpy as np
    >>> from rnnkit.training import metrics
    >>> acc = metrics.get("accuracy", loss="sparse_categorical_crossentropy")
    >>> acc.update_state(np.array([[2], [1]]), np.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0]]))
    >>> type(acc).__name__, acc.name, acc.result()
    ('SparseCategoricalAccuracy', 'accuracy', 0.5)
"""

import inspect

import numpy as np

from . import losses
from .losses.base import align_ranks, squeeze_or_expand_to_same_rank
from .losses.regression import error_means


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per-sample mean over the last axis of ``y_true == (y_pred > threshold)``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    y_true = align_ranks(y_true, y_pred, "binary_accuracy")
    return np.mean(y_true == (y_pred > threshold).astype(y_true.dtype), axis=-1, dtype=np.float64)


def categorical_accuracy(y_true, y_pred):
    """``argmax(y_true) == argmax(y_pred)`` over the last axis (one-hot ``y_true``)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_accuracy: y_true of shape {y_true.shape} does not match "
                         f"y_pred of shape {y_pred.shape}")
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """``y_true == argmax(y_pred)`` with integer labels of shape ``y_pred.shape[:-1]``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(f"sparse_categorical_accuracy: labels of shape {y_true.shape} do not "
                         f"match y_pred of shape {y_pred.shape}")
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float64)


def reduce_to_samplewise_values(values, sample_weight):
    """Keras's ``reduce_to_samplewise_values`` with ``mean``: ``(values (B,), weights (B,))``."""
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        values, sw = squeeze_or_expand_to_same_rank(values, sw)
        if values.ndim > sw.ndim:                       # weights per sample, values per step
            values = np.mean(values, axis=tuple(range(sw.ndim, values.ndim)))
        sw = np.broadcast_to(sw, values.shape)
        values = values * sw
        if sw.ndim > 1:
            sw = np.mean(sw, axis=tuple(range(1, sw.ndim)))
        sample_weight = sw
    if values.ndim > 1:
        values = np.mean(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


def merge_mask(sample_weight, mask):
    """``sample_weight * mask`` (Keras's ``apply_mask`` with ``reduction="sum"``); per-sequence
    weights ``(B,)`` spread over the steps of a ``(B, T)`` mask."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask, dtype=np.float64)
    if sample_weight is None:
        return mask
    mask, sw = squeeze_or_expand_to_same_rank(mask, np.asarray(sample_weight, dtype=np.float64))
    if sw.ndim < mask.ndim:
        sw = sw.reshape(sw.shape + (1,) * (mask.ndim - sw.ndim))
    return sw * mask


class Metric:
    """Base class: ``update_state``, ``result() -> float``, ``reset_state()``."""

    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).__name__.lower()
        self.dtype = dtype

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


class Mean(Metric):
    """The weighted mean of all values given: ``update_state(values, sample_weight=None)``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values, sample_weight=None):
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight)
        self.total += float(np.sum(values))
        if sample_weight is not None:
            self.count += float(np.sum(sample_weight))
        else:
            self.count += values.shape[0] if values.ndim >= 1 else 1

    def result(self):
        return self.total / self.count if self.count != 0 else 0.0     # divide_no_nan

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)`` over samples (and valid steps)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight=merge_mask(sample_weight, mask))

    def get_config(self):
        return {**super().get_config(), "fn": self._fn.__name__, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" not in config:                 # a subclass that fixes its own function
            return cls(**config)
        return cls(_FUNCTIONS[config.pop("fn")], **config)


class _ErrorMean(MeanMetricWrapper):
    """MSE / MAE as metrics: the per-sample values computed in an array the metric keeps
    between batches (:func:`rnnkit.training.losses.regression.error_means`, the same numbers
    as the loss function's, bit for bit), not in three new arrays per batch."""

    _op = None

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if y_pred.dtype not in (np.float32, np.float64):
            return super().update_state(y_true, y_pred, sample_weight=sample_weight, mask=mask)
        buf = getattr(self, "_buffer", None)
        if buf is None or buf.shape != y_pred.shape or buf.dtype != y_pred.dtype:
            buf = self._buffer = np.empty(y_pred.shape, y_pred.dtype)
        values, _ = error_means(self._op, y_true, y_pred, buf, self._fn.__name__)
        Mean.update_state(self, values, sample_weight=merge_mask(sample_weight, mask))

    def get_config(self):
        return Metric.get_config(self)


class MeanSquaredError(_ErrorMean):
    _op = staticmethod(np.square)

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_ErrorMean):
    _op = staticmethod(np.abs)

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` equals the 0/1 label (probabilities, not logits)."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if threshold is not None and not 0 < threshold < 1:
            raise ValueError(f"Invalid value for argument `threshold`. Expected a value in "
                             f"interval (0, 1). Received: threshold={threshold}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {**Metric.get_config(self), "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` matches that of the one-hot ``y_true``."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return Metric.get_config(self)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` equals the integer label."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return Metric.get_config(self)


def accuracy_kind_from_shapes(y_true, y_pred):
    """Keras 3's ``is_binary_or_sparse_categorical``: "binary", "sparse" or "categorical"."""
    t_shape, p_shape = np.shape(y_true), np.shape(y_pred)
    if p_shape[-1] == 1:
        return "binary"
    if len(t_shape) < len(p_shape) or (t_shape[-1] == 1 and p_shape[-1] > 1):
        return "sparse"
    return "categorical"


class AutoAccuracy(Metric):
    """``"accuracy"`` when the loss does not say which: resolved on the first ``update_state``
    from the shapes (:func:`accuracy_kind_from_shapes`), then fixed."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.resolved = None

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None):
        if self.resolved is None:
            kind = accuracy_kind_from_shapes(y_true, y_pred)
            self.resolved = _ACCURACIES[kind](name=self.name, dtype=self.dtype)
        self.resolved.update_state(y_true, y_pred, sample_weight=sample_weight, mask=mask)

    def result(self):
        return self.resolved.result() if self.resolved is not None else 0.0

    def reset_state(self):
        if self.resolved is not None:
            self.resolved.reset_state()


_ACCURACIES = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy,
               "categorical": CategoricalAccuracy}
_FUNCTIONS = {fn.__name__: fn for fn in (
    binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    losses.mean_squared_error, losses.mean_absolute_error, losses.binary_crossentropy,
    losses.categorical_crossentropy, losses.sparse_categorical_crossentropy)}
_CLASSES = {cls.__name__: cls for cls in (
    Mean, MeanSquaredError, MeanAbsoluteError, BinaryAccuracy, CategoricalAccuracy,
    SparseCategoricalAccuracy)}
_NAMES = dict(_CLASSES)
_NAMES.update({"mse": MeanSquaredError, "MSE": MeanSquaredError,
               "mean_squared_error": MeanSquaredError,
               "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
               "mean_absolute_error": MeanAbsoluteError,
               "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
               "sparse_categorical_accuracy": SparseCategoricalAccuracy})
# loss functions used as metrics (the mean of the per-sample loss)
_LOSS_METRICS = {"binary_crossentropy": losses.binary_crossentropy,
                 "bce": losses.binary_crossentropy, "BCE": losses.binary_crossentropy,
                 "categorical_crossentropy": losses.categorical_crossentropy,
                 "sparse_categorical_crossentropy": losses.sparse_categorical_crossentropy}


def accuracy_for_loss(loss, name="accuracy"):
    """The accuracy metric that goes with ``loss`` (an :class:`AutoAccuracy` if none does)."""
    loss_obj = None
    if loss is not None:
        try:
            loss_obj = losses.get(loss)
        except ValueError:
            loss_obj = None                              # a custom loss: decide by shapes
    if isinstance(loss_obj, losses.SparseCategoricalCrossentropy):
        return SparseCategoricalAccuracy(name=name)
    if isinstance(loss_obj, losses.CategoricalCrossentropy):
        return CategoricalAccuracy(name=name)
    if isinstance(loss_obj, losses.BinaryCrossentropy):
        return BinaryAccuracy(name=name)
    return AutoAccuracy(name=name)


def deserialize(config):
    """The metric described by ``{"class_name": ..., "config": ...}``."""
    name = config.get("class_name")
    classes = {**_CLASSES, "MeanMetricWrapper": MeanMetricWrapper}
    if name not in classes:
        raise ValueError(f"metrics.deserialize: unknown metric class {name!r}")
    return classes[name].from_config(dict(config.get("config") or {}))


def get(identifier, loss=None):
    """A :class:`Metric` from a name, class, instance or config dict; ``"accuracy"``/``"acc"``
    are resolved from ``loss`` (see the module docstring). ``"loss"`` is a :class:`Mean`."""
    if isinstance(identifier, Metric):
        return identifier
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return accuracy_for_loss(loss, name=identifier)
        if identifier == "loss":
            return Mean(name="loss")
        if identifier in _NAMES:
            return _NAMES[identifier](name=identifier)
        if identifier in _LOSS_METRICS:
            return MeanMetricWrapper(_LOSS_METRICS[identifier], name=identifier)
        known = sorted([*_NAMES, *_LOSS_METRICS, "accuracy", "acc", "loss"])
        raise ValueError(f"Could not interpret metric identifier: {identifier!r}; known: {known}")
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
