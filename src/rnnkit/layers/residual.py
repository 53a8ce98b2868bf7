"""ResidualBlock: ``y = x + f(LayerNorm(x))``, the pre-norm block of deep sequence models.

``f`` is a list of layers applied in order, so the two blocks of a recurrent language model
(as in the minGRU / minLSTM paper's stacks, or a pre-LN Transformer with the attention swapped
for a recurrence) are::

    ResidualBlock([MinGRU(D, return_sequences=True)])                  # mixing over time
    ResidualBlock([Dense(2 * D, activation="gelu"), Dense(D)])         # per-step MLP

Both keep the width D (the output of ``f`` must have the input's shape). The same thing in the
functional API, for those who prefer to see the wiring::

    h = LayerNormalization()(x); h = MinGRU(D, return_sequences=True)(h); x = Add()([x, h])

Backward: ``dx = dy + LN'(f'(dy))``; the inner layers add their weight gradients. A mask
passes to the inner layers (the recurrent ones use it) and on to the output.

Generation and streaming: the block streams as its layers do, step by step
(``streamer()``), and with ``return_state`` / ``initial_state`` it hands over the states of
its recurrent layer (at most one), so a stack ``Embedding -> blocks -> Dense`` works with
:func:`rnnkit.generation.generate_text`.

>>> import numpy as np
>>> from rnnkit.layers import Dense, MinGRU
>>> block = ResidualBlock([MinGRU(4, return_sequences=True)])
>>> block(np.ones((2, 5, 4))).shape, block.count_params()
((2, 5, 4), 48)
"""

import copy

import numpy as np

from .base import Layer
from .layer_normalization import LayerNormalization
from .registry import deserialize, serialize


class ResidualBlock(Layer):
    """``y = x + layers(LayerNorm(x))`` over the last axis.

    Args:
        layers: a layer or a list of layers forming ``f``; at most one may carry a recurrent
            state (``state_names``), and it must return sequences.
        epsilon: the LayerNorm epsilon (1e-5).
        **kwargs: ``name``, ``trainable``, ``dtype``...

    Weights: the LayerNorm's gamma and beta, then the inner layers' in order.
    """

    supports_masking = True
    return_sequences = True          # for generation: a block maps (B, T, D) to (B, T, D)
    go_backwards = False

    def __init__(self, layers, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
        if not layers or not all(isinstance(l, Layer) for l in layers):
            raise TypeError(f"{self.name}: expected a list of rnnkit layers, got {layers!r}")
        rnns = [l for l in layers if getattr(l, "state_names", None)]
        if len(rnns) > 1:
            raise ValueError(f"{self.name}: at most one recurrent layer per block, got "
                             f"{[l.name for l in rnns]}")
        for l in rnns:
            if not l.return_sequences or l.return_state or l.go_backwards:
                raise ValueError(f"{self.name}: the recurrent layer {l.name!r} must have "
                                 f"return_sequences=True, return_state=False and "
                                 f"go_backwards=False")
        self.epsilon = float(epsilon)
        self.norm = LayerNormalization(epsilon=self.epsilon, name=f"{self.name}_norm")
        self.layers = layers
        self.rnn = rnns[0] if rnns else None
        self.state_names = self.rnn.state_names if self.rnn is not None else ()
        self.return_state = False        # generation turns it on to read the states
        self._sublayers = [self.norm] + layers

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.norm._maybe_build(input_shape)
        shape = input_shape
        for layer in self.layers:
            layer._maybe_build(shape)
            shape = layer.compute_output_shape(shape)
        if tuple(shape)[-1] != input_shape[-1]:
            raise ValueError(f"{self.name}: the inner layers map {input_shape[-1]} features to "
                             f"{tuple(shape)[-1]}; a residual block must keep the width")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False, mask=None, initial_state=None):
        """``x + f(LN(x))``; with ``return_state`` a list ``[y, *states of the rnn]``."""
        x = np.asarray(x)
        self._maybe_build(x.shape)
        h = self.norm.forward(x)
        states, caches = [], [self.norm._cache]
        for layer in self.layers:
            if layer is self.rnn:
                layer.return_state = self.return_state
                try:
                    out = layer.forward(h, training=training, mask=mask,
                                        initial_state=initial_state)
                finally:
                    layer.return_state = False
                h, states = (out[0], list(out[1:])) if self.return_state else (out, [])
            else:
                h = layer.forward(h, training=training, mask=mask)
            caches.append(layer._cache)
        if h.shape != x.shape:
            raise ValueError(f"{self.name}: the inner layers returned shape {h.shape} for an "
                             f"input of shape {x.shape}")
        self._cache = (caches, self.return_state, initial_state is not None)
        y = x + h
        return [y] + states if self.return_state else y

    def backward(self, dy):
        """``dx = dy + LN'(f'(dy))``; with an initial state also its gradients."""
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward() called before forward()")
        caches, had_return_state, had_state = self._cache
        d_states = []
        if had_return_state:
            dy, d_states = dy[0], list(dy[1:])
        dy = np.asarray(dy)
        dh, d_init = dy, []
        for layer, cache in zip(reversed(self.layers), reversed(caches[1:])):
            layer._cache = cache
            if layer is self.rnn and had_return_state:
                layer.return_state = True
                try:
                    dh = layer.backward([dh] + d_states)
                finally:
                    layer.return_state = False
            else:
                dh = layer.backward(dh)
            if isinstance(dh, (list, tuple)):
                dh, d_init = dh[0], list(dh[1:])
        self.norm._cache = caches[0]
        dx = dy + self.norm.backward(dh)
        return [dx] + d_init if had_state else dx

    def streamer(self, batch_size=1, initial_state=None):
        """Step the block one ``x_t`` (B, D) at a time: ``x_t + f(LN(x_t))``."""
        return _BlockStreamer(self, batch_size, initial_state)

    def get_config(self):
        cfg = super().get_config()
        cfg["layers"] = [serialize(l) for l in self.layers]
        cfg["epsilon"] = self.epsilon
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        cfg = copy.deepcopy(config)
        cfg["layers"] = [deserialize(l, custom_objects) for l in cfg["layers"]]
        return cls(**cfg)


class _BlockStreamer:
    """The block at one step: LayerNorm, the inner layers (the recurrent one streamed, the
    others on (B, D) rows), the residual add."""

    def __init__(self, block, batch_size, initial_state):
        self.block = block
        self._stream = None if block.rnn is None else block.rnn.streamer(batch_size,
                                                                         initial_state or None)
        self.kernels = "reference" if self._stream is None else self._stream.kernels

    @property
    def states(self):
        return [] if self._stream is None else self._stream.states

    def reset(self, states=None):
        if self._stream is not None:
            self._stream.reset(states)

    def reload_weights(self):
        if self._stream is not None:
            self._stream.reload_weights()

    def step(self, x_t):
        x_t = np.asarray(x_t)
        h = self.block.norm.forward(x_t)
        for layer in self.block.layers:
            h = self._stream.step(h) if layer is self.block.rnn else layer.forward(h)
        return x_t + h
