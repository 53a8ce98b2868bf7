"""A run's log as JSON lines: per batch, per epoch, and the samples printed along the way.

``RunLog(path)`` appends one JSON object per line to ``path`` (``log.jsonl`` in a run folder);
``rnnkit view`` draws its curves from it and follows it while the run trains. Each line is
flushed as it is written, so a reader sees whole epochs within moments. Lines::

    {"kind": "start", "time": ..., "params": {...}, ...}              once per fit
    {"kind": "batch", "epoch": 1, "batch": 0, "loss": ..., "lr": ...,
     "grad_norm_before": ..., "grad_norm_after": ...}                  every ``batch_every``
    {"kind": "epoch", "epoch": 1, "loss": ..., "val_loss": ..., "lr": ..., "seconds": ...}
    {"kind": "sample", "epoch": 1, "text": "...", ...}                 via :meth:`RunLog.record`

Epochs are counted from 1 (as printed). ``loss`` of a batch line is that batch's own loss
(fit's batch logs hold the running mean of the epoch; the batch's own value is recovered from
two consecutive means; a short last batch is counted as full). The gradient norms are the global norms of all trainable weights'
gradients before and after the optimizer's clipping (``clipnorm`` / ``global_clipnorm`` /
``clipvalue``), computed from the ``.grad`` the batch left behind, as
:class:`rnnkit.diagnostics.GradientNormHistory` does; no extra forward or backward pass.

Non-finite numbers are written as ``null`` (JSON has no NaN). A run resumed after a kill may
repeat the batch lines of the epoch it was killed in; readers keep the last line of each
(epoch, batch).

>>> import json, os, tempfile, numpy as np, rnnkit
>>> from rnnkit import layers
>>> m = rnnkit.Sequential([layers.Input((4, 1)), layers.SimpleRNN(2, seed=0), layers.Dense(1)])
>>> _ = m.compile(optimizer=rnnkit.optimizers.SGD(clipnorm=0.1), loss="mse")
>>> path = os.path.join(tempfile.mkdtemp(), "log.jsonl")
>>> _ = m.fit(np.ones((8, 4, 1)), np.ones((8, 1)), batch_size=4, epochs=2, verbose=0,
...           callbacks=[RunLog(path)])
>>> [json.loads(line)["kind"] for line in open(path)]
['start', 'batch', 'batch', 'epoch', 'batch', 'batch', 'epoch']
"""

import json
import math
import os
import time

from ..optimizers.base import clip_gradients
from .base import Callback


def _clean(value):
    """A JSON-safe copy: floats that are not finite become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if isinstance(value, int) or (f.is_integer() and type(value).__name__.startswith("int")):
        return int(value)
    return f if math.isfinite(f) else None


class RunLog(Callback):
    """Append the run's batch, epoch and sample records to a JSON-lines file.

    Args:
        path: the file (created with its folder; appended to, or emptied with ``fresh``).
        batch_every: write a batch line every this many batches (1: all; 0: none).
        fresh: empty the file at the first ``on_train_begin`` (a new run) instead of appending
            (a resumed one).
        grad_norms: also write the gradient norms before/after clipping on batch lines.
    """

    def __init__(self, path, batch_every=1, fresh=False, grad_norms=True):
        super().__init__()
        if isinstance(batch_every, bool) or not isinstance(batch_every, int) or batch_every < 0:
            raise ValueError(f"RunLog: batch_every must be an int >= 0, got {batch_every!r}")
        self.path, self.batch_every, self.grad_norms = os.fspath(path), batch_every, grad_norms
        self._fresh, self._epoch, self._t0 = fresh, 0, None
        self._prev_mean, self._prev_seen = 0.0, 0

    # ---- writing ------------------------------------------------------------------------------
    def record(self, kind, **fields):
        """Append one line ``{"kind": kind, **fields}`` now (flushed)."""
        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        mode = "w" if self._fresh else "a"
        self._fresh = False
        line = json.dumps(_clean({"kind": kind, **fields}), allow_nan=False)
        with open(self.path, mode, encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()

    def _lr(self):
        opt = getattr(self.model, "optimizer", None)
        try:
            return float(opt.learning_rate) if opt is not None else None
        except (TypeError, ValueError, AttributeError):
            return None

    # ---- hooks --------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._t0 = time.time()
        self.record("start", time=self._t0, params=dict(self.params or {}), lr=self._lr())

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._prev_mean, self._prev_seen = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        # the batch's own loss from two running means weighted by batch size (exact for every
        # batch but a short last one, whose size fit does not tell)
        seen = (batch + 1) * int((self.params or {}).get("batch_size") or 1)
        mean = float(logs.get("loss", math.nan))
        own = (mean * seen - self._prev_mean * self._prev_seen) / (seen - self._prev_seen)
        self._prev_mean, self._prev_seen = mean, seen
        if not self.batch_every or batch % self.batch_every:
            return
        line = {"epoch": self._epoch + 1, "batch": batch, "loss": own, "lr": self._lr()}
        if self.grad_norms and getattr(self.model, "optimizer", None) is not None:
            opt = self.model.optimizer
            grads = [w.grad for w in self.model.trainable_weights if w.trainable]
            _, before, after = clip_gradients(grads, clipnorm=getattr(opt, "clipnorm", None),
                                              clipvalue=getattr(opt, "clipvalue", None),
                                              global_clipnorm=getattr(opt, "global_clipnorm",
                                                                      None))
            line.update(grad_norm_before=before, grad_norm_after=after)
        self.record("batch", **line)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs.setdefault("lr", self._lr())
        self.record("epoch", epoch=epoch + 1, seconds=time.time() - (self._t0 or time.time()),
                    **logs)
