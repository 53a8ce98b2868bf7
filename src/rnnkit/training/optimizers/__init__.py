"""Optimizers with Keras 3 names, defaults and update rules.

    opt = optimizers.get("adam")                 # or Adam(learning_rate=1e-3, clipnorm=1.0)
    opt.apply(model.trainable_weights)           # one step from each Weight's .grad
    opt.learning_rate = 1e-4                     # what learning-rate callbacks do
    state = opt.get_state(); opt.set_state(state)

``get`` takes a name (case-insensitive, as Keras: ``"adam"``, ``"SGD"``, ``"rmsprop"``...), an
:class:`Optimizer` (returned as it is) or a ``{"class_name", "config"}`` dict.

    >>> from rnnkit.training import optimizers
    >>> optimizers.get("Adam").get_config()["learning_rate"]
    0.001
"""

from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .base import Optimizer, clip_gradients, global_norm
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "clip_gradients",
           "global_norm", "get", "serialize", "deserialize"]

_CLASSES = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}


def serialize(optimizer):
    """``{"class_name": ..., "config": ...}`` of an :class:`Optimizer`."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    """The optimizer described by ``{"class_name": ..., "config": ...}``."""
    name = str(config.get("class_name", "")).lower()
    if name not in _CLASSES:
        raise ValueError(f"Could not interpret optimizer identifier: {config!r}; known: "
                         f"{sorted(_CLASSES)}")
    return _CLASSES[name].from_config(dict(config.get("config") or {}))


def get(identifier):
    """An :class:`Optimizer` from a name, an instance or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
