"""``compile`` / ``fit`` / ``evaluate`` / ``predict`` with Keras semantics, as a mixin.

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

import contextlib
import copy
import numbers
import sys
import time

import numpy as np

from ..random import make_rng
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .data import batches, check_data, split_validation, take, unwrap


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


def _is_per_output(metrics, n_out):
    """Whether ``metrics`` is a list with one list (or None) per output, as Keras 3 accepts."""
    return (isinstance(metrics, (list, tuple)) and len(metrics) == n_out
            and all(m is None or isinstance(m, (list, tuple)) for m in metrics))


class TrainingMixin:
    """Keras's training API for any model with forward/backward (see the module docstring)."""

    optimizer = None
    compiled_loss = None
    stop_training = False

    # ---- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, **kwargs):
        """Choose the optimizer, the loss (one, or one per output) and the metrics to report.

        ``metrics`` is a list applied to every output, or (Keras 3's form for several outputs)
        a list holding one list per output. With several outputs a metric is logged as
        ``"<output layer name>_<metric name>"``.
        """
        if kwargs:
            raise TypeError(f"{self.name}.compile: unexpected arguments {sorted(kwargs)}")
        if loss is None:
            raise ValueError(f"{self.name}.compile: a loss is required, e.g. loss='mse'")
        n_out = self._n_outputs()
        loss_list = list(loss) if isinstance(loss, (list, tuple)) else [loss] * n_out
        if len(loss_list) != n_out:
            raise ValueError(f"{self.name}.compile: {n_out} outputs but {len(loss_list)} losses")
        weights = list(loss_weights) if loss_weights is not None else [1.0] * n_out
        if len(weights) != n_out:
            raise ValueError(f"{self.name}.compile: {n_out} outputs but {len(weights)} "
                             f"loss_weights")
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise ValueError(f"{self.name}.compile: metrics must be a list, got {metrics!r}")
        specs = ([list(m or []) for m in metrics] if _is_per_output(metrics, n_out)
                 else [list(metrics or [])] * n_out)
        # everything is resolved before anything is assigned: a bad argument changes nothing
        new_optimizer = optimizers_module.get(optimizer)
        new_losses = [losses_module.get(l) for l in loss_list]
        for l in new_losses:
            if getattr(l, "reduction", "sum_over_batch_size") in (None, "none"):
                raise ValueError(f"{self.name}.compile: the loss {l.name!r} has reduction="
                                 f"{l.reduction!r}; training needs a loss that reduces to one "
                                 f"number (e.g. the default 'sum_over_batch_size')")
        new_metrics = []
        for k in range(n_out):
            prefix = "" if n_out == 1 else f"{self._output_name(k)}_"
            for spec in specs[k]:
                m = metrics_module.get(spec, loss=new_losses[k])
                if any(m is other for _, _, other in new_metrics):
                    m = copy.deepcopy(m)         # a metric object given once serves each output
                name = spec if isinstance(spec, str) else m.name
                new_metrics.append((k, prefix + name, m))
        self.optimizer = new_optimizer
        self.compiled_loss = new_losses
        self._loss_ids = loss_list
        self.loss_weights = [float(w) for w in weights]
        self._metric_specs = specs
        self._metrics = new_metrics
        return self

    @property
    def output_mask(self):
        """The mask of the last forward's output(s), or None."""
        cache = getattr(self, "_cache", None)
        return cache.get("output_mask") if isinstance(cache, dict) else None

    @property
    def metrics_names(self):
        """``["loss", <metric names>...]``: the order of ``evaluate``'s list result."""
        return ["loss"] + [name for _, name, _ in getattr(self, "_metrics", [])]

    def _compile_config(self):
        """JSON-able compile arguments, for saving (metrics given as objects keep their name)."""
        return {
            "optimizer": optimizers_module.serialize(self.optimizer),
            "loss": [losses_module.serialize(l) for l in self.compiled_loss],
            "loss_weights": list(self.loss_weights),
            "metrics": [[m if isinstance(m, str) else metrics_module.get(m).name for m in ms]
                        for ms in self._metric_specs],
        }

    def _compile_from_config(self, cfg):
        self.compile(optimizer=optimizers_module.deserialize(cfg["optimizer"]),
                     loss=[losses_module.get(l) for l in cfg["loss"]],
                     loss_weights=cfg.get("loss_weights"), metrics=cfg.get("metrics"))

    def _n_inputs(self):
        ins = getattr(self, "inputs", None)
        return len(ins) if isinstance(ins, (list, tuple)) else 1

    def _n_outputs(self):
        outs = getattr(self, "outputs", None)
        return len(outs) if isinstance(outs, (list, tuple)) else 1

    def _output_name(self, k):
        outs = getattr(self, "outputs", None)
        if isinstance(outs, (list, tuple)) and outs[k].node is not None:
            return outs[k].node.layer.name
        return f"output_{k}"

    def _require_compiled(self, where):
        if self.compiled_loss is None:
            raise RuntimeError(f"{self.name}.{where}: call compile() first")

    def _data(self, x, y, sample_weight, where):
        return check_data(x, y, sample_weight, where, n_inputs=self._n_inputs(),
                          n_outputs=self._n_outputs())

    # ---- one batch -------------------------------------------------------------------------
    def _preds_and_masks(self, y_pred):
        preds = y_pred if isinstance(y_pred, list) else [y_pred]
        masks = getattr(self, "output_mask", None)
        masks = masks if isinstance(masks, list) else [masks] * len(preds)
        return preds, masks

    def _loss_and_grads(self, ys, y_pred, sw):
        preds, masks = self._preds_and_masks(y_pred)
        total, grads = 0.0, []
        for k, (loss_fn, weight) in enumerate(zip(self.compiled_loss, self.loss_weights)):
            value, grad = loss_fn.value_and_grad(ys[k], preds[k], sample_weight=sw, mask=masks[k])
            total += weight * float(value)
            grads.append(grad * weight if weight != 1.0 else grad)
        return total, unwrap(grads), preds, masks

    def _update_metrics(self, ys, preds, masks, sw):
        for k, _, m in self._metrics:
            m.update_state(ys[k], preds[k], sample_weight=sw, mask=masks[k])

    def _train_step(self, xs, ys, sw, check=False):
        self.zero_grad()
        y_pred = self.forward(unwrap(xs), training=True)
        if check:                     # before any weight changes
            self._check_targets(ys, y_pred, "train_on_batch")
        loss, dy, preds, masks = self._loss_and_grads(ys, y_pred, sw)
        self._update_metrics(ys, preds, masks, sw)    # before the update: a failing metric
        self.backward(dy)                             # leaves the weights as they were
        self.optimizer.apply(self.trainable_weights)
        return loss

    def _test_step(self, xs, ys, sw):
        y_pred = self.forward(unwrap(xs), training=False)
        preds, masks = self._preds_and_masks(y_pred)
        loss = 0.0
        for k, (loss_fn, weight) in enumerate(zip(self.compiled_loss, self.loss_weights)):
            loss += weight * float(loss_fn(ys[k], preds[k], sample_weight=sw, mask=masks[k]))
        self._update_metrics(ys, preds, masks, sw)
        return loss

    def _reset_metrics(self):
        for _, _, m in self._metrics:
            m.reset_state()

    def _metric_logs(self, prefix=""):
        return {prefix + name: float(m.result()) for _, name, m in self._metrics}

    # ---- checks before training ----------------------------------------------------------------
    def _dry_run(self, xs, ys, sw, where, batch_size=1):
        """Check everything that can fail before the first update (see the module docstring).

        The first batch runs forward (a whole batch, because an Input may fix the batch size)
        and through the loss and metrics, in inference mode, from fresh recurrent states; the
        metrics are reset afterwards. Nothing is updated.
        """
        first = slice(0, batch_size)
        with self._fresh_states():
            y_pred = self.forward(unwrap(take(xs, first)), training=False)
            if ys is None:
                return
            self._check_targets(ys, y_pred, where)
            preds, masks = self._preds_and_masks(y_pred)
            by, bsw = take(ys, first), take(sw, first)
            for k, loss_fn in enumerate(self.compiled_loss):
                loss_fn(by[k], preds[k], sample_weight=bsw, mask=masks[k])
            try:
                for k, name, m in self._metrics:
                    try:
                        m.update_state(by[k], preds[k], sample_weight=bsw, mask=masks[k])
                    except ValueError as e:
                        raise ValueError(f"{where}: metric {name!r} cannot be computed for "
                                         f"output {self._output_name(k)!r}: {e}") from None
            finally:
                self._reset_metrics()
            self._check_labels(xs, ys, y_pred, where, batch_size)

    def _check_targets(self, ys, y_pred, where):
        """Every target array fits its output's shape — checked on all of ``ys``."""
        preds = y_pred if isinstance(y_pred, list) else [y_pred]
        if len(ys) != len(preds):
            raise ValueError(f"{where}: the model has {len(preds)} outputs but y has {len(ys)} arrays")
        for y, p, loss_fn in zip(ys, preds, self.compiled_loss):
            loss_fn.check_targets(y, p.shape)

    def _check_labels(self, xs, ys, y_pred, where, batch_size):
        """Every integer label of a sparse loss lies in ``[0, classes)``, in all of ``ys``.

        Labels at masked steps may hold anything (padding), and only the model knows the mask:
        the samples holding a suspicious label run forward (in batches) and the loss itself
        judges them with their real mask, raising its own message for the first bad one.
        """
        preds = y_pred if isinstance(y_pred, list) else [y_pred]
        for k, (y, p, loss_fn) in enumerate(zip(ys, preds, self.compiled_loss)):
            if not getattr(loss_fn, "sparse", False):
                continue
            labels, classes = np.asarray(y), p.shape[-1]
            if labels.dtype.kind in "iub":
                bad = (labels < 0) | (labels >= classes)
            elif labels.dtype.kind == "f":
                with np.errstate(invalid="ignore"):
                    bad = ~np.isfinite(labels) | (labels != np.round(labels)) | \
                        (labels < 0) | (labels >= classes)
            else:
                raise ValueError(f"{where}: {loss_fn.name} needs integer labels, got an array "
                                 f"of dtype {labels.dtype}")
            rows = np.flatnonzero(bad.reshape(len(labels), -1).any(axis=1))
            for start in range(0, len(rows), batch_size):
                idx = rows[start:start + batch_size]
                out = self.forward(unwrap(take(xs, idx)), training=False)
                out_preds, out_masks = self._preds_and_masks(out)
                loss_fn(labels[idx], out_preds[k], mask=out_masks[k])

    @contextlib.contextmanager
    def _fresh_states(self):
        """Validation starts stateful layers from zeros and leaves training's states as they were."""
        stateful = [l for l in self.iter_layers() if getattr(l, "stateful", False)]
        kept = [l.states for l in stateful]
        for layer in stateful:
            layer.reset_states()
        try:
            yield
        finally:
            for layer, states in zip(stateful, kept):
                layer.states = states

    # ---- public API --------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, sample_weight=None,
            initial_epoch=0, seed=None):
        """Train for ``epochs`` epochs; returns a :class:`History`.

        ``seed`` (an int or a ``numpy.random.Generator``) fixes the shuffling order; without it
        the order comes from ``rnnkit.random.set_random_seed``'s generator.
        """
        self._require_compiled("fit")
        verbose = _verbosity(verbose, "fit")
        batch_size = _positive_int(batch_size, 32, "batch_size", "fit")
        for what, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"fit: {what} must be a non-negative integer, got {value!r}")
        xs, ys, sw = self._data(x, y, sample_weight, "fit")
        if ys is None:
            raise ValueError("fit: y is required")
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or "
                                 "(x_val, y_val, val_sample_weight)")
            vx, vy, *vsw = validation_data
            val = self._data(vx, vy, vsw[0] if vsw else None, "fit (validation_data)")
            if val[1] is None:
                raise ValueError("fit (validation_data): y_val is required")
        elif validation_split:
            (xs, ys, sw), val = split_validation(xs, ys, sw, validation_split)
        self._dry_run(xs, ys, sw, "fit", batch_size)
        if val is not None:
            self._dry_run(*val, "fit (validation data)", batch_size)

        n = len(xs[0])
        steps = -(-n // batch_size)
        callbacks = _callback_list(callbacks, "fit")
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
        cbs.on_train_begin()
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            bar = _progress(steps, f"Epoch {epoch + 1}/{epochs}", verbose)
            try:
                t0, seen, loss_sum = time.perf_counter(), 0, 0.0
                for step, idx in enumerate(batches(n, batch_size, shuffle, rng)):
                    cbs.on_train_batch_begin(step)
                    bx, by, bsw = take(xs, idx), take(ys, idx), take(sw, idx)
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
                epoch_logs = {"loss": loss_sum / seen if seen else float("nan"),
                              **self._metric_logs()}
                if val is not None:
                    with self._fresh_states():
                        epoch_logs.update(self._evaluate_arrays(*val, batch_size, prefix="val_",
                                                                callbacks=cbs))
                cbs.on_epoch_end(epoch, epoch_logs)
                if bar is not None:
                    bar.set_postfix_str(_fmt(epoch_logs), refresh=True)
            finally:
                if bar is not None:
                    bar.close()
            if verbose == 2:
                print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - t0:.0f}s - "
                      f"{_fmt(epoch_logs)}")
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)
        return history

    def _evaluate_arrays(self, xs, ys, sw, batch_size, prefix="", callbacks=None):
        """Loss and metrics over all samples, batch by batch; ``callbacks`` get on_test_*."""
        self._reset_metrics()
        if callbacks is not None:
            callbacks.on_test_begin()
        n, seen, total = len(xs[0]), 0, 0.0
        for step, idx in enumerate(batches(n, batch_size)):
            if callbacks is not None:
                callbacks.on_test_batch_begin(step)
            bx = take(xs, idx)
            nb = len(bx[0])
            total += self._test_step(bx, take(ys, idx), take(sw, idx)) * nb
            seen += nb
            if callbacks is not None:
                callbacks.on_test_batch_end(step, {"loss": total / seen, **self._metric_logs()})
        logs = {"loss": total / n, **self._metric_logs()}
        if callbacks is not None:
            callbacks.on_test_end(dict(logs))
        return {prefix + k: v for k, v in logs.items()}

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 return_dict=False, callbacks=None):
        """The loss (and metrics) on the given data, in inference mode.

        Returns the loss alone when no metric was compiled, else ``[loss, *metrics]`` in the
        order of ``metrics_names`` (a dict with ``return_dict=True``).
        """
        self._require_compiled("evaluate")
        verbose = verbose if verbose == "auto" else _verbosity(verbose, "evaluate")
        xs, ys, sw = self._data(x, y, sample_weight, "evaluate")
        if ys is None:
            raise ValueError("evaluate: y is required")
        batch_size = _positive_int(batch_size, 32, "batch_size", "evaluate")
        self._dry_run(xs, ys, sw, "evaluate", batch_size)
        cbs = None
        callbacks = _callback_list(callbacks, "evaluate")
        if callbacks:
            cbs = callbacks_module.CallbackList(
                callbacks, self, {"epochs": 1, "steps": -(-len(xs[0]) // batch_size),
                                  "verbose": verbose})
        logs = self._evaluate_arrays(xs, ys, sw, batch_size, callbacks=cbs)
        if verbose not in (0, "auto"):
            print(_fmt(logs))
        return self._batch_result(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """Outputs for every sample, computed in batches in inference mode."""
        xs, _, _ = self._data(x, None, None, "predict")
        batch_size = _positive_int(batch_size, 32, "batch_size", "predict")
        n = len(xs[0])
        cbs = None
        callbacks = _callback_list(callbacks, "predict")
        if callbacks:
            cbs = callbacks_module.CallbackList(
                callbacks, self, {"epochs": 1, "steps": -(-n // batch_size), "verbose": verbose})
            cbs.on_predict_begin()
        outs = []
        for step, idx in enumerate(batches(n, batch_size)):
            if cbs is not None:
                cbs.on_predict_batch_begin(step)
            y = self.forward(unwrap(take(xs, idx)), training=False)
            outs.append(y if isinstance(y, list) else [y])
            if cbs is not None:
                cbs.on_predict_batch_end(step, {"outputs": y})
        if cbs is not None:
            cbs.on_predict_end()
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
        return self.forward(unwrap(xs), training=False)

    @staticmethod
    def _batch_result(logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values
