"""Where randomness comes from.

Every random draw in rnnkit takes a ``seed`` (an int, or a ``numpy.random.Generator``). When no
seed is given, the draw takes a fresh seed from one module-level generator that
``set_random_seed`` resets, as ``keras.utils.set_random_seed`` does: a script that calls
``set_random_seed(0)`` first is reproducible end to end.
"""

import numpy as np

_root = np.random.default_rng()


def set_random_seed(seed):
    """Reset the generator that unseeded layers, initializers and dropout draw from."""
    global _root
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: expected a non-negative int, got {seed!r}")
    _root = np.random.default_rng(int(seed))


def draw_seed():
    """A fresh 63-bit seed from the module generator."""
    return int(_root.integers(0, 2**63 - 1))


def make_rng(seed=None):
    """A ``numpy.random.Generator`` from an int seed, a Generator (returned as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        seed = draw_seed()
    return np.random.default_rng(seed)
