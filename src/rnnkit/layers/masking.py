"""Masking: mark the time steps whose features all equal ``mask_value`` as padding.

    keep[b, t] = any(x[b, t, :] != mask_value)           x (B, T, F)  ->  keep (B, T) bool
    y          = x * keep[..., None]                      padded steps become exactly 0
    dx         = dy * keep[..., None]                     a padded step passes no gradient

``compute_mask(x)`` returns ``keep``; recurrent layers downstream skip the steps where it is
False (they carry the state over and output zeros, as Keras does). ``keep`` is treated as a
constant in the backward pass, as in Keras.

>>> import numpy as np
>>> from rnnkit.layers.masking import Masking
>>> x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]])
>>> Masking().compute_mask(x).tolist()
[[True, False, True]]
"""

import numpy as np

from .. import config
from .base import Layer


class Masking(Layer):
    """Zero the steps whose features all equal ``mask_value`` and emit a mask of the others.

    Args:
        mask_value: the padding value (default 0.0).
        **kwargs: ``name``, ``trainable``, ``dtype``, ``input_shape``...

    Input ``(B, T, F)`` (any rank >= 2: the last axis is the feature axis); output the same
    shape; mask ``(B, T)`` (the input's shape without its last axis).
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def _keep(self, x):
        # (..., F) -> (...,): a step is kept when any feature differs from mask_value
        return np.any(x != self.mask_value, axis=-1)

    def _check_input(self, x):
        if x.ndim < 2:
            raise ValueError(
                f"{self.name}: expected input of rank >= 2 (batch, ..., features), "
                f"got rank {x.ndim} (shape {x.shape})"
            )

    def forward(self, x, training=False, mask=None):
        """``y = x * keep[..., None]``.

        Args:
            x: array ``(B, T, F)``.
            training, mask: unused (the output mask comes from ``compute_mask``).
        Returns:
            ``y (B, T, F)`` in the layer's dtype.
        """
        x = config.as_floatx(x, self.dtype)
        self._check_input(x)
        keep = self._keep(x)[..., None].astype(x.dtype)  # (B, T, 1)
        self._cache = keep
        return x * keep

    def backward(self, dy):
        """``dx = dy * keep[..., None]``."""
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        keep = self._cache
        dy = np.asarray(dy)
        if dy.shape[:-1] != keep.shape[:-1]:
            raise ValueError(f"{self.name}: expected dy of shape {keep.shape[:-1]} + (F,), "
                             f"got {dy.shape}")
        return dy * keep

    def compute_mask(self, inputs, mask=None):
        """``any(inputs != mask_value, axis=-1)``: ``(B, T)`` bool, True on real steps."""
        x = np.asarray(inputs)
        self._check_input(x)
        return self._keep(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["mask_value"] = self.mask_value
        return cfg
