"""RepeatVector: repeat a vector ``n`` times along a new time axis (one-to-many models).

    y[b, t, :] = x[b, :]        for t = 0 .. n-1          x (B, F)  ->  y (B, n, F)
    dx[b, :]   = sum_t dy[b, t, :]                        every copy sends its gradient back

Typical use: an encoder's final state ``(B, H)`` repeated as the input of a decoder RNN that
emits ``n`` steps.

>>> import numpy as np
>>> from rnnkit.layers.repeat_vector import RepeatVector
>>> RepeatVector(3)(np.array([[1.0, 2.0]])).tolist()
[[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]]
"""

import numpy as np

from .. import config
from .base import Layer


class RepeatVector(Layer):
    """``(B, F) -> (B, n, F)`` by copying each row ``n`` times.

    Args:
        n: the number of repetitions (the output's time length), a positive int.
        **kwargs: ``name``, ``trainable``, ``dtype``, ``input_shape``...

    Input ``(B, F)``; output ``(B, n, F)``; no mask is produced.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{self.name}: expected n to be a positive int, got {n!r}")
        self.n = int(n)

    def _check_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(
                f"{self.name}: expected input of rank 2 (batch, features), got rank "
                f"{len(shape)} (shape {tuple(shape)})"
            )

    def forward(self, x, training=False, mask=None):
        """``y[:, t] = x`` for every ``t < n``.

        Args:
            x: array ``(B, F)``.
            training, mask: unused.
        Returns:
            ``y (B, n, F)``, a new array (not a view of ``x``).
        """
        x = config.as_floatx(x, self.dtype)
        self._check_shape(x.shape)
        B, F = x.shape
        self._cache = (B, F)
        return np.repeat(x[:, None, :], self.n, axis=1)  # (B, n, F)

    def backward(self, dy):
        """``dx = dy.sum(axis=1)``: ``(B, n, F) -> (B, F)``."""
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        B, F = self._cache
        dy = np.asarray(dy)
        if dy.shape != (B, self.n, F):
            raise ValueError(f"{self.name}: expected dy of shape {(B, self.n, F)}, got {dy.shape}")
        return dy.sum(axis=1)

    def compute_output_shape(self, input_shape):
        self._check_shape(input_shape)
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        cfg = super().get_config()
        cfg["n"] = self.n
        return cfg
