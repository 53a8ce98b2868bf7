"""BatchNormalization: normalise each feature over the batch (and time), as Keras 3.

With ``axis`` the feature axis (default the last) and the moments taken over every other axis,
weighted by the mask ``w`` (1 where a step is real, 0 where it is padding; all ones without a
mask), N = sum(w):

    training:   mu  = sum(w * x) / N                var = sum(w * (x - mu)^2) / N   (biased)
                moving_mean     <- momentum * moving_mean     + (1 - momentum) * mu
                moving_variance <- momentum * moving_variance + (1 - momentum) * var
    inference:  mu, var = moving_mean, moving_variance
    both:       s = 1 / sqrt(var + epsilon),  x_hat = (x - mu) * s,  y = gamma * x_hat + beta

Backward (training; the sums run over the reduced axes, dxhat = dy * gamma):

    dgamma = sum(dy * x_hat)          dbeta = sum(dy)
    dx     = s * dxhat - (w / N) * s * (sum(dxhat) + x_hat * sum(dxhat * x_hat))

and in inference dx = s * gamma * dy (mu and var are constants). Weights in Keras order:
``gamma, beta, moving_mean, moving_variance`` (the last two not trainable). PyTorch's
``BatchNorm1d`` keeps the unbiased variance in ``running_var`` and uses
``momentum_torch = 1 - momentum``.

>>> import numpy as np
>>> from rnnkit.layers.batch_normalization import BatchNormalization
>>> bn = BatchNormalization()
>>> y = bn(np.array([[1.0, 2.0], [3.0, 6.0]]), training=True)
>>> np.round(y, 2).tolist()                 # (x - mean) / sqrt(var + 0.001)
[[-1.0, -1.0], [1.0, 1.0]]
"""

import numbers

import numpy as np

from .. import config, initializers
from .base import Layer


def _moments(x, w, axes):
    """Mean and biased variance of ``x`` over ``axes``, weighted by ``w`` (broadcastable)."""
    n = np.sum(np.broadcast_to(w, x.shape), axis=axes, keepdims=True)
    mu = np.sum(w * x, axis=axes, keepdims=True) / n
    var = np.sum(w * (x - mu) ** 2, axis=axes, keepdims=True) / n
    return mu, var, n


class BatchNormalization(Layer):
    """Keras 3's ``BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True,
    scale=True, ...)``.

    Args:
        axis: the feature axis (an int; normalised over every other axis).
        momentum: weight of the old moving statistics in each update.
        epsilon: added to the variance before the square root.
        center, scale: whether to learn ``beta`` / ``gamma``.
        beta_initializer: Keras's initializer of beta (zeros); likewise gamma_initializer
            (ones), moving_mean_initializer (zeros) and moving_variance_initializer (ones).
        **kwargs: ``name``, ``trainable``, ``dtype``, ``input_shape``...

    Call with ``training=True`` to use (and update) the batch statistics; with a ``mask``
    (B, T) the padded steps do not count in the moments. Input any rank >= 2; output the same
    shape. A mask passes through.
    """

    supports_masking = True
    _regularizable = ("gamma", "beta")

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ValueError(f"{self.name}: expected axis to be an int, got {axis!r}")
        for key, value in (("momentum", momentum), ("epsilon", epsilon)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not np.isfinite(value):
                raise ValueError(f"{self.name}: expected {key} to be a finite number, "
                                 f"got {value!r}")
        if not 0 <= momentum <= 1 or epsilon <= 0:
            raise ValueError(f"{self.name}: expected 0 <= momentum <= 1 and epsilon > 0, got "
                             f"momentum={momentum!r}, epsilon={epsilon!r}")
        for key, value in (("center", center), ("scale", scale), ("synchronized", synchronized)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{self.name}: expected {key} to be True or False, got {value!r}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.synchronized = bool(synchronized)     # one process: nothing to synchronise
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def _feature_axis(self, rank):
        axis = self.axis if self.axis >= 0 else rank + self.axis
        if not 0 < axis < rank:
            raise ValueError(f"{self.name}: axis {self.axis} is not a feature axis of an input "
                             f"of rank {rank} (axis 0 is the batch)")
        return axis

    def build(self, input_shape):
        """Create ``gamma, beta, moving_mean, moving_variance``, each (C,)."""
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(f"{self.name}: expected input of rank >= 2, got shape {input_shape}")
        C = input_shape[self._feature_axis(len(input_shape))]
        if C is None:
            raise ValueError(f"{self.name}: the feature axis {self.axis} must be known to build, "
                             f"got input shape {input_shape}")
        C = int(C)
        if self.scale:
            self.gamma = self.add_weight("gamma", (C,), self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", (C,), self.beta_initializer)
        self.moving_mean = self.add_weight("moving_mean", (C,), self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (C,),
                                               self.moving_variance_initializer, trainable=False)
        self._build_input_shape = input_shape
        self.built = True

    def _broadcast(self, v, rank, axis):
        shape = [1] * rank
        shape[axis] = -1
        return v.reshape(shape)

    def _mask_weights(self, mask, x, axis):
        """Weights (0/1) broadcastable to ``x``: the mask's (B, T) over the leading axes."""
        if mask is None:
            return np.ones((1,) * x.ndim, dtype=x.dtype)
        m = np.asarray(mask)
        if m.shape != x.shape[:m.ndim] or m.ndim >= x.ndim or axis < m.ndim:
            raise ValueError(f"{self.name}: expected a mask of shape {x.shape[:-1]} for input "
                             f"{x.shape}, got {m.shape}")
        return m.astype(x.dtype).reshape(m.shape + (1,) * (x.ndim - m.ndim))

    def forward(self, x, training=False, mask=None):
        """``y = gamma * (x - mu) / sqrt(var + epsilon) + beta`` (see the module docstring).

        Args:
            x: array of rank >= 2 with C features on ``axis``.
            training: use and update the batch statistics.
            mask: None, or (B, T) booleans for a (B, T, C) input.
        Returns:
            ``y``, the shape of ``x``.
        """
        x = config.as_floatx(x, self.dtype)
        axis = self._feature_axis(x.ndim)
        C = self.moving_mean.shape[0]
        if x.shape[axis] != C:
            raise ValueError(f"{self.name}: expected input with {C} features on axis "
                             f"{self.axis}, got shape {x.shape}")
        axes = tuple(a for a in range(x.ndim) if a != axis)
        gamma = None if self.gamma is None else self._broadcast(self.gamma.value, x.ndim, axis)
        if training:
            w = self._mask_weights(mask, x, axis)
            mu, var, n = _moments(x, w, axes)
            if np.any(n == 0):
                raise ValueError(f"{self.name}: the batch has no unmasked step to take moments of")
            m = self.momentum
            self.moving_mean.value[...] = m * self.moving_mean.value + (1 - m) * mu.reshape(C)
            self.moving_variance.value[...] = (m * self.moving_variance.value
                                               + (1 - m) * var.reshape(C))
        else:
            w, n = None, None
            mu = self._broadcast(self.moving_mean.value, x.ndim, axis)
            var = self._broadcast(self.moving_variance.value, x.ndim, axis)
        s = 1.0 / np.sqrt(var + self.epsilon)                      # (1.., C, ..1)
        x_hat = (x - mu) * s
        y = x_hat if gamma is None else x_hat * gamma
        if self.beta is not None:
            y = y + self._broadcast(self.beta.value, x.ndim, axis)
        self._cache = (x_hat, s, gamma, w, n, axes, axis, bool(training))
        return y.astype(x.dtype, copy=False)

    def backward(self, dy):
        """``dx`` from ``dy``; adds ``dgamma`` and ``dbeta`` into their ``.grad``."""
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        x_hat, s, gamma, w, n, axes, axis, training = self._cache
        dy = np.asarray(dy)
        if dy.shape != x_hat.shape:
            raise ValueError(f"{self.name}: expected dy of shape {x_hat.shape}, got {dy.shape}")
        C = x_hat.shape[axis]
        if self.beta is not None:
            self.beta.grad += dy.sum(axis=axes).reshape(C)                     # dbeta
        if self.gamma is not None:
            self.gamma.grad += (dy * x_hat).sum(axis=axes).reshape(C)          # dgamma
        dxhat = dy if gamma is None else dy * gamma
        if not training:
            return dxhat * s                                  # mu, var are constants
        sum_dxhat = dxhat.sum(axis=axes, keepdims=True)
        sum_dxhat_xhat = (dxhat * x_hat).sum(axis=axes, keepdims=True)
        return s * dxhat - (w / n) * s * (sum_dxhat + x_hat * sum_dxhat_xhat)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale, "synchronized": self.synchronized,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer":
                initializers.serialize(self.moving_variance_initializer),
        })
        return cfg
