"""Adagrad, Keras 3's update rule."""

import numpy as np

from .base import Optimizer


class Adagrad(Optimizer):
    """Adagrad as ``keras.optimizers.Adagrad``::

        acc += g^2                                 (slot "accumulator", starts at
                                                    initial_accumulator_value = 0.1)
        w   -= lr * g / sqrt(acc + epsilon)

    PyTorch starts the sum at 0 by default and divides by ``sqrt(acc) + eps``: with PyTorch's
    ``initial_accumulator_value=0.1, eps=0`` and Keras's ``epsilon=0`` they agree.

    >>> import numpy as np
    >>> from rnnkit.layers.weight import Weight
    >>> w = Weight(np.array([1.0]), "w"); w.grad[...] = 0.3
    >>> opt = Adagrad(learning_rate=0.1, initial_accumulator_value=0.16, epsilon=0.0)
    >>> _ = opt.apply([w]); round(float(w.value[0]), 12)     # 1 - 0.1 * 0.3 / sqrt(0.16 + 0.09)
    0.94
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        if initial_accumulator_value < 0:
            raise ValueError(f"`initial_accumulator_value` must be >= 0, got "
                             f"{initial_accumulator_value}")
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_inits(self):
        return {"accumulator": self.initial_accumulator_value}

    def update_step(self, grad, value, lr, slots):
        acc = slots["accumulator"]
        tmp, den = self._scratch(value, 1), self._scratch(value, 2)
        acc += np.square(grad, out=tmp)                  # acc += g^2
        np.add(acc, self.epsilon, out=den)
        np.sqrt(den, out=den)
        np.multiply(grad, lr, out=tmp)
        tmp /= den
        value -= tmp                                     # w -= lr * g / sqrt(acc + eps)

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
