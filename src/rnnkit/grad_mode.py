"""``inference_mode()``: forward passes that keep nothing for a backward pass.

A layer's ``forward`` normally caches what its ``backward`` needs (for a recurrent layer: the
states and gate activations of every step), even with ``training=False``, because a backward
may follow (gradient diagnostics run one after an inference-mode forward). Inside
``with inference_mode():`` the caller promises that no backward follows; the recurrent layers
then run a forward-only kernel that keeps only the current step's states and writes the
outputs where the layer returns them, and a later ``backward`` raises. ``Model.predict`` uses
it; so can any code that only reads outputs (as ``torch.inference_mode``)::

    >>> import numpy as np
    >>> from rnnkit.grad_mode import inference_mode, is_inference_mode
    >>> with inference_mode():
    ...     is_inference_mode()
    True
    >>> is_inference_mode()
    False

The flag is per thread and nests (the innermost ``inference_mode(enabled)`` wins).
"""

import threading
from contextlib import contextmanager

_local = threading.local()


def is_inference_mode():
    """True inside ``with inference_mode():`` on this thread."""
    return getattr(_local, "enabled", False)


@contextmanager
def inference_mode(enabled=True):
    """Within the block, forward passes keep no cache for backward (see the module docstring)."""
    previous = is_inference_mode()
    _local.enabled = bool(enabled)
    try:
        yield
    finally:
        _local.enabled = previous
