"""Flatten: merge every axis but the batch axis into one feature axis.

    y = x.reshape(B, prod(rest))          x (B, d1, ..., dk)  ->  y (B, d1 * ... * dk)
    dx = dy.reshape(x.shape)

With ``data_format="channels_first"`` an input of rank >= 3 is first put channels-last
(``(B, C, ...) -> (B, ..., C)``) so that the flattened order matches a channels-last model, as
in Keras. A rank-1 input ``(B,)`` becomes ``(B, 1)``.

>>> import numpy as np
>>> from rnnkit.layers.flatten import Flatten
>>> Flatten()(np.zeros((2, 3, 4))).shape
(2, 12)
>>> Flatten().compute_output_shape((None, None, 4))
(None, None)
"""

import math

import numpy as np

from .. import config
from .base import Layer


class Flatten(Layer):
    """``(B, d1, ..., dk) -> (B, d1 * ... * dk)``.

    Args:
        data_format: "channels_last" (default) or "channels_first".
        **kwargs: ``name``, ``trainable``, ``dtype``, ``input_shape``...

    No mask is produced (a time mask means nothing once time is merged with features).
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{self.name}: expected data_format 'channels_last' or "
                             f"'channels_first', got {data_format!r}")
        self.data_format = data_format

    def _check_shape(self, shape):
        if len(shape) < 1:
            raise ValueError(f"{self.name}: expected input of rank >= 1 (batch, ...), "
                             f"got a scalar (shape {tuple(shape)})")

    def _channels_last(self, x):
        if self.data_format == "channels_first" and x.ndim >= 3:
            return np.moveaxis(x, 1, -1)                 # (B, C, ...) -> (B, ..., C)
        return x

    def forward(self, x, training=False, mask=None):
        """``y = x.reshape(B, -1)`` (after moving channels last for "channels_first")."""
        x = config.as_floatx(x, self.dtype)
        self._check_shape(x.shape)
        self._cache = x.shape
        B = x.shape[0]
        n = math.prod(x.shape[1:])
        return self._channels_last(x).reshape(B, n)      # (B, prod(rest)); a copy only if needed

    def backward(self, dy):
        """``dx = dy.reshape(x.shape)`` (the inverse of the forward's reshape and move)."""
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        x_shape = self._cache
        dy = np.asarray(dy)
        n = math.prod(x_shape[1:])
        if dy.shape != (x_shape[0], n):
            raise ValueError(f"{self.name}: expected dy of shape {(x_shape[0], n)}, got {dy.shape}")
        if self.data_format == "channels_first" and len(x_shape) >= 3:
            moved = (x_shape[0],) + tuple(x_shape[2:]) + (x_shape[1],)
            return np.moveaxis(dy.reshape(moved), -1, 1)  # (B, ..., C) -> (B, C, ...)
        return dy.reshape(x_shape)

    def compute_output_shape(self, input_shape):
        """``(B, prod(rest))``; None when any non-batch size is unknown."""
        input_shape = tuple(input_shape)
        self._check_shape(input_shape)
        rest = input_shape[1:]
        n = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], n)

    def get_config(self):
        cfg = super().get_config()
        cfg["data_format"] = self.data_format
        return cfg
