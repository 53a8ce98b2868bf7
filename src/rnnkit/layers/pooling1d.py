"""Pooling over time: ``MaxPooling1D``, ``GlobalAveragePooling1D``, ``GlobalMaxPooling1D``.

    MaxPooling1D:             y[b, t, c] = max_k x_pad[b, t*s + k, c]       k < pool_size
                              dx: dy goes to the (first) position of each window's maximum
    GlobalAveragePooling1D:   y[b, c] = sum_t w[b,t] x[b, t, c] / sum_t w[b,t]
                              dx[b, t, c] = w[b,t] dy[b, c] / sum_t w[b,t]
    GlobalMaxPooling1D:       y[b, c] = max_t x[b, t, c];  dy goes to the argmax step

w is the mask (1 for real steps, 0 for padding; all ones without a mask), as Keras averages
only the unmasked steps. "same" padding of MaxPooling1D pads with -inf, as Keras.

>>> import numpy as np
>>> from rnnkit.layers.pooling1d import GlobalAveragePooling1D, MaxPooling1D
>>> MaxPooling1D(2)(np.array([[[1.0], [3.0], [2.0], [0.0]]])).ravel().tolist()
[3.0, 2.0]
>>> GlobalAveragePooling1D()(np.ones((1, 3, 2)), mask=np.array([[1, 1, 0]])).tolist()
[[1.0, 1.0]]
"""

import numbers

import numpy as np

from .. import config
from .base import Layer
from .conv1d import padding_1d


def _check(layer, x):
    if x.ndim != 3:
        raise ValueError(f"{layer.name}: expected input (batch, time, channels), got shape "
                         f"{x.shape}")


class MaxPooling1D(Layer):
    """Keras's ``MaxPooling1D(pool_size=2, strides=None, padding="valid")``."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        pool_size, strides = (v[0] if isinstance(v, (list, tuple)) and len(v) == 1 else v
                              for v in (pool_size, strides))      # Keras writes [2]
        for what, v in (("pool_size", pool_size), ("strides", strides)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)
                                  or v < 1):
                raise ValueError(f"{self.name}: expected {what} to be a positive int, got {v!r}")
        if padding not in ("valid", "same") or data_format not in (None, "channels_last"):
            raise ValueError(f"{self.name}: expected padding 'valid' or 'same' (channels_last), "
                             f"got {padding!r}, {data_format!r}")
        self.pool_size = int(pool_size)
        self.strides = int(strides) if strides is not None else self.pool_size
        self.padding = padding

    def forward(self, x, training=False, mask=None):
        x = config.as_floatx(x, self.dtype)
        _check(self, x)
        B, T, C = x.shape
        left, right, T_out = padding_1d(T, self.pool_size, self.strides, 1, self.padding)
        if T_out < 1:
            raise ValueError(f"{self.name}: {T} steps are fewer than pool_size {self.pool_size}")
        x_pad = np.pad(x, ((0, 0), (left, right), (0, 0)), constant_values=-np.inf)
        taps = np.arange(T_out)[:, None] * self.strides + np.arange(self.pool_size)[None, :]
        windows = x_pad[:, taps, :]                                   # (B, T_out, P, C)
        arg = windows.argmax(axis=2)                                  # (B, T_out, C)
        y = np.take_along_axis(windows, arg[:, :, None, :], axis=2)[:, :, 0, :]
        src = taps[np.arange(T_out)[None, :, None], arg] - left      # (B, T_out, C) steps of x
        self._cache = (src, x.shape)
        return y

    def backward(self, dy):
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        src, x_shape = self._cache                                    # (B, T_out, C) steps
        dy = np.asarray(dy)
        if dy.shape != src.shape:
            raise ValueError(f"{self.name}: expected dy of shape {src.shape}, got {dy.shape}")
        B, T_out, C = src.shape
        dx = np.zeros(x_shape, dtype=dy.dtype)
        b = np.arange(B)[:, None, None]
        c = np.arange(C)[None, None, :]
        np.add.at(dx, (b, src, c), dy)
        return dx

    def compute_output_shape(self, input_shape):
        B, T, C = tuple(input_shape)
        T_out = None if T is None else padding_1d(T, self.pool_size, self.strides, 1,
                                                  self.padding)[2]
        return (B, T_out, C)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"pool_size": self.pool_size, "strides": self.strides,
                    "padding": self.padding})
        return cfg


class _GlobalPooling1D(Layer):
    supports_masking = True

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last") or not isinstance(keepdims, bool):
            raise ValueError(f"{self.name}: expected channels_last and keepdims True/False, "
                             f"got {data_format!r}, {keepdims!r}")
        self.keepdims = keepdims

    def compute_output_shape(self, input_shape):
        B, T, C = tuple(input_shape)
        return (B, 1, C) if self.keepdims else (B, C)

    def compute_mask(self, inputs, mask=None):
        return None                                    # time is gone

    def _out(self, y):
        return y[:, None, :] if self.keepdims else y

    def _dy(self, dy, shape):
        dy = np.asarray(dy)
        want = (shape[0], 1, shape[2]) if self.keepdims else (shape[0], shape[2])
        if dy.shape != want:
            raise ValueError(f"{self.name}: expected dy of shape {want}, got {dy.shape}")
        return dy.reshape(shape[0], 1, shape[2])

    def get_config(self):
        cfg = super().get_config()
        cfg["keepdims"] = self.keepdims
        return cfg


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean over time of the unmasked steps: (B, T, C) -> (B, C)."""

    def forward(self, x, training=False, mask=None):
        x = config.as_floatx(x, self.dtype)
        _check(self, x)
        w = (np.ones(x.shape[:2], dtype=x.dtype) if mask is None
             else np.asarray(mask).astype(x.dtype))
        if w.shape != x.shape[:2]:
            raise ValueError(f"{self.name}: expected a mask of shape {x.shape[:2]}, got "
                             f"{w.shape}")
        n = w.sum(axis=1, keepdims=True)                              # (B, 1)
        if np.any(n == 0):
            raise ValueError(f"{self.name}: a sequence has no unmasked step to average")
        y = (x * w[:, :, None]).sum(axis=1) / n                       # (B, C)
        self._cache = (w / n, x.shape)
        return self._out(y)

    def backward(self, dy):
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        scale, shape = self._cache
        return self._dy(dy, shape) * scale[:, :, None]


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The maximum over time: (B, T, C) -> (B, C)."""

    def forward(self, x, training=False, mask=None):
        x = config.as_floatx(x, self.dtype)
        _check(self, x)
        arg = x.argmax(axis=1)                                        # (B, C)
        y = np.take_along_axis(x, arg[:, None, :], axis=1)[:, 0, :]
        self._cache = (arg, x.shape)
        return self._out(y)

    def backward(self, dy):
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        arg, shape = self._cache
        g = self._dy(dy, shape)[:, 0, :]
        dx = np.zeros(shape, dtype=g.dtype)
        np.put_along_axis(dx, arg[:, None, :], g[:, None, :], axis=1)
        return dx
