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

import csv
import inspect
import math
import os
import warnings

import numpy as np


class Callback:
    """Base class: override the hooks you need."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


class CallbackList:
    """Calls every callback's hook in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)

        return call


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is a list, one value per epoch."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def _monitor_op(mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return (np.greater, -np.inf) if mode == "max" else (np.less, np.inf)


class _Monitoring(Callback):
    """Shared logic: watch ``monitor`` in the epoch logs and tell whether it improved."""

    def __init__(self, monitor, mode, min_delta=0.0):
        super().__init__()
        self.monitor = monitor
        self.op, self.best = _monitor_op(mode, monitor)
        self.min_delta = abs(min_delta) if self.op is np.greater else -abs(min_delta)
        self._initial_best = self.best

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__} is conditioned on {self.monitor!r}, which is "
                          f"not in the logs; available: {', '.join(sorted(logs or {}))}",
                          stacklevel=3)
            return None
        return float(value)

    def _improved(self, value):
        return bool(self.op(value - self.min_delta, self.best))


class EarlyStopping(_Monitoring):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (Keras semantics)."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = self._initial_best
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # the first epoch seen: its weights are the best so far (Keras)
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improved(value):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved_over_baseline(value):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def _improved_over_baseline(self, value):
        return bool(self.op(value - self.min_delta, self.baseline))

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitoring):
    """Save the model (or only its weights) after every epoch, or only when ``monitor`` improves.

    ``filepath`` may hold ``{epoch:02d}`` and any log key, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}"``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode)
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint: only save_freq='epoch' is supported, got {save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only = verbose, save_best_only
        self.save_weights_only = save_weights_only
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as e:
            raise KeyError(f"ModelCheckpoint: cannot format the filepath {self.filepath!r} with "
                           f"epoch and the logs ({', '.join(sorted(logs))}): "
                           f"{type(e).__name__}: {e}") from None
        if self.save_best_only:
            value = (logs or {}).get(self.monitor)
            if value is None:
                raise ValueError(
                    f"ModelCheckpoint: monitor {self.monitor!r} is not in the logs "
                    f"(available: {', '.join(sorted(logs))})"
                )
            value = float(value)
            if not self._improved(value):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{value:.5f}, saving model to {path}")
            self.best = value
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


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


class ReduceLROnPlateau(_Monitoring):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr

    def on_train_begin(self, logs=None):
        self.wait, self.cooldown_counter = 0, 0
        self.best = self._initial_best

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        if value is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                opt = self.model.optimizer
                old = float(opt.learning_rate)
                if old > self.min_lr:
                    opt.learning_rate = max(old * self.factor, self.min_lr)
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {float(opt.learning_rate)}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """Append one CSV row per epoch (``epoch`` then the log keys, sorted) to ``filename``."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename)
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._header_written = bool(exists)
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        writer = csv.writer(self._file, delimiter=self.sep)
        if not self._header_written:
            writer.writerow(["epoch"] + self.keys)
            self._header_written = True
        writer.writerow([epoch] + [logs.get(k, "NA") for k in self.keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()


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
from .backup import BackupAndRestore  # noqa: E402,F401
