"""Embedding: integer indices to dense vectors, by row lookup.

    y[..., :] = embeddings[x[...], :]        x (...) ints in [0, input_dim)  ->  y (..., D)

The backward scatters ``dy`` back into the rows that were looked up; a row used several times
collects the sum of its gradients (``np.add.at``, not ``grad[x] += dy``, which would keep only
one of the repeated updates):

    dembeddings[k] = sum of dy[..., :] over every position where x == k

There is no gradient with respect to integer indices: ``backward`` returns None.

With ``mask_zero=True`` index 0 is padding: ``compute_mask(x)`` is ``x != 0``, which the
recurrent layers downstream use to skip padded steps (so ``input_dim`` should be vocabulary + 1).

>>> import numpy as np
>>> from rnnkit.layers.embedding import Embedding
>>> layer = Embedding(1000, 64)
>>> layer(np.array([[4, 20, 0]])).shape
(1, 3, 64)
>>> layer.count_params()
64000
"""

import warnings

import numpy as np

from .. import initializers
from .base import Layer


def _get_initializer(identifier):
    # Keras 3's Embedding default "uniform" is RandomUniform(-0.05, 0.05).
    if identifier == "uniform":
        return initializers.RandomUniform()
    return initializers.get(identifier)


class Embedding(Layer):
    """A lookup table ``embeddings (input_dim, output_dim)`` indexed by integer inputs.

    Args:
        input_dim: the vocabulary size; valid indices are ``0 .. input_dim - 1``.
        output_dim: the size ``D`` of each embedding vector.
        embeddings_initializer: initializer of the table (default "uniform", U(-0.05, 0.05)).
        mask_zero: whether index 0 is padding to be masked downstream.
        input_length: accepted for Keras 2 code; it only declares the input shape
            ``(None, input_length)``, as Keras 3 ignores it otherwise.
        **kwargs: ``name``, ``trainable``, ``dtype``, ``input_shape``...

    Input: integer indices of any shape (typically ``(B, T)``); float arrays holding whole
    numbers are accepted and cast. Output: ``(..., output_dim)`` in the layer's float dtype.
    """

    _regularizable = ("embeddings",)

    # A Sequential with no declared input shape shows this in its summary.
    default_input_shape = (None, None)

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False,
                 input_length=None, **kwargs):
        if input_length is not None and not any(
                k in kwargs for k in ("input_shape", "batch_input_shape")):
            kwargs["batch_input_shape"] = (None, int(input_length))
        super().__init__(**kwargs)
        if input_length is not None:
            warnings.warn(f"{self.name}: input_length is deprecated in Keras 3; it only "
                          "declares the input shape here", stacklevel=2)
        for what, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(
                    f"{self.name}: expected {what} to be a positive int, got {value!r}")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = _get_initializer(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.embeddings = None

    def build(self, input_shape=None):
        """Create ``embeddings (input_dim, output_dim)``; the input shape is not needed."""
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer)
        self._build_input_shape = None if input_shape is None else tuple(input_shape)
        self.built = True

    def _indices(self, x):
        """``x`` as an int array, checked to lie in ``[0, input_dim)``."""
        x = np.asarray(x)
        allowed = f"integers in [0, {self.input_dim})"
        if x.dtype.kind == "f":
            bad = ~np.isfinite(x) | (x != np.round(x))
            if bad.any():
                pos = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(
                    f"{self.name}: expected {allowed}, got non-integer value {x[pos].item()} at "
                    f"position {pos} (input dtype {x.dtype}, shape {x.shape})"
                )
        elif x.dtype.kind not in "iu":
            raise TypeError(
                f"{self.name}: expected {allowed}, got an array of dtype {x.dtype} "
                f"(shape {x.shape})"
            )
        bad = (x < 0) | (x >= self.input_dim)
        if bad.any():
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{self.name}: expected {allowed}, got index {x[pos].item()} at position {pos} "
                f"(input shape {x.shape})"
            )
        return x.astype(np.intp, copy=False)

    def forward(self, x, training=False, mask=None):
        """Look up the rows: ``y = embeddings[x]``.

        Args:
            x: integer indices of any shape ``(...)``.
            training, mask: unused.
        Returns:
            ``y (..., output_dim)``.
        """
        idx = self._indices(x)
        self._cache = idx
        return self.embeddings.value[idx]                # (..., D)

    def backward(self, dy):
        """Scatter-add ``dy (..., D)`` into ``embeddings.grad``; returns None (integer input)."""
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        idx = self._cache
        dy = np.asarray(dy)
        if dy.shape != idx.shape + (self.output_dim,):
            raise ValueError(f"{self.name}: expected dy of shape {idx.shape + (self.output_dim,)}, "
                             f"got {dy.shape}")
        # repeated indices must all count: np.add.at does an unbuffered sum
        np.add.at(self.embeddings.grad, idx.reshape(-1), dy.reshape(-1, self.output_dim))
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        """``inputs != 0`` when ``mask_zero``, else None."""
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "mask_zero": self.mask_zero,
        })
        return cfg
