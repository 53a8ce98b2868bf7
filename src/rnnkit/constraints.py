"""Projections applied to a weight after each optimizer step, as ``keras.constraints``.

    NonNeg:                    W <- max(W, 0)
    MaxNorm(max_value, axis):  W <- W * min(1, max_value / (eps + ||W||_axis))
    UnitNorm(axis):            W <- W / (eps + ||W||_axis)
    MinMaxNorm(min_value, max_value, rate, axis):
        n = ||W||_axis,  W <- W * (rate * clip(n, min, max) + (1 - rate) * n) / (eps + n)

with ``||W||_axis = sqrt(sum(W^2 over axis))`` and eps = 1e-7 (Keras's epsilon). Layers take
them as Keras does: ``Dense(8, kernel_constraint=MaxNorm(2))`` or ``"non_neg"``.

>>> import numpy as np
>>> NonNeg()(np.array([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""

import numbers

import numpy as np

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "get", "serialize"]
_EPS = 1e-7


def _norm(W, axis):
    return np.sqrt(np.sum(np.square(W), axis=axis, keepdims=True))


def _number(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


class Constraint:
    """Base class: ``__call__(W)`` returns the projected weight."""

    def __call__(self, W):
        return W

    def get_config(self):
        return {}


class NonNeg(Constraint):
    """Weights non-negative."""

    def __call__(self, W):
        return np.maximum(W, 0)


class MaxNorm(Constraint):
    """Norm along ``axis`` at most ``max_value``."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = _number(max_value, "MaxNorm.max_value"), axis

    def __call__(self, W):
        n = _norm(W, self.axis)
        return W * (np.clip(n, 0, self.max_value) / (_EPS + n))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class UnitNorm(Constraint):
    """Norm along ``axis`` equal to one."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, W):
        return W / (_EPS + _norm(W, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Norm along ``axis`` moved towards [min_value, max_value] at ``rate``."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number(min_value, "MinMaxNorm.min_value")
        self.max_value = _number(max_value, "MinMaxNorm.max_value")
        self.rate = _number(rate, "MinMaxNorm.rate")
        self.axis = axis

    def __call__(self, W):
        n = _norm(W, self.axis)
        desired = self.rate * np.clip(n, self.min_value, self.max_value) + (1 - self.rate) * n
        return W * (desired / (_EPS + n))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


_BY_NAME = {"non_neg": NonNeg, "max_norm": MaxNorm, "unit_norm": UnitNorm,
            "min_max_norm": MinMaxNorm, "NonNeg": NonNeg, "MaxNorm": MaxNorm,
            "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm}
_NAME_OF = {NonNeg: "NonNeg", MaxNorm: "MaxNorm", UnitNorm: "UnitNorm", MinMaxNorm: "MinMaxNorm"}


def get(identifier):
    """A constraint from None, a name, an instance or a ``{"class_name", "config"}`` dict."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]](**dict(identifier.get("config") or {}))
    raise ValueError(f"unknown constraint {identifier!r}; expected None, one of "
                     f"{sorted(_BY_NAME)}, or a rnnkit.constraints.Constraint")


def serialize(constraint):
    """``{"class_name", "config"}`` for :func:`get` (Keras's names)."""
    name = _NAME_OF.get(type(constraint))
    if name is None:
        raise ValueError(f"cannot serialize constraint {constraint!r}")
    return {"class_name": name, "config": constraint.get_config()}
