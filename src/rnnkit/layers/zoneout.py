"""Zoneout (Krueger et al. 2016) for the recurrent layers: its arguments and its keep-masks,
shared by LSTM, GRU and LayerNormLSTM.

Zoneout keeps each unit of a state at its previous value with probability p, instead of
dropping it to zero as dropout would::

    s_t = z * s_prev + (1 - z) * s~          s~ the cell's new state (h, or c of an LSTM)

When training, ``z`` is a fresh 0/1 draw (1 with probability p) at every step, batch row and
unit, from the layer's generator (``seed``); at inference it is p itself, the expectation.
The kernels take the keep-masks as arrays ``zh``, ``zc``: (T, B, H) draws when training,
(T, 1, 1) holding p otherwise, None where p is 0 (no zoneout, no draw, no cost). The blend
and its adjoint are :func:`rnnkit.kernels.equations.zoneout` and ``zoneout_backward``.

A layer takes the mixin first (``class LSTM(ZoneoutMixin, Recurrent)``), names its
probability arguments in ``zoneout_args`` (one per state, in ``state_names`` order; LSTM:
``zoneout`` for h, ``cell_zoneout`` for c), calls ``_set_zoneout`` in ``__init__`` and
``_zoneout_masks`` in its kernel calls.

>>> import numpy as np
>>> from rnnkit.layers import LSTM
>>> lstm = LSTM(3, zoneout=0.5, seed=0)
>>> lstm._training = True
>>> zh, zc = lstm._zoneout_masks(4, 2, np.float64)
>>> zh.shape, zc is None, sorted(set(zh.ravel().tolist()))
((4, 2, 3), True, [0.0, 1.0])
"""

import numbers

import numpy as np


class ZoneoutMixin:
    """Zoneout arguments, masks and config for a :class:`~rnnkit.layers.recurrent.Recurrent`
    cell layer (see the module docstring)."""

    zoneout_args = ()              # the probability arguments, one per state
    _training = False              # set by forward: masks are drawn only when training

    def _set_zoneout(self, **rates):
        """Check each probability (a number in [0, 1)) and keep it as a float attribute."""
        for what, p in rates.items():
            if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p < 1.0:
                raise ValueError(f"{self.name}: {what} must be in [0, 1) (the probability of "
                                 f"keeping a unit's previous value), got {p!r}")
            setattr(self, what, float(p))

    def _zoneout_rates(self):
        return [getattr(self, name) for name in self.zoneout_args]

    def _zoneout_drawn(self):
        """Whether this call draws masks (training with some zoneout)."""
        return self._training and any(self._zoneout_rates())

    def _zoneout_masks(self, T, B, dtype):
        """One keep-mask per state: (T, B, H) 0/1 draws when training, (T, 1, 1) holding p
        otherwise, or None where p is 0."""
        out = []
        for p in self._zoneout_rates():
            if p == 0.0:
                out.append(None)
            elif self._training:
                out.append((self._rng.random((T, B, self.units)) < p).astype(dtype))
            else:
                out.append(np.full((T, 1, 1), p, dtype=dtype))
        return out

    def forward(self, x, training=False, mask=None, initial_state=None):
        self._training = bool(training)
        return super().forward(x, training=training, mask=mask, initial_state=initial_state)

    forward.__doc__ = "As :meth:`Recurrent.forward`; ``training`` also draws zoneout's masks."

    def get_config(self):
        cfg = super().get_config()
        cfg.update({name: getattr(self, name) for name in self.zoneout_args})
        return cfg
