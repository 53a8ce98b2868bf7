"""Data-parallel speed: N ranks x 1 thread against 1 process x T threads, same global batch.

    python benchmarks/bench_distributed.py                       # --ranks 1,2 (this machine)
    python benchmarks/bench_distributed.py --ranks 1,2,4,8       # a 16-core machine, ~3 min
    python benchmarks/bench_distributed.py --tasks adding --steps 10 --text FILE

Two tasks, each a fixed global batch (strong scaling: N ranks split it):

    text     train-text's model (LSTM 256, embedding 32, float32) on --text (default
             ../shared/data/tinyshakespeare.txt, else the Python stdlib's sources):
             64 streams x 100 characters per step; reports characters per second
    adding   the adding problem (rnnkit.datasets.adding_problem, T = 100): LSTM 128 -> Dense 1,
             batch 128; reports steps per second

For every N in --ranks: ``mpiexec -n N`` with one thread per rank (RNNKIT_NUM_THREADS,
OPENBLAS_NUM_THREADS, NUMBA_NUM_THREADS = 1), and one process with N threads. Each run does
--warmup steps (compilation, caches) then --steps timed steps (median step time). With several
ranks it also reports the time spent in the step's one Allreduce (which includes waiting for
the slowest rank), the same Allreduce timed alone after a Barrier (the transport's own cost),
and the bytes each rank contributes per step. Prints a markdown table.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_TEXT = HERE.parent.parent / "shared" / "data" / "tinyshakespeare.txt"
TASKS = {"text": dict(batch=64, seq=100, units=256), "adding": dict(batch=128, T=100, units=128)}


# ---- the worker: one configuration, run under mpiexec or alone ------------------------------
def _worker(task, steps, warmup, text_path):
    import numpy as np

    import rnnkit
    from rnnkit import distributed, layers
    from rnnkit.training.callbacks import Callback

    distributed.set_distribution(distributed.DataParallel())
    rnnkit.random.set_random_seed(0)
    n_steps = warmup + steps
    cfg = TASKS[task]
    if task == "text":
        from rnnkit.cli.textlm import TextLMConfig, _compile, build_model
        from rnnkit.data import CharVocab
        from rnnkit.training.tbptt import stream_windows
        if text_path and os.path.exists(text_path):
            text = Path(text_path).read_text(encoding="utf-8")
        else:
            from rnnkit.data.corpus import stdlib_corpus
            text = stdlib_corpus(max_bytes=2_000_000)
        vocab = CharVocab.from_text(text)
        x, y = stream_windows(vocab.encode(text), cfg["batch"], cfg["seq"])
        x, y = x[:n_steps * cfg["batch"]], y[:n_steps * cfg["batch"]]
        tc = TextLMConfig(units=cfg["units"], batch_size=cfg["batch"], seq_len=cfg["seq"])
        model = build_model(tc, len(vocab), stateful=True)
        _compile(model, tc)
        per_step = cfg["batch"] * cfg["seq"]                  # characters
    else:
        from rnnkit.datasets import adding_problem
        x, y = adding_problem(n_steps * cfg["batch"], cfg["T"], seed=0)
        model = rnnkit.Sequential([layers.Input((cfg["T"], 2)), layers.LSTM(cfg["units"]),
                                   layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        per_step = 1

    dist = distributed.distribution()

    class Timer(Callback):
        def __init__(self):
            super().__init__()
            self.times, self.comm = [], []

        def on_train_batch_begin(self, batch, logs=None):
            self.t0, self.c0 = time.perf_counter(), dist.allreduce_seconds

        def on_train_batch_end(self, batch, logs=None):
            if batch >= warmup:
                self.times.append(time.perf_counter() - self.t0)
                self.comm.append(dist.allreduce_seconds - self.c0)

    timer = Timer()
    model.fit(x, y, batch_size=cfg["batch"], epochs=1, shuffle=False, verbose=0,
              callbacks=[timer])
    step = statistics.median(timer.times)
    alone = None
    if distributed.size() > 1:              # the same Allreduce with no rank late (Barrier first)
        from mpi4py import MPI
        buf = np.zeros(dist.allreduce_bytes // np.dtype(np.float32).itemsize, np.float32)
        times = []
        for _ in range(30):
            dist.comm.Barrier()
            t0 = time.perf_counter()
            dist.comm.Allreduce(MPI.IN_PLACE, buf)
            times.append(time.perf_counter() - t0)
        alone = 1e3 * statistics.median(times)
    if distributed.is_main():
        print("RESULT " + json.dumps({
            "task": task, "ranks": distributed.size(), "params": model.count_params(),
            "step_s": step, "rate": per_step / step,
            "allreduce_ms": 1e3 * statistics.median(timer.comm) if distributed.size() > 1
            else None,
            "alone_ms": alone,
            "bytes": dist.allreduce_bytes if distributed.size() > 1 else None}), flush=True)


# ---- the driver ----------------------------------------------------------------------------
def _run(task, ranks, threads, args):
    env = dict(os.environ)
    for var in ("RNNKIT_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                "NUMBA_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--worker", task, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--text", str(args.text)]
    if ranks > 1:
        cmd = [args.mpiexec, "-n", str(ranks), *cmd]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    for line in res.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", default="1,2", help="rank counts, e.g. 1,2,4,8 (default 1,2)")
    p.add_argument("--threads", default=None,
                   help="thread counts of the one-process runs (default: the --ranks values)")
    p.add_argument("--tasks", default="text,adding")
    p.add_argument("--steps", type=int, default=12, help="timed steps (default 12)")
    p.add_argument("--warmup", type=int, default=3, help="untimed first steps (default 3)")
    p.add_argument("--text", default=str(DEFAULT_TEXT))
    p.add_argument("--mpiexec", default=str(Path(sys.executable).parent / "mpiexec"))
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.steps, args.warmup, args.text)
        return 0
    ranks = [int(r) for r in args.ranks.split(",")]
    threads = [int(t) for t in (args.threads or args.ranks).split(",")]
    configs = [(1, t) for t in threads] + [(n, 1) for n in ranks if n > 1]
    print(f"# bench_distributed: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start,"
          f" {args.steps} timed steps after {args.warmup}\n")
    print("| task | ranks x threads | step (ms) | rate | speed-up vs first row | Allreduce in the "
          "step (ms) | Allreduce alone (ms) | bytes/step/rank |")
    print("|---|---|---|---|---|---|---|---|")
    for task in args.tasks.split(","):
        base = None
        for n, t in configs:
            r = _run(task, n, t, args)
            base = base or r["rate"]
            unit = "chars/s" if task == "text" else "steps/s"
            comm = f"{r['allreduce_ms']:.2f}" if r["allreduce_ms"] is not None else "-"
            alone = f"{r['alone_ms']:.2f}" if r["alone_ms"] is not None else "-"
            nbytes = f"{r['bytes']:,}" if r["bytes"] is not None else "-"
            print(f"| {task} ({r['params']:,} params) | {n} x {t} | {1e3 * r['step_s']:.1f} | "
                  f"{r['rate']:,.1f} {unit} | {r['rate'] / base:.2f} | {comm} | {alone} | "
                  f"{nbytes} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
