"""Time a training step (``train_on_batch``) of a small LayerNormLSTM model with the NumPy
reference kernels and with the compiled fast ones, alternated call by call in one process.

    python benchmarks/bench_ln_lstm.py [--shape 32,100,64,128] [--rounds 9] [--zoneout 0.1]
                                       [--kernels-only]

Model: ``Sequential([LayerNormLSTM(H, return_sequences=True, zoneout=..., cell_zoneout=...),
Dense(1)])``, loss mse, Adam, float32, one thread (``rnnkit.config.set_num_threads(1)``, BLAS
at one thread). ``RNNKIT_KERNELS`` is read at every call, so the two kernel sets run in
alternation (reference, fast, reference, ...) after one warm-up each (compilation); the table
gives the median and the spread over ``--rounds`` calls of each, wall clock and this thread's
CPU time. ``--kernels-only`` times the recurrence alone instead: ``ln_lstm_forward`` then
``ln_lstm_backward`` of :mod:`rnnkit.kernels.ln_lstm` and :mod:`rnnkit.kernels.fast.ln_lstm`
on the same inputs (drawn zoneout masks). Nothing is asserted: read the numbers (a shared
machine makes them noisy).
"""

import argparse
import os
import sys
import time

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="32,100,64,128", help="B,T,I,H")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--zoneout", type=float, default=0.1, help="zoneout and cell_zoneout")
    p.add_argument("--kernels-only", action="store_true", help="time the kernels alone")
    args = p.parse_args(argv)
    B, T, I, H = (int(v) for v in args.shape.split(","))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import rnnkit
    from rnnkit.layers import Dense, LayerNormLSTM
    from rnnkit.models import Sequential

    rnnkit.config.set_num_threads(1)
    rng = np.random.default_rng(0)
    if args.kernels_only:
        return _kernels_only(B, T, H, args, rng)
    x = rng.normal(size=(B, T, I)).astype(np.float32)
    y = rng.normal(size=(B, T, 1)).astype(np.float32)
    model = Sequential([LayerNormLSTM(H, return_sequences=True, zoneout=args.zoneout,
                                      cell_zoneout=args.zoneout, seed=0), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    times = {"reference": [], "fast": []}
    for r in range(args.rounds + 1):
        for mode in times:
            os.environ["RNNKIT_KERNELS"] = mode
            w0, c0 = time.perf_counter(), time.thread_time()
            model.train_on_batch(x, y)
            if r:                                       # round 0: warm-up (compilation)
                times[mode].append((time.perf_counter() - w0, time.thread_time() - c0))
    print(f"train_on_batch, LayerNormLSTM (B, T, I, H) = {(B, T, I, H)}, zoneout "
          f"{args.zoneout}, float32, 1 thread, {args.rounds} alternated calls each, ms")
    print("| kernels | wall median | wall min-max | CPU median |")
    print("|---|---|---|---|")
    cpu_median = {}
    for mode, ts in times.items():
        wall, cpu = np.array(ts).T * 1e3
        cpu_median[mode] = np.median(cpu)
        print(f"| {mode} | {np.median(wall):.1f} | {wall.min():.1f}-{wall.max():.1f} | "
              f"{cpu_median[mode]:.1f} |")
    print(f"reference / fast (CPU medians): {cpu_median['reference'] / cpu_median['fast']:.2f}x")
    return 0


def _kernels_only(B, T, H, args, rng):
    from rnnkit.kernels import ln_lstm as reference
    from rnnkit.kernels.fast import ln_lstm as fast
    f = np.float32
    xn = rng.normal(size=(T, B, 4 * H)).astype(f)
    W_hh = (rng.normal(size=(H, 4 * H)) / np.sqrt(H)).astype(f)
    gamma_h, gamma_c, beta_c = np.ones(4 * H, f), np.ones(H, f), np.zeros(H, f)
    h0, c0 = np.zeros((B, H), f), np.zeros((B, H), f)
    zh, zc = ((rng.random((T, B, H)) < args.zoneout).astype(f) for _ in range(2))
    dh_seq = rng.normal(size=(T, B, H)).astype(f)
    times = {"reference": [], "fast": []}
    for r in range(args.rounds + 1):
        for name, m in (("reference", reference), ("fast", fast)):
            c = time.thread_time()
            *_, cache = m.ln_lstm_forward(xn, W_hh, gamma_h, gamma_c, beta_c, h0, c0, None,
                                          zh, zc)
            m.ln_lstm_backward(dh_seq, None, None, cache)
            if r:
                times[name].append(time.thread_time() - c)
    print(f"ln_lstm_forward + ln_lstm_backward, (B, T, H) = {(B, T, H)}, zoneout "
          f"{args.zoneout}, float32, 1 thread, CPU ms, median of {args.rounds} alternated")
    for name, ts in times.items():
        print(f"{name}: {np.median(ts) * 1e3:.1f}")
    print(f"reference / fast: {np.median(times['reference']) / np.median(times['fast']):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
