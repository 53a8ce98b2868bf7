"""Training scenarios run both in one process (by the test) and under ``mpiexec -n N``.

    mpiexec -n 2 python tests/mpi_worker.py OUT_DIR [SCENARIO...]

Under mpiexec each scenario runs with ``rnnkit.distributed.DataParallel`` and rank 0 writes
``OUT_DIR/<scenario>.npz`` (final weights, history); tests/test_distributed.py compares them
with the same scenario run in one process. Everything is float64.
"""

import json
import os
import sys

import numpy as np

import rnnkit
from rnnkit import config, distributed, layers
from rnnkit.layers.base import clear_session


def _fresh():
    config.set_floatx("float64")
    clear_session()
    rnnkit.random.set_random_seed(7)


def scenario_fit():
    """Stacked LSTM + bidirectional GRU, sample weights, global-norm clipping, shuffling,
    validation_split, an uneven last batch (40 % 7 = 5 rows, 3 ranks: 2, 2, 1)."""
    _fresh()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 6, 3)), rng.normal(size=(50, 2))
    sw = rng.uniform(0.5, 2.0, size=50)
    model = rnnkit.Sequential([
        layers.Input((6, 3)),
        layers.LSTM(5, return_sequences=True),
        layers.Bidirectional(layers.GRU(4)),
        layers.Dense(2)])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01, global_clipnorm=0.5), loss="mse",
                  metrics=["mae"])
    hist = model.fit(x, y, sample_weight=sw, batch_size=7, epochs=3, shuffle=True, seed=1,
                     validation_split=0.2, verbose=0)
    # evaluate: sharded like validation, uneven last batch (50 % 9 = 5 rows)
    scores = model.evaluate(x, y, sample_weight=sw, batch_size=9, verbose=0, return_dict=True)
    return model, {**hist.history, **{"evaluate_" + k: [v] for k, v in scores.items()}}


def scenario_masked():
    """Padded sequences (masks: every shard has its own count of valid steps), a sparse loss
    with an accuracy metric, RMSprop with momentum, per-weight clipping."""
    _fresh()
    rng = np.random.default_rng(1)
    x = rng.integers(1, 9, size=(24, 7))
    lengths = rng.integers(1, 8, size=24)
    x[np.arange(7)[None, :] >= lengths[:, None]] = 0                  # padding
    y = rng.integers(0, 4, size=(24, 7))
    model = rnnkit.Sequential([
        layers.Embedding(9, 4, mask_zero=True),
        layers.SimpleRNN(6, return_sequences=True),
        layers.Dense(4)])
    model.compile(optimizer=rnnkit.optimizers.RMSprop(0.01, momentum=0.5, clipnorm=1.0),
                  loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=6, epochs=3, seed=2, verbose=0,
                     validation_data=(x[:9], y[:9]))
    return model, hist.history


def scenario_reductions():
    """The other reductions: "sum" (the shards' sums add up) then "mean_with_sample_weight"
    (each shard divides by its sum of weights, per step under a mask), on one model, with
    per-step outputs, padded sequences and an uneven last batch (22 % 8 = 6 rows)."""
    _fresh()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(22, 5, 2))
    x[rng.random((22, 5)) < 0.3] = 0.0                                  # masked steps
    y, sw = rng.normal(size=(22, 5, 1)), rng.uniform(0.1, 3.0, size=22)
    model = rnnkit.Sequential([layers.Input((5, 2)), layers.Masking(0.0),
                               layers.GRU(3, return_sequences=True), layers.Dense(1)])
    history = {}
    for reduction in ("sum", "mean_with_sample_weight"):
        model.compile(optimizer=rnnkit.optimizers.SGD(0.01, momentum=0.9),
                      loss=rnnkit.losses.MeanSquaredError(reduction=reduction), metrics=["mae"])
        h = model.fit(x, y, sample_weight=sw, batch_size=8, epochs=2, seed=4, verbose=0)
        history.update({f"{reduction}_{k}": v for k, v in h.history.items()})
    return model, history


TEXT = ("Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n"
        "Rough winds do shake the darling buds of May,\n") * 6


def scenario_text(out):
    """train-text's stateful truncated BPTT: 6 streams, split r, r + N, ... over the ranks."""
    _fresh()
    from rnnkit.cli.textlm import TextLMConfig, train_text

    cfg = TextLMConfig(units=8, layers=2, embedding=5, seq_len=10, batch_size=6, epochs=2,
                       sample_length=5)
    state = train_text(TEXT, out, cfg, verbose=0, print_fn=lambda *a: None)
    model = rnnkit.load_model(os.path.join(out, "last.rnnkit"))
    return model, {"val_loss": [h["val_loss"] for h in state["history"]],
                   "loss": [h["loss"] for h in state["history"]]}


def run(name, out):
    if name == "text":
        return scenario_text(os.path.join(out, "text_run"))
    return {"fit": scenario_fit, "masked": scenario_masked,
            "reductions": scenario_reductions}[name]()


class _CountingComm:
    """MPI.COMM_WORLD, counting its Allreduce calls."""

    def __init__(self, comm):
        self._comm, self.allreduces = comm, 0

    def Allreduce(self, *args, **kwargs):
        self.allreduces += 1
        return self._comm.Allreduce(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._comm, name)


def main(out, names):
    comm = _CountingComm(distributed.comm.world()) if distributed.size() > 1 else None
    distributed.set_distribution(distributed.DataParallel(comm))
    calls = {}
    for name in names:
        before = comm.allreduces if comm else 0
        model, history = run(name, out)
        calls[name] = (comm.allreduces if comm else 0) - before
        if distributed.is_main():
            np.savez(os.path.join(out, f"{name}.npz"), *model.get_weights())
            with open(os.path.join(out, f"{name}.json"), "w") as f:
                json.dump(history, f)
    if distributed.is_main():
        with open(os.path.join(out, "allreduce_calls.json"), "w") as f:
            json.dump(calls, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
