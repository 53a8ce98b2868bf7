"""Callbacks with Keras names and arguments, called by the fit loop at fixed moments.

A callback sees ``self.model`` and ``self.params`` (epochs, steps, verbose) and may set
``self.model.stop_training = True``. ``logs`` dicts hold the epoch's metrics by name
("loss", "accuracy", "val_loss", ...). The hooks, in the order ``fit`` calls them::

    on_train_begin
      on_epoch_begin(epoch)
        on_train_batch_begin(batch) / on_train_batch_end(batch, logs)     per batch
        on_test_begin / on_test_batch_begin / on_test_batch_end / on_test_end(logs)
                                                                 (validation, if any)
      on_epoch_end(epoch, logs)                                   logs include "val_*"
    on_train_end(logs)

``evaluate(callbacks=...)`` calls the ``on_test_*`` hooks, ``predict(callbacks=...)`` the
``on_predict_*`` ones. As in Keras, ``on_batch_begin``/``on_batch_end`` are the old names of
``on_train_batch_begin``/``on_train_batch_end``: the base class forwards the new to the old.
"""

from .backup import BackupAndRestore
from .base import Callback, CallbackList
from .history import CSVLogger, History
from .monitoring import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from .nan import TerminateOnNaN
from .runlog import RunLog
from .schedule import LearningRateScheduler

__all__ = [
    "BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History",
    "LearningRateScheduler", "ModelCheckpoint", "ReduceLROnPlateau", "RunLog", "TerminateOnNaN",
]
