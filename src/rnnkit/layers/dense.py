"""Dense: the fully connected layer, applied over the last axis of its input.

    z = x @ kernel + bias            x (..., I), kernel (I, U), bias (U,)  ->  z (..., U)
    y = activation(z)

On a sequence ``(B, T, I)`` the same kernel is applied at every step (Keras's Dense on N-D
inputs), so the weight gradients sum over all leading axes:

    dz      = activation.vjp(z, y, dy)               (dy * f'(z), or softmax's vjp)
    dkernel = X^T dz     with X = x.reshape(-1, I), dz.reshape(-1, U)
    dbias   = sum(dz over every axis but the last)
    dx      = dz @ kernel^T

Weights in Keras order and layout: ``kernel (I, U)``, ``bias (U,)``. A PyTorch ``nn.Linear``
holds ``weight = kernel.T``.

>>> import numpy as np
>>> from rnnkit.layers.dense import Dense
>>> layer = Dense(3, kernel_initializer="ones", bias_initializer="ones")
>>> layer(np.ones((2, 4))).tolist()
[[5.0, 5.0, 5.0], [5.0, 5.0, 5.0]]
"""

import numpy as np

from .. import activations, config, initializers
from ..kernels import threads
from .base import Layer


class Dense(Layer):
    """``y = activation(x @ kernel + bias)`` over the last axis of ``x``.

    Args:
        units: the size ``U`` of the output's last axis.
        activation: a name from :mod:`rnnkit.activations`, an Activation, or None (linear).
        use_bias: whether to add ``bias``.
        kernel_initializer: initializer of ``kernel (I, U)`` (Keras default "glorot_uniform").
        bias_initializer: initializer of ``bias (U,)`` (default "zeros").
        **kwargs: ``name``, ``trainable``, ``dtype``, ``input_shape``, ``input_dim``...

    Input ``(..., I)`` of rank >= 2; output ``(..., U)``. A mask passes through unchanged.
    """

    _regularizable = ("kernel", "bias")

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{self.name}: expected units to be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        """Create ``kernel (I, U)`` and ``bias (U,)`` from the input's last axis ``I``."""
        input_shape = tuple(input_shape)
        self._check_shape_rank(input_shape)
        if input_shape[-1] is None:
            raise ValueError(
                f"{self.name}: the last axis of the input must be known to build, "
                f"got input shape {input_shape}"
            )
        n_in = int(input_shape[-1])
        self.kernel = self.add_weight("kernel", (n_in, self.units), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer)
        self._build_input_shape = input_shape
        self.built = True

    # the products on rnnkit's thread pool, numpy's BLAS at one thread (rnnkit.kernels.threads)
    @threads.blas_one_thread
    def forward(self, x, training=False, mask=None):
        """``y = activation(x @ kernel + bias)``.

        Args:
            x: array ``(..., I)``, rank >= 2.
            training, mask: unused (the mask passes through, see ``compute_mask``).
        Returns:
            ``y (..., U)`` in the layer's dtype.
        """
        x = config.as_floatx(x, self.dtype)
        self._check_shape_rank(x.shape)
        self._check_last_dim(x, self.kernel.shape[0])
        # one 2-D product on a contiguous copy: a 3-D or strided matmul falls off BLAS
        x2 = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))    # (N, I)
        z = threads.matmul(x2, self.kernel.value)                 # (N, U)
        if self.use_bias:
            z += self.bias.value
        z = z.reshape(x.shape[:-1] + (self.units,))               # (..., U)
        y = self.activation(z)
        self._cache = (x2, z, y)
        return y

    @threads.blas_one_thread
    def backward(self, dy):
        """``dx`` from ``dy (..., U)``; adds ``dkernel`` and ``dbias`` into their ``.grad``."""
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        x2, z, y = self._cache
        dy = np.asarray(dy)
        if dy.shape != y.shape:
            raise ValueError(f"{self.name}: expected dy of shape {y.shape}, got {dy.shape}")
        dz = self.activation.vjp(z, y, dy)               # (..., U)
        dz_2d = np.ascontiguousarray(dz.reshape(-1, self.units))  # (N, U), N = leading axes
        threads.matmul(x2.T, dz_2d, self.kernel.grad, accumulate=True)   # += X^T dz (I, U)
        if self.use_bias:
            self.bias.grad += dz_2d.sum(axis=0)          # (U,)
        dx = threads.matmul(dz_2d, self.kernel.value.T)  # (N, I)
        return dx.reshape(dz.shape[:-1] + (x2.shape[1],))  # (..., I)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_shape_rank(input_shape)
        return input_shape[:-1] + (self.units,)

    def _check_shape_rank(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                f"{self.name}: expected input of rank >= 2 (batch, ..., features), "
                f"got rank {len(input_shape)} (shape {input_shape})"
            )

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        })
        return cfg
