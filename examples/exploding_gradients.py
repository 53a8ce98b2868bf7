"""Exploding gradients, seen: a relu SimpleRNN that diverges, and the same one with clipping.

The network: SimpleRNN(32, activation="relu") whose recurrent kernel starts orthogonal with gain
2 (every singular value 2; relu passes about half of it on), then Dense(1), on the adding
problem at T = 20. Backpropagation multiplies the gradient by ``diag(relu'(a_s)) U^T`` once per
step (see ``rnnkit.diagnostics``), so it grows geometrically: the first batches' global gradient
norm is in the hundreds. Trained twice from the same weights, data and seed with SGD(0.01,
momentum 0.9):

* without clipping, a few steps are enough to throw the weights to where the loss is inf/NaN
  (``TerminateOnNaN`` stops training and says at which epoch and batch);
* with ``global_clipnorm=1.0`` (all gradients scaled together so that their global norm is at
  most 1, as Keras) it trains to a held-out MSE far below the 1/6 of predicting the mean.

``--clip clipnorm`` clips each weight's gradient on its own instead (norm <= 1 per array, so the
global norm can reach sqrt(5) with this model's five weights). Measured with seed 0: it does
not diverge either and reaches a training loss of 0.04 by epoch 11, but the recurrent weights
keep growing and the loss drifts back up to ~2.8 by epoch 40 -- clipping bounds each step, not
where the steps lead.

``rnnkit.diagnostics.GradientNormHistory`` records the global gradient norm of every batch
before and after clipping; the script prints a summary per epoch and plots them.

    python examples/exploding_gradients.py                # full run (seconds to a minute)
    python examples/exploding_gradients.py --quick        # seconds-long smoke run
    python examples/exploding_gradients.py --epochs 60 --out /tmp/eg

Writes ``<out>/norms.png``.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

import rnnkit
from rnnkit import initializers, layers, optimizers
from rnnkit.datasets import adding_problem
from rnnkit.datasets.adding import BASELINE_MSE
from rnnkit.diagnostics import GradientNormHistory, gradient_norms
from rnnkit.training.callbacks import TerminateOnNaN

CLIP = 1.0           # the clipping threshold
GAIN = 2.0           # singular values of the initial recurrent kernel


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 40)")
    p.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    p.add_argument("--out", default=os.path.join("runs", "exploding_gradients"),
                   help="output folder (default runs/exploding_gradients)")
    p.add_argument("--clip", choices=["global_clipnorm", "clipnorm"], default="global_clipnorm",
                   help=f"which clipping the second run uses, at {CLIP} (default global_clipnorm)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def build(T, units, seed, clip=None):
    """The same initial weights for a given seed; ``clip``: optimizer kwargs, e.g.
    ``{"global_clipnorm": 1.0}``."""
    rnnkit.random.set_random_seed(seed)
    rnn = layers.SimpleRNN(units, activation="relu", seed=seed,
                           recurrent_initializer=initializers.Orthogonal(gain=GAIN, seed=seed))
    model = rnnkit.Sequential([layers.Input((T, 2)), rnn, layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(0.01, momentum=0.9, **(clip or {})), loss="mse")
    return model


def first_bad(values):
    """Index of the first value that is not finite, or None."""
    for i, v in enumerate(values):
        if not math.isfinite(v):
            return i
    return None


def summarize(history, every):
    """One line per ``every`` epochs: median and max of the norms, mean loss."""
    epochs = np.array(history.epochs)
    before, after = np.array(history.norm_before), np.array(history.norm_after)
    loss = np.array(history.loss)
    last = int(epochs.max())
    for e in sorted(set(range(0, last + 1, every)) | {last}):
        sel = (epochs == e) & np.isfinite(before)
        bad = int(np.sum(epochs == e) - np.sum(sel))
        note = f"   ({bad} batch{'es' if bad > 1 else ''} inf/NaN)" if bad else ""
        if not sel.any():
            print(f"  epoch {e + 1:>3}: no finite gradient{note}")
            continue
        print(f"  epoch {e + 1:>3}: norm before clipping median {np.median(before[sel]):9.3g}"
              f"  max {np.max(before[sel]):9.3g}   after: median {np.median(after[sel]):6.3g}"
              f"   loss {np.mean(loss[sel]):.4g}{note}")


def plot(path, runs):
    """runs: {label: (GradientNormHistory, whether that run clipped)}."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed; skipping the plot (pip install matplotlib)")
        return False
    fig, (ax_norm, ax_loss) = plt.subplots(1, 2, figsize=(12, 4))
    for label, (h, clipped) in runs.items():
        steps = np.arange(1, len(h.norm_before) + 1)
        before = np.where(np.isfinite(h.norm_before), h.norm_before, np.nan)
        ax_norm.semilogy(steps, before, label=f"{label}: before clipping", lw=0.8)
        if clipped:
            ax_norm.semilogy(steps, h.norm_after, label=f"{label}: after clipping", lw=0.8)
        loss = np.where(np.isfinite(h.loss), h.loss, np.nan)
        ax_loss.semilogy(steps, loss, label=label, lw=0.8)
        bad = first_bad(h.loss)
        if bad is not None:
            for ax in (ax_norm, ax_loss):
                ax.axvline(bad + 1, color="red", ls="--", lw=0.8)
            ax_loss.annotate("loss inf/NaN", (bad + 1, np.nanmax(loss)), color="red")
    ax_loss.axhline(BASELINE_MSE, color="gray", ls=":", label="predict the mean (1/6)")
    ax_norm.set_title("global gradient norm per batch")
    ax_loss.set_title("training loss per batch")
    for ax in (ax_norm, ax_loss):
        ax.set_xscale("log")                      # so the few batches before a NaN show
        ax.set_xlabel("update (batch over all epochs, log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main():
    args = parse_args()
    if args.quick:
        T, n_train, n_test, units, batch, epochs = 20, 256, 128, 32, 32, 2
    else:
        T, n_train, n_test, units, batch, epochs = 20, 2000, 1000, 32, 32, 40
    epochs = args.epochs if args.epochs is not None else epochs
    verbose = 0 if args.quick else 1
    os.makedirs(args.out, exist_ok=True)

    x, y = adding_problem(n_train, T, seed=args.seed)
    x_test, y_test = adding_problem(n_test, T, seed=args.seed + 1)
    steps = -(-n_train // batch)
    print(f"adding problem, T = {T}: {n_train} training and {n_test} held-out sequences, "
          f"{steps} batches of {batch} per epoch; predicting the mean gives MSE {BASELINE_MSE:.3f}")

    runs, records = {}, {}
    clipped_label = f"with {args.clip}={CLIP}"
    for label, clip in (("without clipping", None), (clipped_label, {args.clip: CLIP})):
        model = build(T, units, args.seed, clip)
        first = gradient_norms(model, x[:batch], y[:batch])
        print(f"\nSimpleRNN({units}, relu, recurrent gain {GAIN}) {label}: on the first {batch} "
              f"sequences loss {first['loss']:.3g}, gradient norm {first['norm_before']:.3g} "
              f"before clipping, {first['norm_after']:.3g} after")
        history = GradientNormHistory()
        t0 = time.perf_counter()
        # overflow warnings would repeat what TerminateOnNaN and the summary below report
        with np.errstate(over="ignore", invalid="ignore"):
            model.fit(x, y, batch_size=batch, epochs=epochs, verbose=verbose, seed=args.seed,
                      callbacks=[TerminateOnNaN(), history])
        seconds = time.perf_counter() - t0
        runs[label] = (history, clip is not None)
        summarize(history, every=max(1, epochs // 8))
        bad = first_bad(history.loss)
        record = dict(seconds=round(seconds, 1), updates=len(history.loss), diverged_epoch=None)
        if bad is not None:
            finite = [v for v in history.norm_before[:bad + 1] if math.isfinite(v)]
            print(f"{label}: DIVERGED at epoch {history.epochs[bad] + 1}, batch "
                  f"{history.batches[bad]} (0-based; update {bad + 1}): loss {history.loss[bad]}; "
                  f"largest finite gradient norm before it {max(finite):.3g}")
            record.update(diverged_epoch=int(history.epochs[bad]) + 1,
                          diverged_batch=int(history.batches[bad]), diverged_update=bad + 1,
                          largest_norm=float(max(finite)))
        else:
            mse = float(model.evaluate(x_test, y_test, verbose=0))
            record.update(mse=mse, largest_norm=float(max(history.norm_before)))
            print(f"{label}: trained {epochs} epochs in {seconds:.0f} s without a NaN; held-out "
                  f"MSE {mse:.4f} (baseline {BASELINE_MSE:.3f}); "
                  f"{sum(a < b for a, b in zip(history.norm_after, history.norm_before))} of "
                  f"{len(history.norm_before)} updates were clipped, largest norm before "
                  f"clipping {max(history.norm_before):.3g}")

        records["with_clipping" if clip else "without_clipping"] = record

    png = os.path.join(args.out, "norms.png")
    if plot(png, runs):
        print(f"\nwrote {png}")
    path = os.path.join(args.out, "metrics.json")        # what the README gallery reads
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(dict(example="exploding_gradients", T=T, units=units, epochs=epochs,
                                gain=GAIN, clip=args.clip, clip_value=CLIP, argv=sys.argv[1:],
                                train_seconds=round(sum(r["seconds"] for r in records.values()), 1),
                                **records), indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
