"""The learning table: a character LM on tiny-shakespeare for a fixed wall-clock budget, then
held-out bits per character, for each cell / block.

    python benchmarks/learn_tinyshakespeare.py --minutes 15 [--cells mingru,minlstm,lnlstm,lstm,gru]
        [--block plain|residual|both] [--units 128] [--layers 2] [--seq-len 128]
        [--batch-size 32] [--threads 2] [--data ../shared/data/tinyshakespeare.txt]

The last 10 % of the text is held out. Training is stateful truncated BPTT over ``batch-size``
parallel streams (the train-text model of :mod:`rnnkit.cli.textlm`, Adam 2e-3, clipnorm 5)
until ``--minutes`` of wall clock have passed (checked after every batch); then the held-out
loss is measured (streams again, states carried, no training) and a table row printed:

    | cell | block | params | minutes | batches | chars seen | train bpc | held-out bpc |

Each configuration runs in this process one after another, each with the full budget: with
five cells x two blocks at 15 minutes that is 2.5 hours. Run it on a quiet machine.
"""

import argparse
import math
import os
import sys
import time


def run_one(text, cell, block, args):
    import numpy as np
    from rnnkit.cli.textlm import TextLMConfig, build_model
    from rnnkit.data import CharVocab
    from rnnkit.random import set_random_seed
    from rnnkit.training import losses, optimizers
    from rnnkit.training.tbptt import stream_windows

    cfg = TextLMConfig(cell=cell, block=block, units=args.units, layers=args.layers,
                       seq_len=args.seq_len, batch_size=args.batch_size, seed=args.seed,
                       learning_rate=args.learning_rate)
    cfg.check()
    set_random_seed(cfg.seed)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    cut = int(len(ids) * 0.9)                                # last 10 % held out
    x, y = stream_windows(ids[:cut], cfg.batch_size, cfg.seq_len)
    vx, vy = stream_windows(ids[cut:], cfg.batch_size, cfg.seq_len)
    model = build_model(cfg, len(vocab), batch_size=cfg.batch_size, stateful=True)
    model.compile(optimizer=optimizers.Adam(cfg.learning_rate, clipnorm=cfg.clipnorm),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    B = cfg.batch_size
    n_train = len(x) // B
    t0, deadline = time.perf_counter(), time.perf_counter() + 60.0 * args.minutes
    batches, recent = 0, []
    while time.perf_counter() < deadline:
        k = batches % n_train
        if k == 0:
            model.reset_states()                             # a new pass over the streams
        loss = model.train_on_batch(x[k * B:(k + 1) * B], y[k * B:(k + 1) * B])
        loss = float(loss[0] if isinstance(loss, (list, tuple)) else loss)
        if not math.isfinite(loss):
            break
        recent = (recent + [loss])[-50:]
        batches += 1
    minutes = (time.perf_counter() - t0) / 60.0
    model.reset_states()
    total, count = 0.0, 0
    for k in range(len(vx) // B):
        scores = model.predict(vx[k * B:(k + 1) * B], batch_size=B)      # (B, T, V) logits
        scores = scores.astype(np.float64)
        scores -= scores.max(axis=-1, keepdims=True)
        logp = scores - np.log(np.exp(scores).sum(axis=-1, keepdims=True))
        target = vy[k * B:(k + 1) * B]
        total -= np.take_along_axis(logp, target[..., None], axis=-1).sum()
        count += target.size
    held_out = total / count / math.log(2)
    train = (sum(recent) / len(recent) / math.log(2)) if recent else float("nan")
    return dict(cell=cell, block=block, params=model.count_params(), minutes=minutes,
                batches=batches, chars=batches * B * cfg.seq_len, train_bpc=train,
                held_out_bpc=held_out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=15.0, help="wall-clock budget per model")
    p.add_argument("--cells", default="mingru,minlstm,lnlstm,lstm,gru")
    p.add_argument("--block", default="both", choices=["plain", "residual", "both"])
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=0.002)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "shared", "data", "tinyshakespeare.txt"))
    args = p.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    if not os.path.exists(args.data):
        p.error(f"no data at {args.data}: pass --data PATH to tinyshakespeare.txt")
    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    blocks = ["plain", "residual"] if args.block == "both" else [args.block]
    print(f"tiny-shakespeare ({len(text):,} chars, last 10 % held out), {args.minutes:g} min "
          f"per model, {args.threads} threads, units {args.units}, layers {args.layers}, "
          f"seq_len {args.seq_len}, batch {args.batch_size}")
    print("| cell | block | params | minutes | batches | chars seen | train bpc | held-out bpc |")
    print("|---|---|---|---|---|---|---|---|")
    for cell in args.cells.split(","):
        for block in blocks:
            r = run_one(text, cell, block, args)
            print(f"| {r['cell']} | {r['block']} | {r['params']:,} | {r['minutes']:.1f} | "
                  f"{r['batches']} | {r['chars']:,} | {r['train_bpc']:.3f} | "
                  f"{r['held_out_bpc']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
