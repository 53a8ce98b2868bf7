"""``fit`` / ``evaluate`` / ``predict`` with Keras semantics, as a mixin.

``compile``, one batch's step and the checks before training are in
:mod:`rnnkit.training.compile`; this file holds the loops over batches and epochs.

The training loop needs only the Layer-like contract of a model: ``forward(x, training)``,
``backward(dy)``, ``output_mask`` (the mask of the last forward's outputs, or None),
``trainable_weights``, ``zero_grad()``, ``get_weights()``/``set_weights()``. That is why
``training/`` sits below ``models/``: Sequential and Model inherit this mixin.

One training step, top to bottom::

    1. zero every weight's .grad
    2. y_pred = model.forward(x, training=True)              (caches for BPTT)
    3. loss, dL/dy_pred = loss.value_and_grad(y, y_pred, sample_weight, mask)
    4. model.backward(dL/dy_pred)                             (adds into each .grad)
    5. optimizer.apply(trainable weights)                     (clipping happens here)
    6. metrics.update_state(y, y_pred)

Everything that can be checked is checked before step 1 of the first batch (``_dry_run``):
sample counts, ragged or empty data, input shapes (the first batch runs forward), target shapes,
every integer label of a sparse loss, and the loss and metrics on the first batch. A bad input
therefore leaves the weights and the optimizer exactly as they were.

What ``fit`` reports follows Keras 3: ``"loss"`` is the mean of the batch losses weighted by
batch size; the logs given to ``on_train_batch_end`` are the running means of the epoch so far;
validation runs at the end of every epoch (even one cut short by ``stop_training``), and calls
the ``on_test_*`` hooks of the same callbacks.
"""

import itertools
import numbers
import sys
import time

import numpy as np

from ..grad_mode import inference_mode
from ..kernels import threads
from ..random import make_rng
from . import callbacks as callbacks_module
from . import datasets, parallel
from .compile import CompiledMixin
from .data import batches, check_finite, split_validation, take, unwrap


def _progress(total, desc, verbose):
    if verbose != 1:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", file=sys.stdout, leave=True,
                dynamic_ncols=True, mininterval=0.2)


def _fmt(logs):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def _verbosity(verbose, where):
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or not isinstance(verbose, (numbers.Integral, str)) or \
            str(verbose) not in ("0", "1", "2"):
        raise ValueError(f"{where}: verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def _positive_int(value, default, what, where):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{where}: {what} must be a positive integer, got {value!r}")
    return int(value)


def _callback_list(callbacks, where):
    """A list of callbacks from None, one callback or a list (Keras 3 accepts all three)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, callbacks_module.Callback):
        return [callbacks]
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, callbacks_module.Callback):
            raise TypeError(f"{where}: callbacks must be Callback objects, got "
                            f"{type(cb).__name__}")
    return callbacks


class TrainingMixin(CompiledMixin):
    """Keras's training API for any model with forward/backward (see the module docstring)."""

    # ---- public API --------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, seed=None):
        """Train for ``epochs`` epochs; returns a :class:`History`.

        ``x`` is arrays (with ``y``), or a dataset that yields ``(x, y[, sample_weight])``
        batches: a ``PyDataset``, ``timeseries_dataset_from_array(...)``, a generator (see
        :mod:`rnnkit.training.datasets`); ``steps_per_epoch`` caps the batches per epoch and
        ``class_weight`` ({class: weight}) weights samples by their class, as in Keras.
        ``seed`` (an int or a ``numpy.random.Generator``) fixes the shuffling order; without it
        the order comes from ``rnnkit.random.set_random_seed``'s generator.
        """
        self._require_compiled("fit")
        verbose = _verbosity(verbose, "fit")
        if not parallel.writes_files():
            verbose = 0                  # data parallel: the main rank alone shows progress
        for what, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"fit: {what} must be a non-negative integer, got {value!r}")
        if validation_freq != 1:
            raise ValueError("fit: rnnkit validates after every epoch (validation_freq=1)")
        if steps_per_epoch is not None and (isinstance(steps_per_epoch, bool) or not isinstance(
                steps_per_epoch, numbers.Integral) or steps_per_epoch < 1):
            raise ValueError(f"fit: steps_per_epoch must be a positive int, got "
                             f"{steps_per_epoch!r}")
        if datasets.is_dataset(x):
            if y is not None or sample_weight is not None or batch_size is not None \
                    or validation_split:
                raise ValueError("fit: x is a dataset, which yields (x, y[, sample_weight]) "
                                 "batches itself: y, sample_weight, batch_size and "
                                 "validation_split must not be given")
            source = datasets.DataStream(x, steps_per_epoch, "fit")
            xs, ys, sw = self._dataset_batch(source.peek(), class_weight, "fit")
            batch_size = len(xs[0])
        else:
            batch_size = _positive_int(batch_size, 32, "batch_size", "fit")
            xs, ys, sw = self._data(x, y, sample_weight, "fit")
            if ys is None:
                raise ValueError("fit: y is required")
            source = None
        val, val_stream = None, None
        if validation_data is not None and datasets.is_dataset(validation_data):
            val_stream = validation_data
        elif validation_data is not None:
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or "
                                 "(x_val, y_val, val_sample_weight), or a dataset")
            vx, vy, *vsw = validation_data
            val = self._data(vx, vy, vsw[0] if vsw else None, "fit (validation data)")
            if val[1] is None:
                raise ValueError("fit (validation_data): y_val is required")
        elif validation_split:
            if source is not None:
                raise ValueError("fit: validation_split needs arrays, not a dataset")
            (xs, ys, sw), val = split_validation(xs, ys, sw, validation_split)
        if source is None:
            sw = datasets.apply_class_weight(class_weight, ys, sw, "fit")
        self._dry_run(xs, ys, sw, "fit", batch_size)
        val_batch = _positive_int(validation_batch_size, batch_size, "validation_batch_size",
                                  "fit")
        if val is not None:
            self._dry_run(*val, "fit (validation data)", val_batch)

        if source is None:
            n = len(xs[0])
            steps = -(-n // batch_size)
            if steps_per_epoch is not None:
                steps = min(steps, steps_per_epoch)
        else:
            steps = source.steps
        callbacks = _callback_list(callbacks, "fit")
        if not (getattr(self, "skip_nonfinite", False) or any(
                isinstance(cb, callbacks_module.TerminateOnNaN) for cb in callbacks)):
            check_finite(xs, "x", "fit")               # unguarded: NaN data is an error
            check_finite(ys, "y", "fit")
        # as Keras: a History among the callbacks is the one fit fills and returns
        history = next((cb for cb in callbacks if isinstance(cb, callbacks_module.History)),
                       None)
        if history is None:
            history = callbacks_module.History()
            callbacks.append(history)
        cbs = callbacks_module.CallbackList(
            callbacks, self,
            {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size},
        )
        rng = make_rng(seed)
        self.stop_training = False
        self.history = history
        # read and set by BackupAndRestore (the bit generator, not the Generator: model.save
        # saves every Generator attribute of a layer as a layer's dropout generator)
        self._fit_bit_generator, self._resume_from = rng.bit_generator, None
        self._guard_begin()                             # counts batches skipped as non-finite
        steps_run = 0
        cbs.on_train_begin()
        if self._resume_from is not None:               # a checkpoint was restored
            done, saved_history, rng_state = self._resume_from
            self._resume_from = None
            initial_epoch = max(initial_epoch, done + 1)
            history.history = saved_history
            history.epoch = list(range(done + 1))
            if rng_state is not None:
                rng.bit_generator.state = rng_state
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            bar = _progress(steps, f"Epoch {epoch + 1}/{epochs}", verbose)
            try:
                t0, seen, loss_sum = time.perf_counter(), 0, 0.0
                if source is None:
                    epoch_batches = ((take(xs, idx), take(ys, idx), take(sw, idx))
                                     for idx in itertools.islice(
                                         batches(n, batch_size, shuffle, rng), steps))
                else:
                    epoch_batches = (self._dataset_batch(e, class_weight, "fit")
                                     for e in source.epoch())
                for step, (bx, by, bsw) in enumerate(epoch_batches):
                    cbs.on_train_batch_begin(step)
                    self._fit_position, steps_run = (epoch, step), steps_run + 1
                    loss = self._train_step(bx, by, bsw)
                    nb = len(bx[0])
                    seen += nb
                    loss_sum += loss * nb
                    # Keras 3: batch logs are the running means of the epoch so far
                    logs = {"loss": loss_sum / seen, **self._metric_logs()}
                    cbs.on_train_batch_end(step, logs)
                    if bar is not None:
                        bar.set_postfix_str(_fmt(logs), refresh=False)
                        bar.update(1)
                    if self.stop_training:
                        break
                if seen == 0 and source is not None and source.exhausted:
                    break                             # the data ran out: no epoch to report
                epoch_logs = {"loss": loss_sum / seen if seen else float("nan"),
                              **self._metric_logs()}
                if val is not None or val_stream is not None:
                    with self._fresh_states():
                        epoch_logs.update(self._evaluate_batches(
                            self._batches_of(val, val_stream, val_batch, validation_steps),
                            prefix="val_", callbacks=cbs))
                cbs.on_epoch_end(epoch, epoch_logs)
                if bar is not None:
                    bar.set_postfix_str(_fmt(epoch_logs), refresh=True)
            finally:
                if bar is not None:
                    bar.close()
            if verbose == 2:
                print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - t0:.0f}s - "
                      f"{_fmt(epoch_logs)}")
            if self.stop_training or (source is not None and source.exhausted):
                break
        cbs.on_train_end(epoch_logs)
        self._guard_end(steps_run)
        return history

    def _dataset_batch(self, element, class_weight, where):
        """One dataset element as checked lists ``(xs, ys, sw)``."""
        bx, by, bsw = datasets.unpack(element, where)
        xs, ys, sw = self._data(bx, by, bsw, where)
        if ys is None:
            raise ValueError(f"{where}: the dataset's batches hold no targets; yield (x, y)")
        return xs, ys, datasets.apply_class_weight(class_weight, ys, sw, where)

    def _batches_of(self, arrays, stream_data, batch_size, steps, where="evaluate"):
        """``(xs, ys, sw)`` batches of arrays, or of a dataset (capped at ``steps``)."""
        if stream_data is None:
            xs, ys, sw = arrays
            idx = itertools.islice(batches(len(xs[0]), batch_size), steps)
            return ((take(xs, i), take(ys, i), take(sw, i)) for i in idx)
        stream = datasets.DataStream(stream_data, steps, where)
        return (self._dataset_batch(e, None, where) for e in stream.epoch())

    def _evaluate_batches(self, batch_iter, prefix="", callbacks=None):
        """Loss and metrics over all batches; ``callbacks`` get on_test_*."""
        self._reset_metrics()
        if callbacks is not None:
            callbacks.on_test_begin()
        seen, total = 0, 0.0
        for step, (bx, by, bsw) in enumerate(batch_iter):
            if callbacks is not None:
                callbacks.on_test_batch_begin(step)
            nb = len(bx[0])
            total += self._test_step(bx, by, bsw) * nb
            seen += nb
            if callbacks is not None:
                callbacks.on_test_batch_end(step, {"loss": total / seen, **self._metric_logs()})
        if seen == 0:
            raise ValueError("evaluate: the data yields no batch")
        logs = {"loss": total / seen, **self._metric_logs()}
        if callbacks is not None:
            callbacks.on_test_end(dict(logs))
        return {prefix + k: v for k, v in logs.items()}

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, return_dict=False, callbacks=None):
        """The loss (and metrics) on the given data (arrays, or a dataset of ``(x, y)``
        batches, at most ``steps`` of them), in inference mode.

        Returns the loss alone when no metric was compiled, else ``[loss, *metrics]`` in the
        order of ``metrics_names`` (a dict with ``return_dict=True``).
        """
        self._require_compiled("evaluate")
        verbose = verbose if verbose == "auto" else _verbosity(verbose, "evaluate")
        if datasets.is_dataset(x):
            if y is not None or sample_weight is not None:
                raise ValueError("evaluate: x is a dataset of (x, y) batches; y and "
                                 "sample_weight must not be given")
            cbs = self._callbacks_for(callbacks, steps, verbose, "evaluate")
            logs = self._evaluate_batches(self._batches_of(None, x, None, steps), callbacks=cbs)
            if verbose not in (0, "auto"):
                print(_fmt(logs))
            return self._batch_result(logs, return_dict)
        xs, ys, sw = self._data(x, y, sample_weight, "evaluate")
        if ys is None:
            raise ValueError("evaluate: y is required")
        batch_size = _positive_int(batch_size, 32, "batch_size", "evaluate")
        self._dry_run(xs, ys, sw, "evaluate", batch_size)
        n_steps = -(-len(xs[0]) // batch_size)
        if steps is not None:
            n_steps = min(n_steps, steps)
        cbs = self._callbacks_for(callbacks, n_steps, verbose, "evaluate")
        logs = self._evaluate_batches(self._batches_of((xs, ys, sw), None, batch_size, steps),
                                      callbacks=cbs)
        if verbose not in (0, "auto"):
            print(_fmt(logs))
        return self._batch_result(logs, return_dict)

    def _callbacks_for(self, callbacks, steps, verbose, where):
        callbacks = _callback_list(callbacks, where)
        if not callbacks:
            return None
        return callbacks_module.CallbackList(callbacks, self, {"epochs": 1, "steps": steps,
                                                               "verbose": verbose})

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for every sample (arrays, or a dataset whose batches are ``x`` or
        ``(x, ...)``, at most ``steps`` of them), computed in batches in inference mode."""
        if datasets.is_dataset(x):
            stream = datasets.DataStream(x, steps, "predict")
            inputs = (self._data(datasets.unpack(e, "predict")[0], None, None, "predict")[0]
                      for e in stream.epoch())
            n_steps = stream.steps
        else:
            xs, _, _ = self._data(x, None, None, "predict")
            batch_size = _positive_int(batch_size, 32, "batch_size", "predict")
            n = len(xs[0])
            n_steps = -(-n // batch_size) if steps is None else min(-(-n // batch_size), steps)
            inputs = (take(xs, idx) for idx in itertools.islice(batches(n, batch_size), steps))
        cbs = self._callbacks_for(callbacks, n_steps, verbose, "predict")
        if cbs is not None:
            cbs.on_predict_begin()
        outs = []
        for step, bx in enumerate(inputs):
            if cbs is not None:
                cbs.on_predict_batch_begin(step)
            with inference_mode(), threads.blas_one_thread:   # no cache; rnnkit's threads
                y = self.forward(unwrap(bx), training=False)
            outs.append(y if isinstance(y, list) else [y])
            if cbs is not None:
                cbs.on_predict_batch_end(step, {"outputs": y})
        if cbs is not None:
            cbs.on_predict_end()
        if not outs:
            raise ValueError("predict: the data yields no batch")
        merged = [np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))]
        return merged if isinstance(y, list) else merged[0]

    def train_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """One training step on one batch; returns the loss (and metrics) of that batch,
        computed before the update."""
        self._require_compiled("train_on_batch")
        xs, ys, sw = self._data(x, y, sample_weight, "train_on_batch")
        if ys is None:
            raise ValueError("train_on_batch: y is required")
        self._reset_metrics()
        logs = {"loss": self._train_step(xs, ys, sw, check=True), **self._metric_logs()}
        return self._batch_result(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) of one batch, without updating anything."""
        self._require_compiled("test_on_batch")
        xs, ys, sw = self._data(x, y, sample_weight, "test_on_batch")
        if ys is None:
            raise ValueError("test_on_batch: y is required")
        self._reset_metrics()
        logs = {"loss": self._test_step(xs, ys, sw), **self._metric_logs()}
        return self._batch_result(logs, return_dict)

    def predict_on_batch(self, x):
        """The outputs of one batch in inference mode."""
        xs, _, _ = self._data(x, None, None, "predict_on_batch")
        with inference_mode(), threads.blas_one_thread:
            return self.forward(unwrap(xs), training=False)

    @staticmethod
    def _batch_result(logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values
