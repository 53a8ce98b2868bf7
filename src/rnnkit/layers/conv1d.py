"""Conv1D: a 1-D convolution over time, as ``keras.layers.Conv1D`` (channels last).

With kernel ``W`` (K, C, F), bias ``b`` (F,), stride s, dilation d and the input padded to
``x_pad`` (B, T_pad, C):

    z[b, t, f] = b[f] + sum_k sum_c x_pad[b, t*s + k*d, c] * W[k, c, f]     t = 0..T_out-1
    y = activation(z)

Padding as Keras: "valid" none; "same" ``total = max((T_out-1)*s + (K-1)*d + 1 - T, 0)`` with
T_out = ceil(T / s), ``total // 2`` on the left and the rest on the right; "causal"
``(K-1)*d`` zeros on the left only (output step t sees no input after t).

The products are one matrix multiply over gathered windows (im2col):
``cols[b, t, k, c] = x_pad[b, t*s + k*d, c]``, ``z = cols.reshape(-1, K*C) @ W.reshape(K*C, F)``.
Backward, with dz = activation.vjp(dy):

    dW = cols^T dz          db = sum(dz)          dcols = dz W^T
    dx_pad[b, t*s + k*d, c] += dcols[b, t, k, c]  (scattered back; the padding is dropped)

>>> import numpy as np
>>> from rnnkit.layers.conv1d import Conv1D
>>> conv = Conv1D(2, 3, padding="causal", kernel_initializer="ones")
>>> conv(np.ones((1, 4, 1))).tolist()
[[[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [3.0, 3.0]]]
"""

import numbers

import numpy as np

from .. import activations, config, initializers
from .base import Layer


def _positive_int(value, what, name):
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: expected {what} to be a positive int, got {value!r}")
    return int(value)


def padding_1d(T, K, stride, dilation, padding):
    """``(left, right, T_out)`` of Keras's 1-D padding modes for a length-T input."""
    span = (K - 1) * dilation + 1
    if padding == "valid":
        return 0, 0, max((T - span) // stride + 1, 0)
    if padding == "causal":
        return span - 1, 0, (T - 1) // stride + 1
    T_out = -(-T // stride)
    total = max((T_out - 1) * stride + span - T, 0)
    return total // 2, total - total // 2, T_out


class Conv1D(Layer):
    """Keras's ``Conv1D(filters, kernel_size, strides=1, padding="valid", dilation_rate=1,
    activation=None, use_bias=True, kernel_initializer="glorot_uniform",
    bias_initializer="zeros")``; weights ``kernel (K, C, F)``, ``bias (F,)``.

    Input (B, T, C), output (B, T_out, F). ``padding="causal"`` keeps T_out = T and lets step t
    see only steps <= t. A mask is passed through when the output has the input's length and
    stride 1 ("same" or "causal"), else dropped.
    """

    supports_masking = True
    _regularizable = ("kernel", "bias")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = _positive_int(filters, "filters", self.name)
        self.kernel_size = _positive_int(kernel_size, "kernel_size", self.name)
        self.strides = _positive_int(strides, "strides", self.name)
        self.dilation_rate = _positive_int(dilation_rate, "dilation_rate", self.name)
        if padding not in ("valid", "same", "causal"):
            raise ValueError(f"{self.name}: expected padding 'valid', 'same' or 'causal', "
                             f"got {padding!r}")
        if data_format not in (None, "channels_last") or groups != 1:
            raise ValueError(f"{self.name}: rnnkit's Conv1D is channels_last with groups=1, "
                             f"got data_format={data_format!r}, groups={groups!r}")
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(f"{self.name}: strides > 1 with dilation_rate > 1 is not "
                             "supported (as in Keras)")
        self.padding = padding
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None

    def build(self, input_shape):
        """Create ``kernel (K, C, F)`` and ``bias (F,)`` from the input's channels C."""
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: expected input (batch, time, channels) with known "
                             f"channels, got shape {input_shape}")
        C = int(input_shape[-1])
        self.kernel = self.add_weight("kernel", (self.kernel_size, C, self.filters),
                                      self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)
        self._build_input_shape = input_shape
        self.built = True

    def forward(self, x, training=False, mask=None):
        """``y = activation(conv(x_pad, kernel) + bias)``; x (B, T, C) -> y (B, T_out, F)."""
        x = config.as_floatx(x, self.dtype)
        K, C, F = self.kernel.shape
        if x.ndim != 3 or x.shape[-1] != C:
            raise ValueError(f"{self.name}: expected input (batch, time, {C}), got {x.shape}")
        B, T, _ = x.shape
        s, d = self.strides, self.dilation_rate
        left, right, T_out = padding_1d(T, K, s, d, self.padding)
        if T_out < 1:
            raise ValueError(f"{self.name}: a sequence of {T} steps is shorter than the "
                             f"kernel's span {(K - 1) * d + 1} ('valid' padding)")
        x_pad = np.pad(x, ((0, 0), (left, right), (0, 0)))            # (B, T_pad, C)
        taps = np.arange(T_out)[:, None] * s + np.arange(K)[None, :] * d   # (T_out, K)
        cols = x_pad[:, taps, :]                                       # (B, T_out, K, C)
        z = cols.reshape(B * T_out, K * C) @ self.kernel.value.reshape(K * C, F)
        if self.use_bias:
            z += self.bias.value
        z = z.reshape(B, T_out, F)
        y = self.activation(z)
        self._cache = (cols, taps, x_pad.shape, left, T, z, y)
        return y

    def backward(self, dy):
        """``dx`` (B, T, C) from ``dy`` (B, T_out, F); adds dkernel and dbias."""
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        cols, taps, pad_shape, left, T, z, y = self._cache
        dy = np.asarray(dy)
        if dy.shape != y.shape:
            raise ValueError(f"{self.name}: expected dy of shape {y.shape}, got {dy.shape}")
        B, T_out, K, C = cols.shape
        F = self.filters
        dz = self.activation.vjp(z, y, dy).reshape(B * T_out, F)      # (B*T_out, F)
        self.kernel.grad += (cols.reshape(B * T_out, K * C).T @ dz).reshape(K, C, F)
        if self.use_bias:
            self.bias.grad += dz.sum(axis=0)
        dcols = (dz @ self.kernel.value.reshape(K * C, F).T).reshape(B, T_out, K, C)
        dx_pad = np.zeros(pad_shape, dtype=dcols.dtype)
        np.add.at(dx_pad, (slice(None), taps, slice(None)), dcols)     # scatter the windows
        return dx_pad[:, left:left + T, :]

    def compute_output_shape(self, input_shape):
        B, T, _ = tuple(input_shape)
        T_out = None if T is None else padding_1d(T, self.kernel_size, self.strides,
                                                  self.dilation_rate, self.padding)[2]
        return (B, T_out, self.filters)

    def compute_mask(self, inputs, mask=None):
        keeps_time = self.strides == 1 and self.padding in ("same", "causal")
        return mask if keeps_time else None

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        })
        return cfg
