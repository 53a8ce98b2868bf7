"""Weight penalties added to the training loss, as ``keras.regularizers``.

A regularizer ``R`` maps a weight ``W`` to a number added to the loss, and its gradient is
added to ``W.grad`` in the same step:

    L1(l1):      R = l1 * sum(|W|)          dR/dW = l1 * sign(W)
    L2(l2):      R = l2 * sum(W^2)          dR/dW = 2 * l2 * W
    L1L2(l1, l2) the sum of both

Layers take them as Keras does (``Dense(8, kernel_regularizer="l2")``,
``LSTM(16, recurrent_regularizer=L1(1e-4))``); names ``"l1"``, ``"l2"``, ``"l1_l2"`` give
Keras's defaults (0.01). ``Model.losses`` lists the penalties of the current weights and
``fit``/``evaluate`` add them to the reported loss, as Keras 3 does.

>>> import numpy as np
>>> r = L2(0.5)
>>> float(r(np.array([1.0, -2.0]))), r.gradient(np.array([1.0, -2.0])).tolist()
(2.5, [1.0, -2.0])
"""

import numbers

import numpy as np

__all__ = ["L1", "L1L2", "L2", "Regularizer", "deserialize", "get", "serialize"]


def _factor(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value < 0:
        raise ValueError(f"{name}: expected a finite factor >= 0, got {value!r}")
    return float(value)


class Regularizer:
    """Base class: ``__call__(W)`` is the penalty, ``gradient(W)`` its gradient."""

    def __call__(self, W):
        raise NotImplementedError

    def gradient(self, W):
        raise NotImplementedError

    def get_config(self):
        return {}


class L1L2(Regularizer):
    """``l1 * sum(|W|) + l2 * sum(W^2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "L1L2.l1")
        self.l2 = _factor(l2, "L1L2.l2")

    def __call__(self, W):
        W = np.asarray(W, dtype=np.float64)
        return self.l1 * float(np.abs(W).sum()) + self.l2 * float(np.square(W).sum())

    def gradient(self, W):
        return self.l1 * np.sign(W) + (2.0 * self.l2) * W

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|W|)`` (Keras default l1=0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(W^2)`` (Keras default l2=0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}
_NAME_OF = {L1: "L1", L2: "L2", L1L2: "L1L2"}


def get(identifier):
    """A regularizer from None, a name, an instance or a ``{"class_name", "config"}`` dict."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]](**dict(identifier.get("config") or {}))
    raise ValueError(f"unknown regularizer {identifier!r}; expected None, one of "
                     f"{sorted(_BY_NAME)}, or a rnnkit.regularizers.Regularizer")


def serialize(regularizer):
    """``{"class_name", "config"}`` for :func:`get` (Keras's names)."""
    name = _NAME_OF.get(type(regularizer))
    if name is None:
        raise ValueError(f"cannot serialize regularizer {regularizer!r}")
    return {"class_name": name, "config": regularizer.get_config()}


deserialize = get
