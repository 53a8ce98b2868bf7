"""Fast kernels: compiled (Numba) versions of :mod:`rnnkit.kernels` with the same contract.

Importing this package needs numba; :mod:`rnnkit.kernels.dispatch` imports it lazily and falls
back to the reference kernels when that fails.
"""

from ._lowlevel import AVAILABLE

__all__ = ["AVAILABLE"]
