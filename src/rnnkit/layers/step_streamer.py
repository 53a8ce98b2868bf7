"""A streamer for recurrent layers that bring their own single step (``layer.step``).

:class:`rnnkit.layers.streaming.Streamer` drives LSTM, GRU and SimpleRNN with the compiled step
kernels. The newer layers (MinGRU, MinLSTM, LayerNormLSTM) instead provide
``layer.step(x_t (B, I), states [(B, H), ...]) -> new states`` (NumPy, inference: no dropout,
zoneout by its expectation) and this class holds the states between calls, with the same
interface: ``step``, ``states``, ``reset``, ``reload_weights``, ``kernels``.

>>> import numpy as np
>>> from rnnkit.layers import MinGRU
>>> layer = MinGRU(4)
>>> layer.build((None, None, 3))
>>> stream = layer.streamer(batch_size=2)
>>> stream.step(np.ones((2, 3))).shape, len(stream.states)
((2, 4), 1)
"""

import numpy as np

from .streaming import set_states


class StepStreamer:
    """Steps one layer through time one ``x_t`` at a time, holding its states.

    Args:
        layer: a built layer with ``step(x_t, states)`` and ``state_names``.
        batch_size: B, the number of streams advanced together.
        initial_state: None (zeros) or one (B, H) array per state.
    """

    kernels = "reference"        # NumPy; the step reads the layer's weights at every call

    def __init__(self, layer, batch_size=1, initial_state=None):
        if not layer.built:
            raise ValueError(f"{layer.name}: build the layer before streaming (call it on an "
                             f"input, or layer.build((None, None, features)))")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"{layer.name}: batch_size must be a positive int, "
                             f"got {batch_size!r}")
        self.layer, self.batch_size, self.units = layer, int(batch_size), layer.units
        self.dtype = np.dtype(layer.kernel.value.dtype)
        self.input_dim = int(layer.kernel.shape[0])
        self._states = [np.zeros((self.batch_size, self.units), dtype=self.dtype)
                        for _ in layer.state_names]
        self.reset(initial_state)

    def reset(self, states=None):
        """Zeros (None) or the given states (one (B, H) array per state, copied)."""
        set_states(self.layer, self._states, states, self.dtype)

    @property
    def states(self):
        """Copies of the current states, each (B, H)."""
        return [s.copy() for s in self._states]

    def reload_weights(self):
        """Nothing to reload: every step reads the layer's current weights."""

    def step(self, x_t):
        """Advance every stream by one step: x_t (B, I) -> h_t (B, H) (a new array)."""
        x = np.asarray(x_t)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{self.layer.name}: expected a numeric input array, "
                            f"got dtype {x.dtype}")
        if x.shape != (self.batch_size, self.input_dim):
            raise ValueError(f"{self.layer.name}: expected a streamed input x_t of shape "
                             f"{(self.batch_size, self.input_dim)} (batch, features), "
                             f"got {x.shape}")
        new = self.layer.step(x.astype(self.dtype, copy=False), self.states)
        for own, s in zip(self._states, new):
            own[...] = s
        return self._states[0].copy()

    def __repr__(self):
        return (f"<StepStreamer of {self.layer.name}: batch {self.batch_size}, "
                f"{self.input_dim} -> {self.units}>")
