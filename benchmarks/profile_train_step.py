"""Where one ``model.train_on_batch`` step spends its time, phase by phase.

    python benchmarks/profile_train_step.py [--shape 32,100,64,128] [--optimizer sgd]
        [--clip none|clipnorm|global_clipnorm|clipvalue] [--metrics mae,mse] [--cell lstm]
        [--steps 40] [--fit]

The model is the issue-11 one, ``Sequential([Input((T, I)), LSTM(H, return_sequences=True)])``
(or GRU / SimpleRNN) with MSE, float32. Each phase of the step is a method of the model or its
optimizer; the script wraps those methods with a timer (the model's own code runs, unchanged)
and reports, per phase, the median CPU time of the calling thread (``time.thread_time``: other
processes on a shared machine barely disturb it; run with one thread, e.g.
``RNNKIT_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``). "layers forward/backward" is the recurrent
layer (kernels and its products); everything else is what the training loop adds around it.
With ``--fit`` the step is one batch of ``model.fit`` over ``--batches`` shuffled batches (one
epoch per call, with History and the logs); the checks ``fit`` runs once before the first
batch (``_dry_run``: a forward of the first batch) are left out of the per-batch figures.
"""

import argparse
import statistics
import time

import numpy as np


def _wrap(obj, name, label, acc):
    fn = getattr(obj, name)

    def timed(*args, **kwargs):
        if acc.get("_inside"):                          # inside the once-per-fit checks
            return fn(*args, **kwargs)
        t0 = time.thread_time()
        acc["_inside"] = label == "_once"
        try:
            return fn(*args, **kwargs)
        finally:
            acc["_inside"] = False
            acc[label] = acc.get(label, 0.0) + time.thread_time() - t0

    setattr(obj, name, timed)


def build(cell, shape, optimizer, clip, metrics, seed=0, batches=1):
    from rnnkit.layers.gru import GRU
    from rnnkit.layers.input_layer import Input
    from rnnkit.layers.lstm import LSTM
    from rnnkit.layers.simple_rnn import SimpleRNN
    from rnnkit.models.sequential import Sequential
    from rnnkit.training import optimizers

    B, T, I, H = shape
    layer = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}[cell](H, return_sequences=True)
    model = Sequential([Input((T, I)), layer])
    opt = optimizers.get(optimizer)
    if clip != "none":
        setattr(opt, clip, 1.0)
    model.compile(optimizer=opt, loss="mse", metrics=metrics or None)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B * batches, T, I)).astype(np.float32)
    y = rng.standard_normal((B * batches, T, H)).astype(np.float32)
    return model, x, y


def profile(cell="lstm", shape=(32, 100, 64, 128), optimizer="sgd", clip="none", metrics=(),
            steps=40, fit=False, batches=8):
    """{phase: median ms per step}, with "total" and "outside the layers"."""
    batches = batches if fit else 1
    model, x, y = build(cell, shape, optimizer, clip, list(metrics), batches=batches)
    acc = {}
    phases = [(model, "_data", "data checks"), (model, "zero_grad", "zero grads"),
              (model, "forward", "layers forward"), (model, "backward", "layers backward"),
              (model, "_check_targets", "target check"),
              (model, "_loss_and_grads", "loss and its gradient"),
              (model, "_update_metrics", "metric updates"),
              (model, "_metric_logs", "metric results"),
              (model.optimizer, "apply", "optimizer (with clipping)")]
    if fit:
        from rnnkit.training import trainer
        phases += [(model, "_dry_run", "_once"), (trainer, "take", "batch copies (shuffled)")]
    for obj, name, label in phases:
        _wrap(obj, name, label, acc)
    per_step = []

    def one():
        if fit:
            model.fit(x, y, batch_size=shape[0], epochs=1, verbose=0, shuffle=True)
        else:
            model.train_on_batch(x, y)

    for _ in range(3):                                  # warm-up: compiled code, slots
        one()
    for _ in range(steps):
        acc.clear()
        t0 = time.thread_time()
        one()
        total = time.thread_time() - t0 - acc.pop("_once", 0.0)
        acc.pop("_inside", None)
        acc["total"] = total
        acc["outside the layers"] = total - acc.get("layers forward", 0.0) - \
            acc.get("layers backward", 0.0)
        per_step.append({k: v / batches for k, v in acc.items()})
    names = {k for s in per_step for k in s}
    return {k: statistics.median(s.get(k, 0.0) for s in per_step) * 1e3 for k in names}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
    p.add_argument("--shape", default="32,100,64,128")
    p.add_argument("--optimizer", default="sgd")
    p.add_argument("--clip", default="none",
                   choices=["none", "clipnorm", "global_clipnorm", "clipvalue"])
    p.add_argument("--metrics", default="")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--fit", action="store_true")
    p.add_argument("--batches", type=int, default=8, help="batches per fit call (--fit)")
    a = p.parse_args(argv)
    shape = tuple(int(s) for s in a.shape.split(","))
    metrics = [m for m in a.metrics.split(",") if m]
    r = profile(a.cell, shape, a.optimizer, a.clip, metrics, a.steps, a.fit, a.batches)
    total = r["total"]
    what = f"fit (per batch, {a.batches} batches per call)" if a.fit else "train_on_batch"
    print(f"# {what}, {a.cell} {shape}, {a.optimizer}, clip {a.clip}, metrics "
          f"{metrics or '-'}: median CPU ms of {a.steps} calls, calling thread")
    for k, v in sorted(r.items(), key=lambda kv: -kv[1]):
        print(f"{k:28s} {v:8.3f} ms {100 * v / total:6.1f} %")


if __name__ == "__main__":
    main()
