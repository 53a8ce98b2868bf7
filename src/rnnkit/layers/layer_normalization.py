"""LayerNormalization: Keras's layer, with its hand-written backward.

Each sample is normalised over ``axis`` (the features by default), then scaled and shifted::

    mu, var = mean and population variance of x over ``axis``
    y = gamma * (x - mu) / sqrt(var + epsilon) + beta

``gamma`` and ``beta`` have the shape of the normalised axes (``(D,)`` for ``axis=-1``) and are
shared by every other position (every sample, every time step). PyTorch's
``nn.LayerNorm(normalized_shape, eps)`` is the same function over the trailing axes, with
``weight = gamma`` and ``bias = beta`` (its default eps is 1e-5; Keras's is 1e-3).
The backward is in :mod:`rnnkit.kernels.layer_norm`.

>>> import numpy as np
>>> from rnnkit.layers.layer_normalization import LayerNormalization
>>> ln = LayerNormalization(epsilon=0.0)
>>> np.round(ln(np.array([[1.0, 2.0, 3.0]])).astype(float), 4).tolist(), [w.shape for w in ln.weights]
([[-1.2247, 0.0, 1.2247]], [(3,), (3,)])
"""

import numpy as np

from .. import config, initializers
from ..kernels.layer_norm import layer_norm, layer_norm_backward
from .base import Layer


class LayerNormalization(Layer):
    """Normalise each sample over ``axis``; arguments as ``keras.layers.LayerNormalization``.

    Args:
        axis: an int or a list of ints, the axes to normalise over (not the batch axis 0).
        epsilon: added to the variance (1e-3, Keras's default).
        center: learn the shift ``beta`` (True).
        scale: learn the scale ``gamma`` (True).
        beta_initializer, gamma_initializer: "zeros" and "ones".
        **kwargs: ``name``, ``trainable``, ``dtype``, ``input_shape``...

    Weights (``get_weights`` order, as Keras): gamma, beta, each of the normalised axes' shape.
    A mask passes through unchanged (padded steps are normalised like the others, as Keras).
    """

    _regularizable = ("gamma", "beta")

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer))
                           for a in axes):
            raise TypeError(f"{self.name}: axis must be an int or a list of ints, got {axis!r}")
        if not (isinstance(epsilon, (int, float)) and epsilon >= 0):
            raise ValueError(f"{self.name}: epsilon must be a number >= 0, got {epsilon!r}")
        self.axis = [int(a) for a in axes] if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma = self.beta = None

    def _axes(self, rank):
        """The normalised axes as sorted non-negative ints, checked against the input rank."""
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        out = []
        for a in axes:
            if not -rank <= a < rank or a % rank == 0:
                raise ValueError(f"{self.name}: axis {a} is not a feature axis of an input of "
                                 f"rank {rank} (axis 0 is the batch)")
            out.append(a % rank)
        if len(set(out)) != len(out):
            raise ValueError(f"{self.name}: axis {self.axis!r} names an axis twice")
        return tuple(sorted(out))

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        axes = self._axes(len(input_shape))
        if any(input_shape[a] is None for a in axes):
            raise ValueError(f"{self.name}: the normalised axes {list(axes)} of the input "
                             f"must be known to build, got input shape {input_shape}")
        param_shape = tuple(int(input_shape[a]) for a in axes)
        if self.scale:
            self.gamma = self.add_weight("gamma", param_shape, self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", param_shape, self.beta_initializer)
        self._build_input_shape = input_shape
        self.built = True

    def _broadcast(self, w, rank, axes):
        """A weight of the normalised axes' shape, reshaped to broadcast against the input."""
        if w is None:
            return None
        shape = [1] * rank
        for a, n in zip(axes, w.shape):
            shape[a] = n
        return w.value.reshape(shape)

    def forward(self, x, training=False, mask=None):
        """``y`` of the shape of ``x``; ``training`` and ``mask`` are unused."""
        x = config.as_floatx(x, self.dtype)
        self._maybe_build(x.shape)
        axes = self._axes(x.ndim)
        w = self.gamma if self.gamma is not None else self.beta
        want = None if w is None else tuple(w.shape)
        if want is not None and tuple(x.shape[a] for a in axes) != want:
            raise ValueError(f"{self.name}: expected the normalised axes {list(axes)} of shape "
                             f"{want}, got input shape {x.shape}")
        gamma = self._broadcast(self.gamma, x.ndim, axes)
        beta = self._broadcast(self.beta, x.ndim, axes)
        y, cache = layer_norm(x, gamma, beta, self.epsilon, axes)
        self._cache = (cache, axes)
        return y

    def backward(self, dy):
        """``dx``; adds dgamma (sum of dy * xhat) and dbeta (sum of dy) into their ``.grad``."""
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward() called before forward()")
        cache, axes = self._cache
        dy = np.asarray(dy, dtype=cache[0].dtype)
        if dy.shape != cache[0].shape:
            raise ValueError(f"{self.name}: expected dy of shape {cache[0].shape}, "
                             f"got {dy.shape}")
        dx, dy_xhat = layer_norm_backward(dy, cache)
        others = tuple(a for a in range(dy.ndim) if a not in axes)
        if self.gamma is not None:
            self.gamma.grad += dy_xhat.sum(axis=others).reshape(self.gamma.shape)
        if self.beta is not None:
            self.beta.grad += dy.sum(axis=others).reshape(self.beta.shape)
        return dx

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale,
            beta_initializer=initializers.serialize(self.beta_initializer),
            gamma_initializer=initializers.serialize(self.gamma_initializer),
        )
        return cfg
