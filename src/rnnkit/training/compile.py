"""The compiled state of a model and one training or test step, as a mixin.

``compile`` chooses the optimizer, the loss (one, or one per output) and the metrics. This file
also holds what one batch does (``_train_step``: zero grads, forward, loss and its gradient,
backward, optimizer step, metrics) and the checks that run before the first step
(``_dry_run``), so that a bad input leaves the weights and the optimizer as they were. The loops
over batches and epochs are in :mod:`rnnkit.training.trainer`.
"""

import contextlib
import copy
import warnings

import numpy as np

from ..kernels import threads
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from . import parallel, regularization
from .data import check_data, take, unwrap
from .guard import NonFiniteGuard


def _is_per_output(metrics, n_out):
    """Whether ``metrics`` is a list with one list (or None) per output, as Keras 3 accepts."""
    return (isinstance(metrics, (list, tuple)) and len(metrics) == n_out
            and all(m is None or isinstance(m, (list, tuple)) for m in metrics))


class CompiledMixin:
    """compile(), the model's loss/metrics state, one batch's step and the pre-training checks."""

    optimizer = None
    compiled_loss = None
    stop_training = False

    # ---- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                skip_nonfinite=False, weighted_metrics=None, run_eagerly=False,
                steps_per_execution=1, jit_compile="auto", auto_scale_loss=True, **kwargs):
        """Choose the optimizer, the loss (one, or one per output) and the metrics to report.

        ``metrics`` is a list applied to every output, or (Keras 3's form for several outputs)
        a list holding one list per output. With several outputs a metric is logged as
        ``"<output layer name>_<metric name>"``.

        Keras's ``run_eagerly``, ``jit_compile``, ``steps_per_execution`` and
        ``auto_scale_loss`` are accepted and change nothing: rnnkit always runs eagerly, one
        batch per step, with its own compiled kernels.

        ``skip_nonfinite=True`` (an rnnkit option) guards training: a batch whose loss, any
        gradient or the update it would make is NaN or infinite is not applied (weights and
        optimizer state stay as after the last good batch; :mod:`rnnkit.training.guard`), is
        counted in ``model.skipped_batches``, and ``fit`` warns once with the count and the
        first skipped batch.
        """
        if kwargs:
            raise TypeError(f"{self.name}.compile: unexpected arguments {sorted(kwargs)}")
        # Keras's execution options: rnnkit always runs eagerly, one batch per step, with its
        # own kernels (no XLA); the results are what Keras computes with any of these settings
        if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, int) \
                or steps_per_execution < 1:
            raise ValueError(f"{self.name}.compile: steps_per_execution must be a positive "
                             f"int, got {steps_per_execution!r}")
        if jit_compile not in ("auto", True, False) or run_eagerly not in (True, False) \
                or auto_scale_loss not in (True, False):
            raise ValueError(f"{self.name}.compile: jit_compile must be 'auto', True or False "
                             f"and run_eagerly/auto_scale_loss True or False")
        if weighted_metrics:
            raise ValueError(f"{self.name}.compile: weighted_metrics is not supported; metrics "
                             "are weighted by sample_weight already when one is given")
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
        self.skip_nonfinite = bool(skip_nonfinite)
        self.skipped_batches = 0
        return self

    @property
    def losses(self):
        """The weight regularization penalties of the current weights (Keras's
        ``model.losses``), added to the loss by ``fit``, ``train_on_batch`` and ``evaluate``."""
        return regularization.penalties(self.trainable_weights)

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
            "skip_nonfinite": self.skip_nonfinite,
        }

    def _compile_from_config(self, cfg):
        self.compile(optimizer=optimizers_module.deserialize(cfg["optimizer"]),
                     loss=[losses_module.get(l) for l in cfg["loss"]],
                     loss_weights=cfg.get("loss_weights"), metrics=cfg.get("metrics"),
                     skip_nonfinite=bool(cfg.get("skip_nonfinite", False)))

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
            # a kept array for the gradient, unless a subclass wrote its own value_and_grad
            out = ({"out": self._dy_buffer(k, preds[k])}
                   if type(loss_fn).value_and_grad is losses_module.Loss.value_and_grad else {})
            value, grad = loss_fn.value_and_grad(ys[k], preds[k], sample_weight=sw, mask=masks[k],
                                                 **out)
            total += weight * float(value)
            grads.append(grad * weight if weight != 1.0 else grad)
        return total, unwrap(grads), preds, masks

    def _dy_buffer(self, k, pred):
        """An array for output ``k``'s loss gradient, kept between batches (a new one only when
        the output's shape or dtype changes): a fused loss writes dL/dy_pred there instead of
        allocating (and page-faulting) a new array at every step. Nothing holds the gradient
        after ``backward``, so the next batch may overwrite it."""
        buffers = self.__dict__.setdefault("_dy_buffers", {})
        buf = buffers.get(k)
        if buf is None or buf.shape != np.shape(pred) or buf.dtype != pred.dtype:
            buf = buffers[k] = np.empty(np.shape(pred), pred.dtype)
        return buf

    def _update_metrics(self, ys, preds, masks, sw):
        for k, _, m in self._metrics:
            m.update_state(ys[k], preds[k], sample_weight=sw, mask=masks[k])

    @threads.blas_one_thread          # one thread pool: rnnkit's (kernels/threads.py)
    def _train_step(self, xs, ys, sw, check=False):
        par = parallel.current()          # data parallel: None in one process
        if par is not None:
            xs, ys, sw = par.shard(self, xs, ys, sw)
        self.zero_grad()
        y_pred = self.forward(unwrap(xs), training=True)
        if check:                     # before any weight changes
            self._check_targets(ys, y_pred, "train_on_batch")
        loss, dy, preds, masks = self._loss_and_grads(ys, y_pred, sw)
        self._update_metrics(ys, preds, masks, sw)    # before the update: a failing metric
        self.backward(dy)                             # leaves the weights as they were
        if par is not None:                           # .grad, loss, metrics: the global batch's
            loss = par.gradients_ready(self, loss, ys, preds, masks, sw)
        # the weight penalties, on the averaged gradient: the same on every rank
        loss += regularization.add_penalty_gradients(self.trainable_weights)
        if getattr(self, "_guard_loss", False) or getattr(self, "skip_nonfinite", False):
            applied = self._guarded_apply(loss)
        else:
            self.optimizer.apply(self.trainable_weights)
            applied = True
        if applied:
            regularization.apply_constraints(self.trainable_weights)
        return loss

    # ---- the non-finite guard (skip_nonfinite, TerminateOnNaN): see training/guard.py ------
    def _guarded_apply(self, loss):
        """Apply this step only if its loss, gradients and update are all finite; returns
        whether it was applied."""
        guard = getattr(self, "_nonfinite_guard", None)
        if guard is None:
            guard = self._nonfinite_guard = NonFiniteGuard()
        if not guard.apply(loss, self.trainable_weights, self.optimizer,
                           position=getattr(self, "_fit_position", None)):
            self.skipped_batches = getattr(self, "skipped_batches", 0) + 1
            return False
        return True

    def _guard_begin(self):
        """A fresh count of skipped batches for this fit."""
        self._nonfinite_guard, self._fit_position = NonFiniteGuard(), None

    def _guard_end(self, steps_run):
        """Say once what the guard skipped during this fit (count and first batch)."""
        guard, self._fit_position = getattr(self, "_nonfinite_guard", None), None
        msg = None if guard is None else guard.message("fit", steps_run)
        if msg is not None and getattr(self, "skip_nonfinite", False):  # TerminateOnNaN prints
            warnings.warn(msg, RuntimeWarning, stacklevel=3)

    @threads.blas_one_thread
    def _test_step(self, xs, ys, sw):
        par = parallel.current()
        if par is not None:
            xs, ys, sw = par.shard(self, xs, ys, sw)
        y_pred = self.forward(unwrap(xs), training=False)
        preds, masks = self._preds_and_masks(y_pred)
        loss = 0.0
        for k, (loss_fn, weight) in enumerate(zip(self.compiled_loss, self.loss_weights)):
            loss += weight * float(loss_fn(ys[k], preds[k], sample_weight=sw, mask=masks[k]))
        self._update_metrics(ys, preds, masks, sw)
        if par is not None:
            loss = par.test_ready(self, loss, ys, preds, masks, sw)
        return loss + sum(self.losses)               # regularization, as in training

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
        par = parallel.current()
        if par is not None:             # all ranks agree on data and model (or all raise)
            par.check(self, xs, ys, sw, where, batch_size)
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
