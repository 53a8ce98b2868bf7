"""AdamW: Adam with decoupled weight decay, Keras 3's update rule."""

from .adam import Adam


class AdamW(Adam):
    """Adam plus decoupled weight decay (``keras.optimizers.AdamW``), each step::

        w -= w * weight_decay * lr          # first, on the current weights (after clipping)
        then the Adam update of :class:`Adam` (Keras's epsilon placement)

    PyTorch's ``AdamW`` decays in the same place (``w *= 1 - lr * weight_decay`` before the
    Adam step); the only difference is Adam's epsilon (see :class:`Adam`).

    >>> AdamW().weight_decay
    0.004
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
