"""Adam (and AMSGrad), Keras 3's update rule."""

import math

import numpy as np

from .base import Optimizer


class Adam(Optimizer):
    """Adam with Keras 3's placement of epsilon (``keras.optimizers.Adam``)::

        t     = iterations + 1
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        m    += (g - m) * (1 - beta_1)                       (slot "momentum")
        v    += (g^2 - v) * (1 - beta_2)                     (slot "velocity")
        v_hat = max(v_hat, v); v = v_hat                     (amsgrad only, slot "velocity_hat")
        w    -= m * alpha / (sqrt(v) + epsilon)

    PyTorch divides by ``sqrt(v) / sqrt(1 - beta_2^t) + eps`` instead: Keras's epsilon acts as
    PyTorch's ``eps * sqrt(1 - beta_2^t)``, a different number at every step. With
    ``epsilon=0`` the two are the same algorithm.

    >>> import numpy as np
    >>> from rnnkit.layers.weight import Weight
    >>> w = Weight(np.array([1.0]), "w"); w.grad[...] = 0.5
    >>> _ = Adam(learning_rate=0.1).apply([w]); round(float(w.value[0]), 5)   # ~ 1 - lr
    0.9
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = bool(amsgrad)

    def _slot_inits(self):
        slots = {"momentum": 0.0, "velocity": 0.0}
        if self.amsgrad:
            slots["velocity_hat"] = 0.0
        return slots

    def update_step(self, grad, value, lr, slots):
        t = self.iterations + 1
        alpha = lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        m, v = slots["momentum"], slots["velocity"]
        tmp, den = self._scratch(value, 1), self._scratch(value, 2)
        np.subtract(grad, m, out=tmp)
        tmp *= 1 - self.beta_1
        m += tmp                                          # m += (g - m) * (1 - beta_1)
        np.square(grad, out=tmp)
        tmp -= v
        tmp *= 1 - self.beta_2
        v += tmp                                          # v += (g^2 - v) * (1 - beta_2)
        if self.amsgrad:
            v_hat = slots["velocity_hat"]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        np.multiply(m, alpha, out=tmp)
        np.sqrt(v, out=den)
        den += self.epsilon
        tmp /= den
        value -= tmp                                      # w -= m * alpha / (sqrt(v) + eps)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}
