"""A trainable array and its gradient.

A :class:`Weight` holds ``value`` (the array the layer computes with) and ``grad`` (same shape).
Layers *add* into ``grad`` in ``backward`` because a weight is used at every time step and a
layer may be called at several places; whoever runs a training step zeroes it first.
"""

import numpy as np


class Weight:
    """A named parameter: ``value``, its accumulated ``grad``, and whether it is ``trainable``."""

    def __init__(self, value, name, path=None, trainable=True):
        self.value = np.array(value, order="C")  # a copy; (ascontiguousarray makes 0-d 1-d)
        self.grad = np.zeros_like(self.value)
        self.name = name
        self.path = path or name
        self.trainable = trainable
        self.regularizer = None   # rnnkit.regularizers: a penalty added to the training loss
        self.constraint = None    # rnnkit.constraints: a projection after each optimizer step

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    def numpy(self):
        """A copy of the value."""
        return self.value.copy()

    def assign(self, new_value):
        """Replace the value in place, checking the shape (the dtype stays the weight's own)."""
        new_value = np.asarray(new_value)
        if new_value.shape != self.value.shape:
            raise ValueError(
                f"{self.path}: expected a value of shape {self.value.shape}, got {new_value.shape}"
            )
        self.value[...] = new_value

    def zero_grad(self):
        self.grad[...] = 0

    def __repr__(self):
        return f"<Weight {self.path} shape={self.shape} dtype={self.dtype}>"
