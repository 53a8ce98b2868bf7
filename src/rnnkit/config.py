"""Global numeric settings, as in ``keras.config``.

rnnkit computes in ``floatx()`` (float32 by default). Parity tests and gradient checks switch to
float64 with ``set_floatx("float64")``::

    >>> import rnnkit
    >>> rnnkit.config.floatx()
    'float32'
    >>> rnnkit.config.set_floatx("float64"); rnnkit.config.floatx()
    'float64'
    >>> rnnkit.config.set_floatx("float32")

and holds the library's one thread policy (see :func:`set_num_threads` and docs/threads.md).
"""

import math
import os

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


# ---- threads -------------------------------------------------------------------------------
# One policy for everything rnnkit runs in parallel (the batch split of the recurrent kernels,
# the products outside the time loop): at most get_num_threads() threads compute at a time,
# numpy's BLAS kept at one thread inside them (rnnkit.kernels.threads does the work; this
# ground-floor module only holds the number).

_THREADS_ENV = "RNNKIT_NUM_THREADS"
_num_threads = None        # set by set_num_threads(); None: the environment, else usable cores
_usable = None             # usable_cores(), computed once


def _cgroup_cpus():
    """CPUs allowed by the cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), rounded
    up, or None without a quota."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def usable_cores():
    """The cores this process may use: its CPU affinity (``sched_getaffinity``), capped by the
    cgroup CPU quota (containers, CI runners), at least 1."""
    global _usable
    if _usable is None:
        try:
            n = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            n = os.cpu_count() or 1
        quota = _cgroup_cpus()
        _usable = max(1, min(n, quota) if quota else n)
    return _usable


def _check_threads(value, what):
    """``value`` as a positive int, or a ValueError naming ``what``."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a positive integer number of threads, got {value!r}")
    try:
        n = int(value.strip()) if isinstance(value, str) else int(value)
        if n != value and not isinstance(value, str):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected a positive integer number of threads, "
                         f"got {value!r}") from None
    if n < 1:
        raise ValueError(f"{what}: expected a positive integer number of threads, got {value!r}")
    return n


def set_num_threads(n):
    """Use at most ``n`` threads for rnnkit's computations (``None``: back to the default,
    ``RNNKIT_NUM_THREADS`` or else the usable cores). A ValueError for anything but a positive
    integer."""
    global _num_threads
    _num_threads = None if n is None else _check_threads(n, "rnnkit.config.set_num_threads")


def get_num_threads():
    """How many threads rnnkit may compute on: the value of :func:`set_num_threads`, else the
    environment variable ``RNNKIT_NUM_THREADS`` (read at every call), else
    :func:`usable_cores`."""
    if _num_threads is not None:
        return _num_threads
    env = os.environ.get(_THREADS_ENV)
    if env is not None and env.strip():
        return _check_threads(env, f"the environment variable {_THREADS_ENV}")
    return usable_cores()
