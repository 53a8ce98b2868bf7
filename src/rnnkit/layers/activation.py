"""Activation: apply an activation function as a layer of its own.

    y  = f(x)                          any shape
    dx = f.vjp(x, y, dy)               dy * f'(x); softmax: y (dy - sum(dy y)) over the last axis

Useful to put a nonlinearity after a layer that has none (``Dense(10)`` then
``Activation("softmax")``) or to look at pre-activations. It has no weights; a mask passes through.

>>> import numpy as np
>>> from rnnkit.layers.activation import Activation
>>> Activation("relu")(np.array([[-1.0, 2.0]])).tolist()
[[0.0, 2.0]]
"""

import numpy as np

from .. import activations, config
from .base import Layer


class Activation(Layer):
    """``y = f(x)`` elementwise (softmax: over the last axis).

    Args:
        activation: a name from :mod:`rnnkit.activations` ("relu", "softmax", ...), an
            Activation object, or None (linear).
        **kwargs: ``name``, ``trainable``, ``dtype``, ``input_shape``...

    Input any shape (rank >= 1); output the same shape, in the layer's dtype.
    """

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, training=False, mask=None):
        """``y = f(x)``; ``training`` and ``mask`` are unused (the mask passes through)."""
        x = config.as_floatx(x, self.dtype)
        if x.ndim == 0:
            raise ValueError(f"{self.name}: expected input of rank >= 1, got a scalar")
        y = self.activation(x)
        self._cache = (x, y)
        return y

    def backward(self, dy):
        """``dx = f.vjp(x, y, dy)``, same shape as ``dy``."""
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        x, y = self._cache
        dy = np.asarray(dy)
        if dy.shape != y.shape:
            raise ValueError(f"{self.name}: expected dy of shape {y.shape}, got {dy.shape}")
        return self.activation.vjp(x, y, dy)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["activation"] = activations.serialize(self.activation)
        return cfg
