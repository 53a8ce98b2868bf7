"""``TerminateOnNaN``: stop at the first batch whose loss, gradients or update are not finite."""

import math

from .base import Callback

class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss, a gradient or the update it would make is NaN
    or infinite, saying where and why.

    That batch is not applied (:mod:`rnnkit.training.guard` checks the step before it keeps
    it): the model keeps the weights (and the optimizer its state) from the last good batch.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.model._guard_loss = True          # the step checks its loss before updating

    def on_train_end(self, logs=None):
        self.model._guard_loss = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        guard = getattr(self.model, "_nonfinite_guard", None)
        reason = None if guard is None else guard.last_reason
        loss = (logs or {}).get("loss")
        if reason is None and loss is not None and not math.isfinite(loss):
            reason = f"invalid loss {loss}"     # a batch before this callback watched
        if reason is not None:
            print(f"TerminateOnNaN: epoch {self._epoch + 1}, batch {batch}: {reason}, "
                  "terminating training; the weights are those of the last good batch")
            self.model.stop_training = True
