"""Global numeric settings, as in ``keras.config``.

rnnkit computes in ``floatx()`` (float32 by default). Parity tests and gradient checks switch to
float64 with ``set_floatx("float64")``::

    >>> import rnnkit
    >>> rnnkit.config.floatx()
    'float32'
    >>> rnnkit.config.set_floatx("float64"); rnnkit.config.floatx()
    'float64'
    >>> rnnkit.config.set_floatx("float32")
"""

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_ALLOWED = ("float16", "float32", "float64")


def floatx():
    """The default float type name for new weights and computations ("float32")."""
    return _FLOATX


def set_floatx(value):
    """Set the default float type: one of "float16", "float32", "float64"."""
    global _FLOATX
    if value not in _ALLOWED:
        raise ValueError(f"set_floatx: expected one of {_ALLOWED}, got {value!r}")
    _FLOATX = str(value)


def epsilon():
    """The fuzz factor used by losses and optimizers (1e-7, as in Keras)."""
    return _EPSILON


def set_epsilon(value):
    """Set the fuzz factor used by losses and optimizers."""
    global _EPSILON
    _EPSILON = float(value)


def as_floatx(x, dtype=None):
    """``x`` as a NumPy array of ``dtype`` (default ``floatx()``), copying only when needed."""
    return np.asarray(x, dtype=dtype or _FLOATX)
