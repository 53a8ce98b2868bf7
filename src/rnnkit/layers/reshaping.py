"""Reshape and Permute: rearrange the non-batch axes, as Keras's layers of those names.

    Reshape(target_shape):  y = x.reshape((B,) + target_shape)   (one -1 allowed)
    Permute(dims):          y = x.transpose((0,) + dims)         (dims count from 1)
    backward:               dx = dy.reshape(x.shape)  /  dy.transpose(inverse permutation)

>>> import numpy as np
>>> from rnnkit.layers.reshaping import Permute, Reshape
>>> Reshape((3, 2))(np.zeros((4, 6))).shape, Permute((2, 1))(np.zeros((4, 5, 3))).shape
((4, 3, 2), (4, 3, 5))
"""

import math
import numbers

import numpy as np

from .. import config
from .base import Layer


class Reshape(Layer):
    """``(B, ...) -> (B, *target_shape)``; ``target_shape`` may hold one -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        shape = tuple(target_shape) if isinstance(target_shape, (list, tuple)) else None
        if not shape or any(isinstance(d, bool) or not isinstance(d, numbers.Integral)
                            or (d < 1 and d != -1) for d in shape) or shape.count(-1) > 1:
            raise ValueError(f"{self.name}: expected target_shape to be a tuple of positive "
                             f"ints (one -1 allowed), got {target_shape!r}")
        self.target_shape = tuple(int(d) for d in shape)

    def _resolve(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        n = math.prod(rest)
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and n % known) or (-1 not in self.target_shape
                                                       and n != known):
            raise ValueError(f"{self.name}: cannot reshape {tuple(rest)} ({n} values) to "
                             f"{self.target_shape}")
        return tuple(n // known if d == -1 else d for d in self.target_shape)

    def forward(self, x, training=False, mask=None):
        x = np.asarray(x)
        if x.dtype.kind == "f":
            x = config.as_floatx(x, self.dtype)
        shape = self._resolve(x.shape)
        self._cache = x.shape
        return x.reshape((x.shape[0],) + shape)

    def backward(self, dy):
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        dy = np.asarray(dy)
        if dy.size != math.prod(self._cache):
            raise ValueError(f"{self.name}: expected dy with {math.prod(self._cache)} values, "
                             f"got shape {dy.shape}")
        return dy.reshape(self._cache)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0],) + self._resolve(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["target_shape"] = list(self.target_shape)
        return cfg


class Permute(Layer):
    """``y = x.transpose((0,) + dims)``; ``dims`` is a permutation of 1..rank-1."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims) if isinstance(dims, (list, tuple)) else ()
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"{self.name}: expected dims to be a permutation of 1..{len(dims)}"
                             f" (the batch axis stays first), got {dims!r}")
        self.dims = tuple(int(d) for d in dims)

    def forward(self, x, training=False, mask=None):
        x = np.asarray(x)
        if x.ndim != len(self.dims) + 1:
            raise ValueError(f"{self.name}: expected input of rank {len(self.dims) + 1}, got "
                             f"shape {x.shape}")
        self._cache = True
        return x.transpose((0,) + self.dims)

    def backward(self, dy):
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        inverse = np.argsort((0,) + self.dims)
        return np.asarray(dy).transpose(inverse)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        cfg = super().get_config()
        cfg["dims"] = list(self.dims)
        return cfg
