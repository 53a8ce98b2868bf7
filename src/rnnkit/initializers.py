"""Weight initializers with Keras names and defaults, reproducible from a ``seed``.

An initializer is called as ``init(shape, dtype=None)`` and returns a NumPy array. With an int
``seed`` every call returns the same values; with ``seed=None`` each call draws a fresh seed from
``rnnkit.random`` (reset by ``rnnkit.random.set_random_seed``).

Fans follow Keras: a 2-D shape ``(fan_in, fan_out)``; 1-D ``(n,)`` has both fans ``n``.

    glorot_uniform  U(-l, l),  l = sqrt(6 / (fan_in + fan_out))
    glorot_normal   truncated N(0, s), s = sqrt(2 / (fan_in + fan_out)) / .8796...
    he_uniform      U(-l, l),  l = sqrt(6 / fan_in)
    he_normal       truncated N(0, s), s = sqrt(2 / fan_in) / .8796...
    lecun_normal    truncated N(0, s), s = sqrt(1 / fan_in) / .8796...
    orthogonal      Q of the QR decomposition of a normal matrix, times ``gain``

>>> from rnnkit import initializers
>>> initializers.get("orthogonal")  # doctest: +ELLIPSIS
<rnnkit.initializers.Orthogonal object at ...>
>>> w = initializers.GlorotUniform(seed=0)((3, 4)); w.shape
(3, 4)
"""

import math

import numpy as np

from . import config
from .random import make_rng

# stddev of a standard normal truncated to [-2, 2]
_TRUNC_STD = 0.87962566103423978


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(rng, shape, stddev):
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev


class Initializer:
    """Base class: subclasses implement ``_draw(rng, shape)`` returning float64 values."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        shape = tuple(int(s) for s in np.atleast_1d(shape)) if np.ndim(shape) else (int(shape),)
        values = self._draw(make_rng(self.seed), shape)
        return np.asarray(values, dtype=dtype or config.floatx())

    def get_config(self):
        return {"seed": self.seed}


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: variance ``scale / fan`` with ``mode`` fan_in, fan_out or fan_avg."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: unknown mode {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"VarianceScaling: unknown distribution {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def _draw(self, rng, shape):
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return rng.standard_normal(shape) * math.sqrt(variance)
        return _truncated_normal(rng, shape, math.sqrt(variance) / _TRUNC_STD)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


class GlorotUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class LecunNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class Orthogonal(Initializer):
    """An orthogonal matrix (rows or columns orthonormal), times ``gain``; shape flattened to 2-D."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def _draw(self, rng, shape):
        if len(shape) < 2:
            raise ValueError(f"orthogonal: expected a shape of rank >= 2, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))  # make the decomposition unique
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def _draw(self, rng, shape):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def _draw(self, rng, shape):
        return self.mean + self.stddev * rng.standard_normal(shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__(None)
        self.value = value

    def _draw(self, rng, shape):
        return np.full(shape, self.value, dtype=np.float64)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


_BY_NAME = {
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "zeros": Zeros, "ones": Ones,
    "random_uniform": RandomUniform, "random_normal": RandomNormal, "constant": Constant,
    "variance_scaling": VarianceScaling,
}
_NAME_OF = {cls: name for name, cls in _BY_NAME.items()}
# Keras aliases, added after _NAME_OF so that serialize keeps the canonical names
_BY_NAME.update({"uniform": RandomUniform, "normal": RandomNormal})


def get(identifier):
    """An initializer from a name, an instance, a ``{"class_name", "config"}`` dict or a callable."""
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]](**identifier.get("config", {}))
    raise ValueError(f"unknown initializer {identifier!r}; expected one of {sorted(_BY_NAME)}")


def serialize(initializer):
    """A JSON-able ``{"class_name": name, "config": {...}}`` for :func:`get`."""
    name = _NAME_OF.get(type(initializer))
    if name is None:
        raise ValueError(f"cannot serialize initializer {initializer!r}")
    return {"class_name": name, "config": initializer.get_config()}
