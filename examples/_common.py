"""What every application example shares: its command line, the result report, the plot guard.

Import it first, before NumPy: it pins BLAS to one thread (the per-step products of these
models are small, and OpenBLAS's threads cost more than they give on a 2-core machine; an
explicit setting in the environment wins).

Every example runs as ``python examples/NAME.py [--data PATH] [--epochs N] [--quick] [--out DIR]
[--seed S]`` and ends with ``report(...)``, which prints two lines a person (and the tests) can
read::

    held-out accuracy: rnn 0.9312, baseline 0.8000 (nearest centroid on mean features)
    wrote runs/speech/metrics.json

and writes ``metrics.json`` beside the model and the plot in ``--out`` (default ``runs/NAME``).
A missing optional source (a package or a wheel) ends the run with one line on stderr, saying
what to install, and exit status 2; the tests skip on that status.
"""

import argparse
import json
import sys
import time
from pathlib import Path

# Threads: rnnkit's one policy decides (rnnkit.config.set_num_threads, RNNKIT_NUM_THREADS,
# default the usable cores); numpy's BLAS is held at one thread inside rnnkit's steps.

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
MISSING_DATA_EXIT = 2


def parser(name, description, data_help=None):
    """An ArgumentParser with the options every example takes (``--data`` when ``data_help``)."""
    p = argparse.ArgumentParser(prog=f"examples/{name}.py", description=description)
    if data_help:
        p.add_argument("--data", default=None, metavar="PATH", help=data_help)
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="training epochs (default: the full run's; a few with --quick)")
    p.add_argument("--quick", action="store_true", help="a seconds-long smoke run (the tests')")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="default: %(default)s")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / name, metavar="DIR",
                   help="where the model, plot and metrics.json go (default: runs/%s)" % name)
    return p


def finish_args(p, args, full_epochs, quick_epochs):
    """Fill ``args.epochs`` from the run kind, check it, create ``args.out``; returns args."""
    if args.epochs is None:
        args.epochs = quick_epochs if args.quick else full_epochs
    if args.epochs < 1:
        p.error("--epochs must be >= 1")
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def shared_data(name):
    """``../shared/data/name`` beside the project (a default for ``--data``; may not exist)."""
    return SHARED_DATA / name


def run_main(main):
    """Run ``main()``; a MissingDataError becomes one line on stderr and exit status 2."""
    from rnnkit.datasets.sources import MissingDataError

    try:
        status = main()
    except MissingDataError as e:
        print(f"{Path(sys.argv[0]).name}: missing data: {e}", file=sys.stderr)
        sys.exit(MISSING_DATA_EXIT)
    sys.exit(status or 0)


def pyplot():
    """matplotlib.pyplot with the Agg backend, or None (a printed note) when not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return None
    return plt


def save_figure(fig, path):
    """Save and close ``fig``; prints the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def stratified_split(labels, fraction, rng):
    """``(rest, held)`` sorted index arrays with ``fraction`` of every class held out.

    Classes are visited in sorted order and each is shuffled with ``rng``, so a seed fixes the
    split.
    """
    import numpy as np

    held = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        held.append(members[:round(fraction * len(members))])
    held = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(labels)), held), held


class Timer:
    """Wall-clock seconds since creation: ``Timer().seconds``."""

    def __init__(self):
        self.start = time.perf_counter()

    @property
    def seconds(self):
        return time.perf_counter() - self.start


def report(out, example, metric, rnn, baseline, baseline_name, *, higher_is_better=True,
           train_seconds=None, data=None, tie=0.0, **extra):
    """Print the held-out metric beside the baseline's and write ``out/metrics.json``.

    ``metric`` names the number (``accuracy``, ``bits per char``, ``MAE``...); a difference of
    at most ``tie`` is called a tie, not a win; ``extra`` holds further JSON-able numbers worth
    keeping (other metrics, sizes).
    """
    print(f"held-out {metric}: rnn {rnn:.4f}, baseline {baseline:.4f} ({baseline_name})")
    diff = abs(rnn - baseline)
    if diff <= tie:
        verdict = f"ties with the baseline (they differ by {diff:.4g}, within {tie:g})"
    elif (rnn > baseline) == higher_is_better:
        verdict = f"beats the baseline by {diff:.4g}"
    else:
        verdict = f"does NOT beat the baseline (behind by {diff:.4g})"
    print(f"the recurrent model {verdict}")
    record = dict(example=example, metric=metric, rnn=float(rnn), baseline=float(baseline),
                  baseline_name=baseline_name, higher_is_better=higher_is_better,
                  train_seconds=None if train_seconds is None else round(train_seconds, 1),
                  data=None if data is None else str(data), argv=sys.argv[1:], **extra)
    path = Path(out) / "metrics.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return record
