"""Stochastic gradient descent with optional (Nesterov) momentum, Keras 3's update rule."""

import numpy as np

from .base import Optimizer


class SGD(Optimizer):
    """Gradient descent, with momentum when ``momentum > 0`` (Keras 3 ``keras.optimizers.SGD``)::

        momentum == 0:  w -= lr * g
        momentum > 0:   m  = momentum * m - lr * g          (slot "momentum", starts at 0)
                        w += m                               (nesterov=False)
                        w += momentum * m - lr * g           (nesterov=True)

    PyTorch keeps ``b = momentum * b + g`` and steps ``w -= lr * b``: the same updates as long
    as the learning rate does not change (Keras's ``m`` is ``-lr * b``); after a learning-rate
    change Keras's velocity still carries the old rate, PyTorch's does not.

    >>> import numpy as np
    >>> from rnnkit.layers.weight import Weight
    >>> w = Weight(np.array([1.0]), "w"); w.grad[...] = 1.0
    >>> opt = SGD(learning_rate=0.1, momentum=0.9)
    >>> for _ in range(2): _ = opt.apply([w])
    >>> round(float(w.value[0]), 4)      # 1 - 0.1 - (0.9 * 0.1 + 0.1)
    0.71
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) \
                or not 0 <= momentum <= 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _slot_inits(self):
        return {"momentum": 0.0} if self.momentum != 0 else {}

    def update_step(self, grad, value, lr, slots):
        step = np.multiply(grad, lr, out=self._scratch(value, 1))     # g * lr
        if self.momentum == 0:
            value -= step
            return
        m = slots["momentum"]
        m *= self.momentum
        m -= step                                        # m = momentum * m - lr * g
        if self.nesterov:
            ahead = np.multiply(m, self.momentum, out=self._scratch(value, 2))
            ahead -= step
            value += ahead                               # w += momentum * m - lr * g
        else:
            value += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
