"""Activation functions with their derivatives, by name or as objects (Keras names).

Each activation is an :class:`Activation`: calling it gives ``y = f(x)``; ``derivative(x, y)``
gives ``f'(x)`` elementwise (``y = f(x)`` may be passed so that sigmoid and tanh reuse it);
``vjp(x, y, dy)`` gives ``dL/dx`` from ``dL/dy``, which is ``dy * f'(x)`` except for softmax.

    sigmoid(x)      = 1 / (1 + exp(-x))                 f' = y (1 - y)
    tanh(x)                                             f' = 1 - y^2
    relu(x)         = max(x, 0)                         f' = [x > 0]
    hard_sigmoid(x) = clip(x / 6 + 1/2, 0, 1)  (Keras 3) f' = 1/6 on -3 < x < 3
    linear(x)       = x                                 f' = 1
    softplus(x)     = log(1 + exp(x))                   f' = sigmoid(x)
    softsign(x)     = x / (1 + |x|)                     f' = 1 / (1 + |x|)^2
    elu(x)          = x if x > 0 else exp(x) - 1        f' = 1 or y + 1
    selu(x)         = scale * elu_alpha(x)              f' = scale or y + scale*alpha
    swish / silu(x) = x sigmoid(x)                      f' = s + x s (1 - s)
    gelu(x)         = x Phi(x)  (exact, erf)            f' = Phi(x) + x phi(x)
    softmax(x)      over the last axis                  vjp = y (dy - sum(dy y))
    log_softmax(x)  a plain function (no derivative object), for losses and decoding

>>> import numpy as np
>>> from rnnkit import activations
>>> float(activations.get("sigmoid")(np.array(0.0)))
0.5
>>> float(activations.tanh.derivative(np.array(0.0)))
1.0
"""

import math

import numpy as np


class Activation:
    """A named elementwise function ``f`` with its derivative ``f'``."""

    def __init__(self, name, fn, derivative):
        self.name = name
        self._fn = fn
        self._derivative = derivative

    def __call__(self, x):
        return self._fn(np.asarray(x))

    def derivative(self, x, y=None):
        """``f'(x)``; pass ``y = f(x)`` when you have it to avoid recomputing ``f``."""
        x = np.asarray(x)
        return self._derivative(x, self._fn(x) if y is None else y)

    def vjp(self, x, y, dy):
        """``dL/dx`` given ``dL/dy`` (``dy * f'(x)`` for elementwise functions)."""
        return dy * self._derivative(x, y)

    def __repr__(self):
        return f"<activation {self.name}>"


def _sigmoid(x):
    # 0.5 * (1 + tanh(x / 2)): stable for large |x| and one transcendental call; in one
    # buffer (the same operations in the same order, so the same numbers, a third faster)
    y = np.multiply(x, 0.5)
    if not isinstance(y, np.ndarray):                      # 0-d: a scalar, no buffer to reuse
        return 0.5 * (1.0 + np.tanh(y))
    np.tanh(y, out=y)
    y += 1.0
    y *= 0.5
    return y


_ufuncs = None     # compiled (numba) ufuncs for erf and GELU, made at the first use


def _make_ufuncs():
    """``{"erf", "gelu", "gelu_grad"}`` as numba ufuncs (libm's erf: the same numbers as
    ``math.erf``; float32 computed in float64 and rounded), or {} where numba is missing: then
    ``np.vectorize(math.erf)`` (a Python call per element, about a hundred times slower)."""
    try:
        from numba import float32, float64, vectorize
    except ImportError:
        return {}
    sigs = [float32(float32), float64(float64)]      # float32 first: no upcast of float32

    @vectorize(sigs, cache=True)
    def erf(x):
        return math.erf(float64(x))

    @vectorize(sigs, cache=True)
    def gelu(x):                                      # x Phi(x)
        x = float64(x)
        return 0.5 * x * (1.0 + math.erf(x * 0.7071067811865475))

    @vectorize(sigs, cache=True)
    def gelu_grad(x):                                 # Phi(x) + x phi(x)
        x = float64(x)
        return (0.5 * (1.0 + math.erf(x * 0.7071067811865475))
                + x * 0.3989422804014327 * math.exp(-0.5 * x * x))
    return dict(erf=erf, gelu=gelu, gelu_grad=gelu_grad)


def _compiled(name, x):
    """The compiled ufunc ``name`` when it applies to ``x`` (float32 / float64), else None."""
    global _ufuncs
    if _ufuncs is None:
        _ufuncs = _make_ufuncs()
    return _ufuncs.get(name) if x.dtype in (np.float32, np.float64) else None


def _erf(x):
    f = _compiled("erf", x)
    if f is not None:
        return f(x)
    return np.vectorize(math.erf, otypes=[x.dtype if x.dtype.kind == "f" else float])(x)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu(x):
    f = _compiled("gelu", x)
    return f(x) if f is not None else 0.5 * x * (1.0 + _erf(x * _INV_SQRT2))


def _gelu_grad(x, y):
    f = _compiled("gelu_grad", x)
    if f is not None:
        return f(x)
    cdf = 0.5 * (1.0 + _erf(x * _INV_SQRT2))
    return cdf + x * _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(x):
    """``log(softmax(x))`` over the last axis, stable: ``z - log(sum(exp(z)))``, ``z = x - max x``.

    The one definition (losses and decoding use it); ``softmax`` below is the activation.
    """
    z = x - np.max(x, axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


class _Softmax(Activation):
    """Softmax over the last axis; its Jacobian is not diagonal, so ``vjp`` is special."""

    def __init__(self):
        super().__init__("softmax", _softmax, None)

    def derivative(self, x, y=None):
        raise TypeError("softmax has no elementwise derivative; use softmax.vjp(x, y, dy)")

    def vjp(self, x, y, dy):
        y = self._fn(np.asarray(x)) if y is None else y
        return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


sigmoid = Activation("sigmoid", _sigmoid, lambda x, y: y * (1.0 - y))
tanh = Activation("tanh", np.tanh, lambda x, y: 1.0 - y * y)
relu = Activation("relu", lambda x: np.maximum(x, 0), lambda x, y: (x > 0).astype(x.dtype))
hard_sigmoid = Activation(
    "hard_sigmoid",
    lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    lambda x, y: ((x > -3.0) & (x < 3.0)).astype(x.dtype) / 6.0,
)
linear = Activation("linear", lambda x: x, lambda x, y: np.ones_like(x))
softplus = Activation("softplus", lambda x: np.logaddexp(0.0, x), lambda x, y: _sigmoid(x))
softsign = Activation(
    "softsign", lambda x: x / (1.0 + np.abs(x)), lambda x, y: 1.0 / (1.0 + np.abs(x)) ** 2
)
elu = Activation(
    "elu",
    lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    lambda x, y: np.where(x > 0, 1.0, y + 1.0).astype(x.dtype),
)
selu = Activation(
    "selu",
    lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    lambda x, y: np.where(x > 0, _SELU_SCALE, y + _SELU_SCALE * _SELU_ALPHA).astype(x.dtype),
)
silu = Activation(
    "silu",
    lambda x: x * _sigmoid(x),
    lambda x, y: _sigmoid(x) * (1.0 + x * (1.0 - _sigmoid(x))),
)
swish = silu
gelu = Activation("gelu", _gelu, _gelu_grad)
softmax = _Softmax()

_BY_NAME = {
    a.name: a
    for a in (sigmoid, tanh, relu, hard_sigmoid, linear, softplus, softsign, elu, selu, silu,
              gelu, softmax)
}
_BY_NAME["swish"] = silu


def get(identifier):
    """An :class:`Activation` from a name ("tanh"), an Activation, or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(
        f"unknown activation {identifier!r}; expected one of {sorted(_BY_NAME)} or None"
    )


def serialize(activation):
    """The activation's name, for ``get_config``."""
    return get(activation).name


def names():
    """All activation names that :func:`get` accepts."""
    return sorted(_BY_NAME)
