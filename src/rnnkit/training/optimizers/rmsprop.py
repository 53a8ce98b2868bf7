"""RMSprop (plain, centered, with momentum), Keras 3's update rule."""

import numpy as np

from .base import Optimizer


class RMSprop(Optimizer):
    """RMSprop as ``keras.optimizers.RMSprop``::

        v    = rho * v + (1 - rho) * g^2                      (slot "velocity")
        a    = rho * a + (1 - rho) * g                        (centered only, "average_gradient")
        d    = sqrt(v - a^2 + epsilon)   if centered  else  sqrt(v + epsilon)
        step = lr * g / d
        mom  = momentum * mom + step ; w -= mom               (momentum > 0, slot "momentum")
        w   -= step                                           (momentum == 0)

    PyTorch puts epsilon outside the root (``sqrt(v) + eps``) and keeps the momentum buffer
    without the learning rate (``b = momentum * b + g / d``, ``w -= lr * b``): with
    ``epsilon=0`` and a constant learning rate both give the same updates.

    >>> import numpy as np
    >>> from rnnkit.layers.weight import Weight
    >>> w = Weight(np.array([10.0]), "w"); w.grad[...] = 10.0
    >>> _ = RMSprop(learning_rate=0.1).apply([w]); round(float(w.value[0]), 6)   # Keras: 9.683772
    9.683772
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = bool(centered)

    def _slot_inits(self):
        slots = {"velocity": 0.0}
        if self.momentum > 0:
            slots["momentum"] = 0.0
        if self.centered:
            slots["average_gradient"] = 0.0
        return slots

    def update_step(self, grad, value, lr, slots):
        rho = self.rho
        tmp, den = self._scratch(value, 1), self._scratch(value, 2)
        v = slots["velocity"]
        v *= rho
        np.square(grad, out=tmp)
        tmp *= 1 - rho
        v += tmp                                         # v = rho * v + (1 - rho) * g^2
        if self.centered:
            a = slots["average_gradient"]
            a *= rho
            np.multiply(grad, 1 - rho, out=tmp)
            a += tmp                                     # a = rho * a + (1 - rho) * g
            np.square(a, out=den)
            np.subtract(v, den, out=den)
            den += self.epsilon                          # v - a^2 + epsilon
        else:
            np.add(v, self.epsilon, out=den)
        np.sqrt(den, out=den)
        increment = np.multiply(grad, lr, out=tmp)
        increment /= den                                 # lr * g / d
        if self.momentum > 0:
            mom = slots["momentum"]
            mom *= self.momentum
            mom += increment
            value -= mom
        else:
            value -= increment

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
