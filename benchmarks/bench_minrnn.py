"""Time one training step (forward + backward) of MinGRU / MinLSTM against LSTM / GRU (rnnkit)
and PyTorch's nn.LSTM / nn.GRU, and the three linear-scan methods against each other.

    python benchmarks/bench_minrnn.py [--lengths 100,512,4096] [--batch 16] [--features 64]
                                      [--units 128] [--repeats 5] [--threads 1] [--cpu-time]
                                      [--layers mingru,minlstm,lnlstm,lstm,gru,torch_lstm,torch_gru]
    python benchmarks/bench_minrnn.py --scan [--lengths ...] [--repeats 5]

A step is ``y = layer(x)`` (return_sequences, float32), ``layer.backward(dy)`` with every weight
gradient (torch: ``(y * dy).sum().backward()``); the time is the minimum over ``--repeats``
after one warm-up (wall clock, or this thread's CPU time with ``--cpu-time``, less disturbed by
other processes). MinGRU/MinLSTM use ``scan="auto"``; rnnkit's LSTM/GRU use whichever kernels
``RNNKIT_KERNELS`` selects (fast where numba is installed). Nothing is asserted: read the table.
"""

import argparse
import os
import sys
import time

import numpy as np

LAYERS = ("mingru", "minlstm", "lnlstm", "lstm", "gru", "torch_lstm", "torch_gru")


def _clock(cpu_time):
    return time.thread_time if cpu_time else time.perf_counter


def _best(fn, repeats, clock):
    fn()                                                    # warm-up (compilation, caches)
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def _rnnkit_step(name, B, T, I, H):
    from rnnkit import layers
    make = {"mingru": layers.MinGRU, "minlstm": layers.MinLSTM, "lnlstm": layers.LayerNormLSTM,
            "lstm": layers.LSTM, "gru": layers.GRU}[name]
    layer = make(H, return_sequences=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, I)).astype(np.float32)
    dy = rng.normal(size=(B, T, H)).astype(np.float32)
    layer(x)

    def step():
        layer.forward(x, training=True)
        layer.zero_grad()
        layer.backward(dy)
    return step


def _torch_step(name, B, T, I, H):
    import torch
    cls = {"torch_lstm": torch.nn.LSTM, "torch_gru": torch.nn.GRU}[name]
    net = cls(I, H, batch_first=True)
    x = torch.randn(B, T, I)
    dy = torch.randn(B, T, H)

    def step():
        net.zero_grad()
        y, _ = net(x)
        (y * dy).sum().backward()
    return step


def bench_layers(args):
    B, I, H = args.batch, args.features, args.units
    names = args.layers.split(",")
    print(f"training step (forward + backward), B={B}, I={I}, H={H}, float32, "
          f"min of {args.repeats}, {'CPU' if args.cpu_time else 'wall'} ms")
    print("| layer | " + " | ".join(f"T={T}" for T in args.lengths) + " |")
    print("|---|" + "---|" * len(args.lengths))
    for name in names:
        row = []
        for T in args.lengths:
            make = _torch_step if name.startswith("torch") else _rnnkit_step
            try:
                t = _best(make(name, B, T, I, H), args.repeats, _clock(args.cpu_time))
                row.append(f"{t * 1e3:.1f}")
            except ImportError as e:
                row.append(f"n/a ({e.name})")
        print(f"| {name} | " + " | ".join(row) + " |", flush=True)


def bench_scan(args):
    from rnnkit.kernels.scan import linear_scan
    clock = _clock(args.cpu_time)

    def timed(a, b, h0, method, kernels):
        os.environ["RNNKIT_KERNELS"] = kernels             # read at every call
        return _best(lambda: linear_scan(a, b, h0, method), args.repeats, clock) * 1e3
    print(f"linear scan h_t = a_t h_(t-1) + b_t, float64, min of {args.repeats}, "
          f"{'CPU' if args.cpu_time else 'wall'} ms")
    print("| T | B | H | compiled loop | NumPy loop | NumPy blocked | NumPy log-space |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for T in args.lengths:
        for B, H in [(1, 64), (4, 64), (16, 64), (16, 256)]:
            a = rng.uniform(0.5, 0.99, (T, B, H))
            b = rng.normal(size=(T, B, H))
            h0 = rng.normal(size=(B, H))
            row = [timed(a, b, h0, "sequential", "fast"),
                   timed(a, b, h0, "sequential", "reference"),
                   timed(a, b, h0, "blocked", "reference"),
                   timed(a, b, h0, "log", "reference")]
            print(f"| {T} | {B} | {H} | " + " | ".join(f"{v:.2f}" for v in row) + " |",
                  flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", default="100,512,4096", help="sequence lengths T")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads")
    p.add_argument("--cpu-time", action="store_true", help="time this thread's CPU time")
    p.add_argument("--layers", default=",".join(LAYERS))
    p.add_argument("--scan", action="store_true", help="compare the scan methods instead")
    args = p.parse_args(argv)
    args.lengths = [int(t) for t in args.lengths.split(",")]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    (bench_scan if args.scan else bench_layers)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
