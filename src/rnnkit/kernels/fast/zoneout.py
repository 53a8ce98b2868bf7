"""Zoneout in the compiled passes: the keep-masks packed as one argument, the blend compiled from
the reference's own definition.

Zoneout (Krueger et al. 2016) blends a cell's new state with its previous one::

    s_t = z * s_prev + (1 - z) * s~          (s = h, or c of the LSTM)

``z`` is the keep-mask: a 0/1 draw per step, row and unit when training, the probability p
at inference (the expectation). The training passes take both masks of a cell as one
:class:`Zoneout` argument (a module-level namedtuple: numba passes it as a single argument and
``cache=True`` keeps working); the forward-only passes and the streaming steps take the two
probabilities as a tuple ``(p_h, p_c)`` instead (a constant blend needs no array).

:func:`zoneout` and :func:`zoneout_backward` are :func:`rnnkit.kernels.equations.zoneout` and
its adjoint compiled as they are, inlined into the passes' loops (scalars there). As with
:mod:`rnnkit.kernels.fast._lowlevel`, numba's on-disk cache of a pass notices edits to the
pass's own file only: after editing those two definitions, touch the kernel modules.
"""

from collections import namedtuple

import numpy as np
from numba import njit

from .. import equations

# h, c: (T, B, H) keep-masks of h and c (a (1, 1, 1) placeholder where off);
# on_h, on_c: whether each is on (False: the pass does exactly what it does without zoneout)
Zoneout = namedtuple("Zoneout", ["h", "c", "on_h", "on_c"])

_INLINE = dict(inline="always", fastmath=True, error_model="numpy")
zoneout = njit(**_INLINE)(equations.zoneout)                  # s_t from (z, s~, s_prev)
zoneout_backward = njit(**_INLINE)(equations.zoneout_backward)  # (ds~, ds_prev) from (z, ds)


def zoneout_masks(zh, zc, T, B, H, dtype):
    """The :class:`Zoneout` argument of a training pass from the kernels' ``zh``, ``zc``: each
    None (off) or an array broadcastable to (T, B, H) (the layer's (T, B, H) draws, or (T, 1, 1)
    holding p), made a C-contiguous (T, B, H) array of ``dtype``."""
    def one(z):
        if z is None:
            return np.zeros((1, 1, 1), dtype=dtype), False
        z = np.broadcast_to(np.asarray(z, dtype=dtype), (T, B, H))
        return np.ascontiguousarray(z), True
    (h, on_h), (c, on_c) = one(zh), one(zc)
    return Zoneout(h, c, on_h, on_c)


def zoneout_probs(zoneout_h, zoneout_c, dtype):
    """``(p_h, p_c)`` of the forward-only passes and steps, as scalars of ``dtype``."""
    t = np.dtype(dtype).type
    return (t(zoneout_h), t(zoneout_c))
