"""Losses with Keras 3 names, semantics and reduction, each with a hand-written gradient.

    loss(y_true, y_pred, sample_weight=None, mask=None)            -> float
    loss.value_and_grad(y_true, y_pred, sample_weight=None, mask=None) -> (float, dL/dy_pred)

``get`` resolves what ``model.compile(loss=...)`` accepts: a class or function name
(``"mse"``, ``"mean_squared_error"``, ``"MeanSquaredError"``, ...), a :class:`Loss` (instance or
class), one of the plain functions below, or a ``{"class_name", "config"}`` dict. Unlike Keras,
which returns the plain function for a function name, ``get`` always returns a :class:`Loss`
object, because training needs ``value_and_grad``; ``get("mse")`` is ``MeanSquaredError()``.

    >>> from rnnkit.training import losses
    >>> losses.get("sparse_categorical_crossentropy")
    <SparseCategoricalCrossentropy sparse_categorical_crossentropy>
    >>> losses.serialize(losses.get("bce"))["class_name"]
    'BinaryCrossentropy'
"""

import inspect

from .base import REDUCTIONS, Loss
from .crossentropy import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
)
from .regression import MeanAbsoluteError, MeanSquaredError, mean_absolute_error, mean_squared_error

__all__ = [
    "Loss", "REDUCTIONS",
    "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "mean_squared_error", "mean_absolute_error", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy",
    "get", "serialize", "deserialize",
]

_CLASSES = {cls.__name__: cls for cls in (
    MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy)}

# a plain function -> the Loss class computing the same per-sample values
_FUNCTIONS = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}

# every string Keras 3 accepts for these losses (case-sensitive, as Keras's ALL_OBJECTS_DICT)
_NAMES = dict(_CLASSES)
_NAMES.update({fn.__name__: cls for fn, cls in _FUNCTIONS.items()})
_NAMES.update({"mse": MeanSquaredError, "MSE": MeanSquaredError,
               "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
               "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})


def serialize(loss):
    """``{"class_name": ..., "config": ...}`` of a :class:`Loss` (JSON-able)."""
    if not isinstance(loss, Loss):
        raise ValueError(f"losses.serialize: expected a Loss, got {loss!r}")
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config):
    """The :class:`Loss` described by ``{"class_name": ..., "config": ...}``."""
    name = config.get("class_name")
    if name not in _CLASSES:
        raise ValueError(f"losses.deserialize: unknown loss class {name!r}; known: "
                         f"{sorted(_CLASSES)}")
    return _CLASSES[name].from_config(dict(config.get("config") or {}))


def get(identifier):
    """A :class:`Loss` object from a name, class, instance, plain function or config dict."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier not in _NAMES:
            raise ValueError(f"Could not interpret loss identifier: {identifier!r}; known: "
                             f"{sorted(_NAMES)}")
        return _NAMES[identifier]()
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. A custom loss needs "
                     f"a hand-written gradient: subclass rnnkit.training.losses.Loss and "
                     f"implement forward and backward")
