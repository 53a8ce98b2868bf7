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
"""

import contextlib
import sys
import time

import numpy as np

from ..random import make_rng
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .data import as_list, batches, check_data, split_validation, take, unwrap


def _progress(total, desc, verbose):
    if verbose != 1:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", file=sys.stdout, leave=True,
                dynamic_ncols=True, mininterval=0.2)


def _fmt(logs):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class TrainingMixin:
    """Keras's training API for any model with forward/backward (see the module docstring)."""

    optimizer = None
    compiled_loss = None
    stop_training = False

    # ---- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, **kwargs):
        """Choose the optimizer, the loss (one, or one per output) and the metrics to report."""
        if kwargs:
            raise TypeError(f"{self.name}.compile: unexpected arguments {sorted(kwargs)}")
        if loss is None:
            raise ValueError(f"{self.name}.compile: a loss is required, e.g. loss='mse'")
        self.optimizer = optimizers_module.get(optimizer)
        n_out = self._n_outputs()
        loss_list = list(loss) if isinstance(loss, (list, tuple)) else [loss] * n_out
        if len(loss_list) != n_out:
            raise ValueError(f"{self.name}.compile: {n_out} outputs but {len(loss_list)} losses")
        self.compiled_loss = [losses_module.get(l) for l in loss_list]
        self._loss_ids = loss_list
        self.loss_weights = list(loss_weights) if loss_weights is not None else [1.0] * n_out
        self._metric_specs = list(metrics or [])
        self._metrics = []
        for k in range(n_out):
            prefix = "" if n_out == 1 else f"{self._output_name(k)}_"
            for spec in self._metric_specs:
                m = metrics_module.get(spec, loss=self.compiled_loss[k])
                name = spec if isinstance(spec, str) else m.name
                self._metrics.append((k, prefix + name, m))
        return self

    @property
    def output_mask(self):
        """The mask of the last forward's output(s), or None."""
        cache = getattr(self, "_cache", None)
        return cache.get("output_mask") if isinstance(cache, dict) else None

    def _compile_config(self):
        """JSON-able compile arguments, for saving (metrics given as objects keep their name)."""
        return {
            "optimizer": optimizers_module.serialize(self.optimizer),
            "loss": [losses_module.serialize(l) for l in self.compiled_loss],
            "loss_weights": list(self.loss_weights),
            "metrics": [m if isinstance(m, str) else m.name for m in self._metric_specs],
        }

    def _compile_from_config(self, cfg):
        self.compile(optimizer=optimizers_module.deserialize(cfg["optimizer"]),
                     loss=[losses_module.get(l) for l in cfg["loss"]],
                     loss_weights=cfg.get("loss_weights"), metrics=cfg.get("metrics"))

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

    # ---- one batch -------------------------------------------------------------------------
    def _loss_and_grads(self, ys, y_pred, sw):
        preds = y_pred if isinstance(y_pred, list) else [y_pred]
        masks = getattr(self, "output_mask", None)
        masks = masks if isinstance(masks, list) else [masks] * len(preds)
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
        self.backward(dy)
        self.optimizer.apply(self.trainable_weights)
        self._update_metrics(ys, preds, masks, sw)
        return loss

    def _test_step(self, xs, ys, sw):
        y_pred = self.forward(unwrap(xs), training=False)
        loss, _, preds, masks = self._loss_and_grads(ys, y_pred, sw)
        self._update_metrics(ys, preds, masks, sw)
        return loss

    def _reset_metrics(self):
        for _, _, m in self._metrics:
            m.reset_state()

    def _metric_logs(self, prefix=""):
        return {prefix + name: float(m.result()) for _, name, m in self._metrics}

    # ---- checks before training ----------------------------------------------------------------
    def _dry_run(self, xs, ys, where, batch_size=1):
        """Run the first batch forward (no update) so that shape errors and bad labels show up
        before any training step, with the layer's own message. (A whole batch, because an
        Input may fix the batch size.)"""
        with self._fresh_states():
            y_pred = self.forward(unwrap(take(xs, slice(0, batch_size))), training=False)
        if ys is not None:
            self._check_targets(ys, y_pred, where)

    def _check_targets(self, ys, y_pred, where):
        """Every target array fits its output (shape, label range) — checked on all of ``ys``."""
        preds = y_pred if isinstance(y_pred, list) else [y_pred]
        if len(ys) != len(preds):
            raise ValueError(f"{where}: the model has {len(preds)} outputs but y has {len(ys)} arrays")
        for y, p, loss_fn in zip(ys, preds, self.compiled_loss):
            loss_fn.check_targets(y, p.shape)

    # ---- public API --------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, sample_weight=None,
            initial_epoch=0, seed=None):
        """Train for ``epochs`` epochs; returns a :class:`History`."""
        self._require_compiled("fit")
        verbose = 1 if verbose == "auto" else int(verbose)
        batch_size = int(batch_size or 32)
        if batch_size <= 0:
            raise ValueError(f"fit: batch_size must be positive, got {batch_size}")
        xs, ys, sw = check_data(x, y, sample_weight, "fit")
        if ys is None:
            raise ValueError("fit: y is required")
        val = None
        if validation_data is not None:
            vx, vy, *vsw = validation_data
            val = check_data(vx, vy, vsw[0] if vsw else None, "fit (validation_data)")
        elif validation_split:
            (xs, ys, sw), val = split_validation(xs, ys, sw, validation_split)
        self._dry_run(xs, ys, "fit", batch_size)
        if val is not None:
            self._dry_run(val[0], val[1], "fit (validation data)", batch_size)

        n = len(xs[0])
        steps = -(-n // batch_size)
        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(
            list(callbacks or []) + [history], self,
            {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size},
        )
        rng = make_rng(seed)
        self.stop_training = False
        self.history = history
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            self._reset_metrics()
            bar = _progress(steps, f"Epoch {epoch + 1}/{epochs}", verbose)
            t0, seen, loss_sum = time.perf_counter(), 0, 0.0
            for step, idx in enumerate(batches(n, batch_size, shuffle, rng)):
                cbs.on_train_batch_begin(step)
                bx, by, bsw = take(xs, idx), take(ys, idx), take(sw, idx)
                loss = self._train_step(bx, by, bsw)
                nb = len(bx[0])
                seen += nb
                loss_sum += loss * nb
                logs = {"loss": loss_sum / seen, **self._metric_logs()}
                cbs.on_train_batch_end(step, {**logs, "loss": loss})
                if bar is not None:
                    bar.set_postfix_str(_fmt(logs), refresh=False)
                    bar.update(1)
                if self.stop_training:
                    break
            logs = {"loss": loss_sum / max(seen, 1), **self._metric_logs()}
            if val is not None and not self.stop_training:
                with self._fresh_states():
                    logs.update(self._evaluate_arrays(*val, batch_size, prefix="val_"))
            cbs.on_epoch_end(epoch, logs)
            if bar is not None:
                bar.set_postfix_str(_fmt(logs), refresh=True)
                bar.close()
            elif verbose == 2:
                print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - t0:.0f}s - {_fmt(logs)}")
            if self.stop_training:
                break
        cbs.on_train_end()
        return history

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

    def _evaluate_arrays(self, xs, ys, sw, batch_size, prefix=""):
        self._reset_metrics()
        n, total = len(xs[0]), 0.0
        for idx in batches(n, batch_size):
            bx = take(xs, idx)
            total += self._test_step(bx, take(ys, idx), take(sw, idx)) * len(bx[0])
        return {prefix + "loss": total / n, **self._metric_logs(prefix)}

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 return_dict=False):
        """The loss (and metrics) on the given data, in inference mode."""
        self._require_compiled("evaluate")
        xs, ys, sw = check_data(x, y, sample_weight, "evaluate")
        if ys is None:
            raise ValueError("evaluate: y is required")
        batch_size = int(batch_size or 32)
        self._dry_run(xs, ys, "evaluate", batch_size)
        logs = self._evaluate_arrays(xs, ys, sw, batch_size)
        if verbose not in (0, "0") and verbose != "auto":
            print(_fmt(logs))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto"):
        """Outputs for every sample, computed in batches in inference mode."""
        xs, _, _ = check_data(x, None, None, "predict")
        outs = []
        for idx in batches(len(xs[0]), int(batch_size or 32)):
            y = self.forward(unwrap(take(xs, idx)), training=False)
            outs.append(y if isinstance(y, list) else [y])
        merged = [np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))]
        return unwrap(merged)

    def train_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """One training step on one batch; returns the loss (and metrics)."""
        self._require_compiled("train_on_batch")
        xs, ys, sw = check_data(x, y, sample_weight, "train_on_batch")
        if ys is None:
            raise ValueError("train_on_batch: y is required")
        self._reset_metrics()
        logs = {"loss": self._train_step(xs, ys, sw, check=True), **self._metric_logs()}
        return self._batch_result(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) of one batch, without updating anything."""
        self._require_compiled("test_on_batch")
        xs, ys, sw = check_data(x, y, sample_weight, "test_on_batch")
        self._reset_metrics()
        logs = {"loss": self._test_step(xs, ys, sw), **self._metric_logs()}
        return self._batch_result(logs, return_dict)

    def predict_on_batch(self, x):
        """The outputs of one batch in inference mode."""
        xs, _, _ = check_data(x, None, None, "predict_on_batch")
        return self.forward(unwrap(xs), training=False)

    @staticmethod
    def _batch_result(logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values
