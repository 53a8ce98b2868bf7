"""Dropout: zero a random fraction ``rate`` of the inputs while training (inverted dropout).

    keep ~ Bernoulli(1 - rate), drawn with shape noise_shape (broadcast over the input)
    y    = x * keep / (1 - rate)        when training, so that E[y] = x
    y    = x                            otherwise (inference needs no rescaling)
    dx   = dy * keep / (1 - rate)       the same mask as the forward pass

``noise_shape`` is Keras's: ``None`` entries take the input's size, entries of 1 share one draw
along that axis (``noise_shape=(None, 1, None)`` on ``(B, T, F)`` drops the same features at
every time step).

Randomness: an int ``seed`` builds one ``numpy.random.Generator`` when the layer is made, so
successive calls draw different masks while the whole run is reproducible; a Generator is used
as given; ``seed=None`` takes a seed from ``rnnkit.random`` (reset by ``set_random_seed``).

>>> import numpy as np
>>> from rnnkit.layers.dropout import Dropout
>>> layer = Dropout(0.5, seed=0)
>>> sorted(set(layer(np.ones((4, 6)), training=True).ravel().tolist()))
[0.0, 2.0]
>>> layer(np.ones((1, 3))).tolist()         # not training: identity
[[1.0, 1.0, 1.0]]
"""

import numbers

import numpy as np

from .. import config
from ..random import make_rng
from .base import Layer


class Dropout(Layer):
    """Inverted dropout of rate ``rate``, only when ``training=True``.

    Args:
        rate: the fraction of units to drop, ``0 <= rate < 1``.
        noise_shape: shape of the keep mask (``None`` entries take the input's size), or None
            for the input's shape.
        seed: an int, a ``numpy.random.Generator``, or None.
        **kwargs: ``name``, ``trainable``, ``dtype``, ``input_shape``...

    Attributes:
        generator: the ``numpy.random.Generator`` that draws the masks; assign a fresh one to
            replay the same masks.

    Input any shape; output the same shape. A mask passes through.
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"{self.name}: expected rate in [0, 1), got {rate!r}")
        if seed is not None and not isinstance(seed, (numbers.Integral, np.random.Generator)):
            raise TypeError(f"{self.name}: expected seed to be an int, a numpy Generator or None, "
                            f"got {seed!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(
            None if s is None else int(s) for s in noise_shape)
        self.seed = seed
        self.generator = make_rng(seed)

    def _noise_shape(self, x_shape):
        """The mask shape for an input of ``x_shape``: None entries filled, broadcast checked."""
        if self.noise_shape is None:
            return x_shape
        if len(self.noise_shape) != len(x_shape):
            raise ValueError(
                f"{self.name}: noise_shape {self.noise_shape} has rank {len(self.noise_shape)}, "
                f"expected rank {len(x_shape)} to match the input shape {x_shape}"
            )
        shape = tuple(n if s is None else s for s, n in zip(self.noise_shape, x_shape))
        for s, n in zip(shape, x_shape):
            if s not in (1, n):
                raise ValueError(
                    f"{self.name}: noise_shape {self.noise_shape} does not broadcast to the "
                    f"input shape {x_shape} (each entry must be None, 1 or the input's size)"
                )
        return shape

    def forward(self, x, training=False, mask=None):
        """``x * keep / (1 - rate)`` when ``training`` (a fresh mask each call), else ``x``.

        Args:
            x: array of any shape.
            training: whether to drop units.
            mask: unused (passes through, see ``compute_mask``).
        Returns:
            an array of ``x``'s shape in the layer's dtype.
        """
        x = config.as_floatx(x, self.dtype)
        if not training or self.rate == 0.0:
            self._cache = None, x.shape                  # identity: backward passes dy
            return x
        keep = self.generator.random(self._noise_shape(x.shape)) >= self.rate
        scaled_keep = keep.astype(x.dtype) / x.dtype.type(1.0 - self.rate)  # noise_shape
        self._cache = scaled_keep, x.shape
        return x * scaled_keep

    def backward(self, dy):
        """``dy * keep / (1 - rate)`` with the mask of the last forward (``dy`` when identity)."""
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        scaled_keep, x_shape = self._cache
        dy = np.asarray(dy)
        if dy.shape != x_shape:
            raise ValueError(f"{self.name}: expected dy of shape {x_shape}, got {dy.shape}")
        return dy if scaled_keep is None else dy * scaled_keep

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "rate": self.rate,
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
            # a Generator is not JSON-able: the rebuilt layer then draws a fresh seed
            "seed": int(self.seed) if isinstance(self.seed, numbers.Integral) else None,
        })
        return cfg
