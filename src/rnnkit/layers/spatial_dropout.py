"""SpatialDropout1D: drop whole feature channels of a sequence, the same at every step.

    keep ~ Bernoulli(1 - rate) of shape (B, 1, C)      y = x * keep / (1 - rate)   (training)

It is :class:`~rnnkit.layers.dropout.Dropout` with ``noise_shape=(None, 1, None)``, as Keras
defines it; the backward is Dropout's.

>>> import numpy as np
>>> from rnnkit.layers.spatial_dropout import SpatialDropout1D
>>> y = SpatialDropout1D(0.5, seed=1)(np.ones((2, 4, 3)), training=True)
>>> bool(np.all(y == y[:, :1, :]))                # one draw per channel, for every step
True
"""

from .dropout import Dropout


class SpatialDropout1D(Dropout):
    """``Dropout(rate, noise_shape=(None, 1, None))`` on (B, T, C) inputs."""

    def __init__(self, rate, seed=None, **kwargs):
        kwargs.pop("noise_shape", None)               # fixed by the layer (configs carry it)
        super().__init__(rate, noise_shape=(None, 1, None), seed=seed, **kwargs)

    def get_config(self):
        """Keras's config: the noise shape is the layer's own, so it is not written."""
        cfg = super().get_config()
        del cfg["noise_shape"]
        return cfg

    def forward(self, x, training=False, mask=None):
        if getattr(x, "ndim", 3) != 3:
            raise ValueError(f"{self.name}: expected input (batch, time, channels), got shape "
                             f"{getattr(x, 'shape', None)}")
        return super().forward(x, training=training, mask=mask)
