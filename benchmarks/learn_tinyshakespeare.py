"""The learning table: a character LM on tiny-shakespeare for a fixed training budget, then
held-out loss per character, for each configuration (cell, block, size).

    python benchmarks/learn_tinyshakespeare.py --minutes 15
        [--configs "lstm/plain/2x256/b32/d0.1,mingru/residual/3x384/b32/d0.1"]
        [--seq-len 128] [--threads 2] [--data ../shared/data/tinyshakespeare.txt]
        [--measure-rate 60 --rates rates.json]        # step 1, on a quiet machine
        [--rates rates.json]                          # step 2: the budget in batches

A configuration is ``cell/block/LAYERSxUNITS/bBATCH/dDROPOUT`` (cells: lstm, gru, rnn, mingru,
minlstm, lnlstm; blocks: plain, residual). The last 10 % of the text is held out. Training is
stateful truncated BPTT over BATCH parallel streams (the train-text model of
:mod:`rnnkit.cli.textlm`, Adam 2e-3, clipnorm 5); then the held-out loss is measured (streams
again, states carried, no training) and a table row printed:

    | config | params | budget | batches | chars seen | train nats | held-out nats | bits |

The budget. Without ``--rates``, ``--minutes`` of wall clock, checked after every batch: run it
on a quiet machine. On a shared machine, first measure each configuration's quiet speed with
``--measure-rate SECONDS --rates FILE`` (after three warm-up batches, the median seconds per
batch over SECONDS), then train with ``--rates FILE``: each configuration gets the number of
batches that ``--minutes`` of quiet training would have given, so a busy machine slows the run
but does not change its result (training is deterministic for a seed).
"""

import argparse
import json
import math
import os
import sys
import time


def parse_config(text):
    """``cell/block/LxU/bB/dP`` -> dict(cell, block, layers, units, batch_size, dropout)."""
    try:
        cell, block, size, batch, drop = text.strip().split("/")
        layers, units = (int(v) for v in size.split("x"))
        return dict(cell=cell, block=block, layers=layers, units=units,
                    batch_size=int(batch.lstrip("b")), dropout=float(drop.lstrip("d")))
    except ValueError:
        raise SystemExit(f"bad configuration {text!r}: expected cell/block/LAYERSxUNITS/bB/dP, "
                         f"e.g. lstm/plain/2x256/b32/d0.1")


def setup(text, conf, args):
    """The model (compiled) and the train / held-out stream windows of one configuration."""
    from rnnkit.cli.textlm import TextLMConfig, build_model
    from rnnkit.data import CharVocab
    from rnnkit.random import set_random_seed
    from rnnkit.training import losses, optimizers
    from rnnkit.training.tbptt import stream_windows

    cfg = TextLMConfig(seq_len=args.seq_len, seed=args.seed, learning_rate=args.learning_rate,
                       **conf)
    cfg.check()
    set_random_seed(cfg.seed)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    cut = int(len(ids) * 0.9)                                # last 10 % held out
    train = stream_windows(ids[:cut], cfg.batch_size, cfg.seq_len)
    held = stream_windows(ids[cut:], cfg.batch_size, cfg.seq_len)
    model = build_model(cfg, len(vocab), batch_size=cfg.batch_size, stateful=True)
    model.compile(optimizer=optimizers.Adam(cfg.learning_rate, clipnorm=cfg.clipnorm),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, train, held, cfg


def train_batches(model, x, y, B, stop):
    """Stateful TBPTT over the streams, a new pass resetting the states, until ``stop(batches,
    seconds)``; returns (batches, seconds, the last 50 losses, per-batch seconds)."""
    n_train = len(x) // B
    t0 = time.perf_counter()
    batches, recent, times = 0, [], []
    while not stop(batches, time.perf_counter() - t0):
        k = batches % n_train
        if k == 0:
            model.reset_states()                             # a new pass over the streams
        t1 = time.perf_counter()
        loss = model.train_on_batch(x[k * B:(k + 1) * B], y[k * B:(k + 1) * B])
        times.append(time.perf_counter() - t1)
        loss = float(loss[0] if isinstance(loss, (list, tuple)) else loss)
        if not math.isfinite(loss):
            break
        recent = (recent + [loss])[-50:]
        batches += 1
    return batches, time.perf_counter() - t0, recent, times


def held_out_nats(model, vx, vy, B):
    """Mean held-out loss in nats per character, streams carried from window to window."""
    import numpy as np
    model.reset_states()
    total, count = 0.0, 0
    for k in range(len(vx) // B):
        scores = model.predict(vx[k * B:(k + 1) * B], batch_size=B, verbose=0)   # (B, T, V)
        scores = scores.astype(np.float64)
        scores -= scores.max(axis=-1, keepdims=True)
        logp = scores - np.log(np.exp(scores).sum(axis=-1, keepdims=True))
        target = vy[k * B:(k + 1) * B]
        total -= np.take_along_axis(logp, target[..., None], axis=-1).sum()
        count += target.size
    return total / count


def measure_rate(text, name, conf, args):
    """Median seconds per training batch after three warm-up batches, over ``seconds``."""
    import numpy as np
    model, (x, y), _, cfg = setup(text, conf, args)
    train_batches(model, x, y, cfg.batch_size, lambda n, s: n >= 3)
    _, _, _, times = train_batches(model, x, y, cfg.batch_size,
                                   lambda n, s: s >= args.measure_rate and n >= 5)
    return float(np.median(times))


def run_one(text, name, conf, args, seconds_per_batch=None):
    model, (x, y), (vx, vy), cfg = setup(text, conf, args)
    B = cfg.batch_size
    if seconds_per_batch is None:
        budget = 60.0 * args.minutes
        stop = lambda n, s: s >= budget                       # noqa: E731
    else:
        n_max = int(round(60.0 * args.minutes / seconds_per_batch))
        stop = lambda n, s: n >= n_max                        # noqa: E731
    batches, seconds, recent, _ = train_batches(model, x, y, B, stop)
    held = held_out_nats(model, vx, vy, B)
    train = (sum(recent) / len(recent)) if recent else float("nan")
    return dict(config=name, params=model.count_params(), minutes=seconds / 60.0,
                batches=batches, chars=batches * B * cfg.seq_len, train=train, held_out=held)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=15.0, help="training budget per model")
    p.add_argument("--configs", default="lstm/plain/2x256/b32/d0.1,gru/plain/2x256/b32/d0.1,"
                   "mingru/residual/3x384/b32/d0.1")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=0.002)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--measure-rate", type=float, default=0.0, metavar="SECONDS",
                   help="only measure each configuration's seconds per batch, into --rates")
    p.add_argument("--rates", default=None, metavar="FILE",
                   help="seconds per batch per configuration (JSON): the budget in batches")
    p.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "shared", "data", "tinyshakespeare.txt"))
    args = p.parse_args(argv)
    os.environ.setdefault("RNNKIT_NUM_THREADS", str(args.threads))
    for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    if not os.path.exists(args.data):
        p.error(f"no data at {args.data}: pass --data PATH to tinyshakespeare.txt")
    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    configs = [(c.strip(), parse_config(c)) for c in args.configs.split(",") if c.strip()]
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; "
          f"{args.threads} threads; seq_len {args.seq_len}", flush=True)
    if args.measure_rate:
        rates = {}
        if args.rates and os.path.exists(args.rates):
            with open(args.rates) as f:
                rates = json.load(f)
        for name, conf in configs:
            rates[name] = measure_rate(text, name, conf, args)
            print(f"{name}: {rates[name] * 1000:.1f} ms per batch "
                  f"(load average {os.getloadavg()[0]:.2f})", flush=True)
            if args.rates:
                with open(args.rates, "w") as f:
                    json.dump(rates, f, indent=1)
        return 0
    rates = None
    if args.rates:
        with open(args.rates) as f:
            rates = json.load(f)
        missing = [n for n, _ in configs if n not in rates]
        if missing:
            p.error(f"no measured rate for {missing} in {args.rates}: run --measure-rate first")
    budget = "quiet-rate batches" if rates else "wall clock"
    print(f"tiny-shakespeare ({len(text):,} chars, last 10 % held out), {args.minutes:g} min "
          f"per model ({budget})")
    print("| config | params | minutes | batches | chars seen | train nats | held-out nats "
          "| held-out bits |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    for name, conf in configs:
        r = run_one(text, name, conf, args, rates[name] if rates else None)
        print(f"| {r['config']} | {r['params']:,} | {r['minutes']:.1f} | {r['batches']} | "
              f"{r['chars']:,} | {r['train']:.3f} | {r['held_out']:.3f} | "
              f"{r['held_out'] / math.log(2):.3f} |  (load {os.getloadavg()[0]:.2f})",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
