"""``set_random_seed``: one call makes a script reproducible, as ``keras.utils.set_random_seed``.

It seeds Python's ``random``, NumPy's global generator and the generator that rnnkit's
unseeded layers, initializers, dropout and ``fit``'s shuffling draw from
(:func:`rnnkit.random.set_random_seed`).
"""

import random as _python_random

import numpy as np

from .. import random as _rnnkit_random

__all__ = ["set_random_seed"]


def set_random_seed(seed):
    """Seed Python's ``random``, NumPy's global generator and rnnkit's own generator."""
    _rnnkit_random.set_random_seed(seed)          # validates: a non-negative int
    _python_random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
