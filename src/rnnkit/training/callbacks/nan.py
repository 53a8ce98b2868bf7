"""``TerminateOnNaN``: stop at the first batch whose loss is not finite."""

import math

from .base import Callback

class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite, saying where.

    The batch with the bad loss is not applied: the model keeps the weights (and the optimizer
    its state) from the last good batch.
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
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"TerminateOnNaN: epoch {self._epoch + 1}, batch {batch}: invalid loss {loss}, "
                  "terminating training; the weights are those of the last good batch")
            self.model.stop_training = True
