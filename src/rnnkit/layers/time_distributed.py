"""TimeDistributed: one layer applied to every time slice (Keras 3 semantics).

``TimeDistributed`` applies one layer to every time slice by folding time into the batch,
``(B, T, ...) -> (B*T, ...)``; its backward unfolds the input gradient. The weights are the
inner layer's, shared by all steps, so their gradients sum over ``B*T`` rows.
"""

import copy

import numpy as np

from . import checks
from .base import Layer
from .registry import deserialize, serialize


def _fold(a, B, T):
    """(B, T, ...) -> (B*T, ...)"""
    return a.reshape((B * T,) + a.shape[2:])


def _unfold(a, B, T):
    """(B*T, ...) -> (B, T, ...)"""
    return a.reshape((B, T) + a.shape[1:])


class TimeDistributed(Layer):
    """Apply ``layer`` to every time slice of ``x (B, T, ...)`` (``keras.layers.TimeDistributed``).

    The slices are folded into the batch, ``(B, T, ...) -> (B*T, ...)``, so the inner layer runs
    once; its output ``(B*T, ...)`` is unfolded to ``(B, T, ...)``. One set of weights serves
    every step (``count_params()`` is the inner layer's).

    Masks: a ``(B, T)`` mask passes through to the output untouched (the inner layer sees each
    slice on its own and has no use for it). A deeper mask ``(B, T, ...)`` -- e.g. when the inner
    layer is itself recurrent over an inner time axis -- is folded to ``(B*T, ...)`` and given to
    the inner layer; the output mask is then the inner layer's, unfolded, or ``(B, T)`` where a
    slice has any unmasked entry.

    >>> import numpy as np
    >>> from rnnkit.layers.dense import Dense
    >>> td = TimeDistributed(Dense(2, kernel_initializer="ones"))
    >>> td(np.ones((4, 3, 5))).shape, td.count_params()
    ((4, 3, 2), 12)
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(f"{self.name}: expected an rnnkit Layer to wrap, got {layer!r}")
        self.layer = layer
        self._sublayers = [layer]

    def _child_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 3:
            raise ValueError(
                f"{self.name}: expected input of rank >= 3 (batch, time, ...), got rank "
                f"{len(input_shape)} (shape {input_shape})"
            )
        B, T = input_shape[:2]
        return (None if None in (B, T) else B * T,) + input_shape[2:]

    def build(self, input_shape):
        self.layer._maybe_build(self._child_shape(input_shape))
        super().build(tuple(input_shape))

    def compute_output_shape(self, input_shape):
        B, T = tuple(input_shape)[:2]
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        if isinstance(child, list):
            return [(B, T) + tuple(s)[1:] for s in child]
        return (B, T) + tuple(child)[1:]

    def _inner_mask(self, mask, B, T):
        """The mask folded for the inner layer, or None for a (B, T) mask (see the docstring)."""
        if mask is None:
            return None
        mask = np.asarray(mask)
        if mask.shape[:2] != (B, T):
            raise ValueError(f"{self.name}: expected a mask of shape ({B}, {T}, ...), "
                             f"got {mask.shape}")
        return _fold(mask, B, T) if mask.ndim > 2 else None

    def forward(self, x, training=False, mask=None):
        """``layer`` on every slice ``x[:, t]``: ``(B, T, ...) -> (B, T, ...)``."""
        x = np.asarray(x)
        self._child_shape(x.shape)
        self._maybe_build(x.shape)
        B, T = x.shape[:2]
        inner_mask = self._inner_mask(mask, B, T)
        kwargs = {} if inner_mask is None else {"mask": inner_mask}
        y = self.layer.forward(_fold(x, B, T), training=training, **kwargs)  # (B*T, ...)
        self._cache = (self.layer._cache, x.shape)
        if isinstance(y, list):                   # an inner layer with several outputs
            return [_unfold(a, B, T) for a in y]
        return _unfold(y, B, T)                   # (B, T, ...)

    def backward(self, dy):
        """``dx (B, T, ...)`` from ``dy (B, T, ...)``; the inner layer adds its weight grads."""
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward() called before forward()")
        inner_cache, x_shape = self._cache
        B, T = x_shape[:2]
        self.layer._cache = inner_cache
        checks.leading_batch_time(self, dy, B, T)
        if isinstance(dy, (list, tuple)):
            d_inner = [None if d is None else _fold(np.asarray(d), B, T) for d in dy]
        else:
            d_inner = _fold(np.asarray(dy), B, T)
        return self.layer.backward(d_inner).reshape(x_shape)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        mask = np.asarray(mask)
        if mask.ndim <= 2:
            return mask
        B, T = mask.shape[:2]
        inner = self.layer.compute_mask(None, _fold(mask, B, T))
        if isinstance(inner, list):
            inner = inner[0]
        if inner is None:
            return mask.reshape(B, T, -1).any(axis=-1)     # (B, T)
        return _unfold(np.asarray(inner), B, T)

    def get_config(self):
        cfg = super().get_config()
        cfg["layer"] = serialize(self.layer)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        cfg = copy.deepcopy(config)
        cfg["layer"] = deserialize(cfg["layer"], custom_objects)
        return cls(**cfg)
