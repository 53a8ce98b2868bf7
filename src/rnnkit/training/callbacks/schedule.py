"""``LearningRateScheduler``: the learning rate as a function of the epoch."""

import inspect
import math

from .base import Callback

class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to ``schedule(epoch, lr)`` (or
    ``schedule(epoch)``, the older one-argument form Keras still accepts)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose
        self._one_argument = _takes_one_argument(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = (self.schedule(epoch) if self._one_argument
              else self.schedule(epoch, float(opt.learning_rate)))
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            raise ValueError(f"LearningRateScheduler: the schedule must return a float, got "
                             f"{lr!r} at epoch {epoch}") from None
        if not math.isfinite(lr):
            raise ValueError(f"LearningRateScheduler: schedule returned {lr} at epoch {epoch}")
        opt.learning_rate = lr
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _takes_one_argument(fn):
    """Whether ``fn`` can only be called with one positional argument."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    try:
        sig.bind(0, 0.1)
        return False
    except TypeError:
        try:
            sig.bind(0)
            return True
        except TypeError:
            return False
