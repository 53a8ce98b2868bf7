"""Array operations with gradients, named as ``keras.ops``, for ``call()`` methods.

Inside a subclassed model's or a custom layer's ``call`` (see :mod:`rnnkit.layers.tape`) these
are recorded with their adjoints, so the model trains with no hand-written backward; outside a
``call`` they are plain NumPy. Each takes arrays, tape values or a layer's weights
(``ops.matmul(x, self.kernel)``)::

    >>> import numpy as np
    >>> from rnnkit import ops
    >>> ops.add(np.ones(2), np.ones(2)).tolist()
    [2.0, 2.0]

Adjoints (g is the output gradient): add/subtract pass g (summed over broadcast axes), multiply
gives ``g*b`` and ``g*a``, matmul ``g @ b^T`` and ``a^T @ g``, concatenate splits g, mean
spreads ``g/n``, reshape/transpose/squeeze/expand_dims reshape g back, slicing scatters g into
zeros, sigmoid ``g*y*(1-y)``, tanh ``g*(1-y^2)``, relu ``g*(x>0)``, softmax
``y*(g - sum(g*y))``.
"""

import builtins

import numpy as np

from .layers.tape import active_tape

__all__ = ["add", "concatenate", "divide", "exp", "expand_dims", "log", "matmul", "maximum",
           "mean", "minimum", "multiply", "negative", "relu", "reshape", "sigmoid", "slice",
           "softmax", "sqrt", "square", "squeeze", "stack", "subtract", "sum", "take_last",
           "tanh", "transpose", "where"]


def _v(x):
    """A value to compute on: a weight read through the active tape, arrays as they are."""
    if hasattr(x, "value") and hasattr(x, "grad"):            # a Weight
        tape = active_tape()
        return tape.watch_weight(x) if tape is not None else x.value
    return x


def add(x1, x2):
    return np.add(_v(x1), _v(x2))


def subtract(x1, x2):
    return np.subtract(_v(x1), _v(x2))


def multiply(x1, x2):
    return np.multiply(_v(x1), _v(x2))


def divide(x1, x2):
    return np.divide(_v(x1), _v(x2))


def negative(x):
    return np.negative(_v(x))


def maximum(x1, x2):
    return np.maximum(_v(x1), _v(x2))


def minimum(x1, x2):
    return np.minimum(_v(x1), _v(x2))


def matmul(x1, x2):
    return np.matmul(_v(x1), _v(x2))


def exp(x):
    return np.exp(_v(x))


def log(x):
    return np.log(_v(x))


def sqrt(x):
    return np.sqrt(_v(x))


def square(x):
    return np.square(_v(x))


def tanh(x):
    return np.tanh(_v(x))


def sigmoid(x):
    """``1 / (1 + exp(-x))``, written as ``0.5 * tanh(x / 2) + 0.5`` (stable, recorded)."""
    return 0.5 * np.tanh(0.5 * _v(x)) + 0.5


def relu(x):
    return np.maximum(_v(x), 0.0)


def softmax(x, axis=-1):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``."""
    x = _v(x)
    shift = np.max(np.asarray(x), axis=axis, keepdims=True)   # a constant: no gradient needed
    e = np.exp(x - shift)
    return e / np.sum(e, axis=axis, keepdims=True)


def concatenate(xs, axis=0):
    return np.concatenate([_v(x) for x in xs], axis=axis)


def stack(xs, axis=0):
    return np.stack([_v(x) for x in xs], axis=axis)


def mean(x, axis=None, keepdims=False):
    return np.mean(_v(x), axis=axis, keepdims=keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    return np.sum(_v(x), axis=axis, keepdims=keepdims)


def reshape(x, newshape):
    return np.reshape(_v(x), newshape)


def transpose(x, axes=None):
    return np.transpose(_v(x), axes)


def squeeze(x, axis=None):
    return np.squeeze(_v(x), axis=axis)


def expand_dims(x, axis):
    return np.expand_dims(_v(x), axis)


def where(condition, x1, x2):
    return np.where(np.asarray(condition), _v(x1), _v(x2))


def slice(x, start_indices, shape):  # noqa: A001 - Keras's name
    """``x[start:start+shape]`` along every axis, as ``keras.ops.slice``."""
    index = tuple(builtins.slice(s, s + n) for s, n in zip(start_indices, shape))
    return _v(x)[index]


def take_last(x):
    """``x[:, -1]``: the last step of a (B, T, ...) sequence."""
    return _v(x)[:, -1]
