"""What ``Layer.add_weight`` checks before it allocates: the dtype, the machine's memory, and
the budget of a loader.

* A layer computes in float16, float32 or float64 (:func:`check_float_dtype`): int8 would zero
  the weights, object would compute in Python objects.
* A weight larger than the machine's memory is a clear ValueError, not a MemoryError
  (:func:`check_fits_in_memory`).
* While a loader rebuilds an architecture from a file, layers may create only as many weight
  values as the file's own weights could fill (:func:`weight_budget`,
  :func:`charge_weight_budget`): a forged file cannot make the loader allocate gigabytes.

>>> from rnnkit.layers import Dense
>>> with weight_budget(10, "model.safetensors"):
...     Dense(2, name="d").build((None, 3))      # kernel (3, 2) and bias (2,): 8 of the 10
...     Dense(2, name="e").build((None, 3))
Traceback (most recent call last):
ValueError: model.safetensors: the architecture asks for a weight 'kernel' of shape (3, 2) ...
"""

import contextlib
import contextvars
import operator
import os

import numpy as np

# While a loader rebuilds an architecture from a file: [weight values still allowed, file name].
_weight_budget = contextvars.ContextVar("rnnkit_weight_budget", default=None)


@contextlib.contextmanager
def weight_budget(n_values, what):
    """Within this block layers may create at most ``n_values`` weight values in all; a bigger
    ``add_weight`` raises ValueError before allocating. Loaders use it so that an architecture
    read from a file cannot ask for more memory than the file's own weights could fill."""
    token = _weight_budget.set([int(n_values), what])
    try:
        yield
    finally:
        _weight_budget.reset(token)


def charge_weight_budget(layer, name, shape):
    """Take the values of a weight of ``shape`` from the budget of the enclosing
    :func:`weight_budget` (nothing outside one); ValueError naming the layer when too few are
    left."""
    budget = _weight_budget.get()
    if budget is None:
        return
    try:
        dims = [operator.index(d) for d in shape]
    except TypeError:
        return                                  # not integers: the initializer refuses them
    n = int(np.prod(dims, dtype=object)) if dims else 1
    if n > budget[0]:
        raise ValueError(f"{budget[1]}: the architecture asks for a weight {name!r} of shape "
                         f"{tuple(dims)} ({n} values) in layer {layer.name!r}, more than the "
                         f"{budget[0]} weight values left in the file")
    budget[0] -= n


def check_float_dtype(name, dtype):
    """A layer computes in float16, float32 or float64: int8 would zero the weights, object
    would compute in Python objects."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: dtype must be float16, float32 or float64, got {dtype!r}") \
            from None
    if dt not in (np.float16, np.float32, np.float64):
        raise ValueError(f"{name}: dtype must be float16, float32 or float64, got {dtype!r}")


def physical_memory():
    """The machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits_in_memory(layer, name, shape, dtype):
    """A weight larger than the machine's memory is a clear ValueError, not a MemoryError."""
    try:
        n = int(np.prod([operator.index(d) for d in shape], dtype=object)) if len(shape) else 1
    except TypeError:
        return                                  # not integers: the initializer refuses them
    need, have = n * np.dtype(dtype).itemsize, physical_memory()
    if have is not None and need > have:
        raise ValueError(f"{layer.name}: weight {name!r} of shape {tuple(shape)} needs "
                         f"{need / 2**30:.1f} GiB, more than this machine's "
                         f"{have / 2**30:.1f} GiB of memory")
