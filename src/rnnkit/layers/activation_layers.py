"""``ReLU`` and ``Softmax`` as layers, with Keras's arguments.

    ReLU:    y = min(max_value, x)        for x >= threshold
             y = negative_slope * (x - threshold)   for x < threshold
             dy/dx = 1 on [threshold, max_value), negative_slope below, 0 above max_value
    Softmax: y = exp(x - max) / sum(exp(x - max)) over ``axis`` (masked positions get 0)
             dx = y * (dy - sum(dy * y))

>>> import numpy as np
>>> from rnnkit.layers.activation_layers import ReLU, Softmax
>>> ReLU(max_value=2.0, negative_slope=0.5)(np.array([[-1.0, 1.0, 3.0]])).tolist()
[[-0.5, 1.0, 2.0]]
>>> Softmax()(np.zeros((1, 2))).tolist()
[[0.5, 0.5]]
"""

import numbers

import numpy as np

from .. import config
from .base import Layer


def _number(layer, what, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{layer.name}: expected {what} to be a finite number, got {value!r}")
    return float(value)


class ReLU(Layer):
    """Keras's ``ReLU(max_value=None, negative_slope=0.0, threshold=0.0)``."""

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _number(self, "max_value", max_value, allow_none=True)
        self.negative_slope = _number(self, "negative_slope", negative_slope)
        self.threshold = _number(self, "threshold", threshold)
        if (self.max_value is not None and self.max_value < 0) or self.negative_slope < 0:
            raise ValueError(f"{self.name}: max_value and negative_slope must be >= 0")

    def forward(self, x, training=False, mask=None):
        x = config.as_floatx(x, self.dtype)
        below = x < self.threshold
        y = np.where(below, self.negative_slope * (x - self.threshold), x)
        slope = np.where(below, self.negative_slope, 1.0)
        if self.max_value is not None:
            above = y >= self.max_value
            y = np.where(above, self.max_value, y)
            slope = np.where(above, 0.0, slope)
        self._cache = slope.astype(x.dtype)
        return y.astype(x.dtype, copy=False)

    def backward(self, dy):
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        dy = np.asarray(dy)
        if dy.shape != self._cache.shape:
            raise ValueError(f"{self.name}: expected dy of shape {self._cache.shape}, got "
                             f"{dy.shape}")
        return dy * self._cache

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                    "threshold": self.threshold})
        return cfg


class Softmax(Layer):
    """Keras's ``Softmax(axis=-1)``; call with ``mask`` to give masked positions zero weight."""

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ValueError(f"{self.name}: expected axis to be an int, got {axis!r}")
        self.axis = int(axis)

    def forward(self, x, training=False, mask=None):
        x = config.as_floatx(x, self.dtype)
        if mask is not None:                     # Keras: a large negative where mask is False
            m = np.asarray(mask, dtype=bool)
            x = np.where(np.broadcast_to(m, x.shape), x, np.finfo(x.dtype).min / 2)
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        y = e / e.sum(axis=self.axis, keepdims=True)
        self._cache = y
        return y

    def backward(self, dy):
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        y = self._cache
        dy = np.asarray(dy)
        if dy.shape != y.shape:
            raise ValueError(f"{self.name}: expected dy of shape {y.shape}, got {dy.shape}")
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg
