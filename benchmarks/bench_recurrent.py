"""Time rnnkit's recurrent layers against PyTorch on the same machine, in the same run.

    python benchmarks/bench_recurrent.py [--shape B,T,I,H] [--repeats N] [--cells lstm,gru,rnn]

For each cell: a training step (forward + BPTT including the input gradient) and an inference
pass (forward only), float32, median of N timed runs after warm-up. The ratio is rnnkit's time
over torch's (below 1 means rnnkit is faster). Prints a Markdown table; nothing is asserted.
"""

import argparse
import os
import platform
import statistics
import time

import numpy as np


def _median_ms(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _rnnkit_layer(cell, units):
    import importlib

    module, name = {"lstm": ("lstm", "LSTM"), "gru": ("gru", "GRU"),
                    "rnn": ("simple_rnn", "SimpleRNN")}[cell]
    cls = getattr(importlib.import_module(f"rnnkit.layers.{module}"), name)
    return cls(units, return_sequences=True)


def _torch_module(cell, features, units):
    import torch

    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
    return cls(features, units, batch_first=True)


def bench_cell(cell, shape, repeats):
    import torch

    B, T, I, H = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    dy = rng.standard_normal((B, T, H)).astype(np.float32)

    layer = _rnnkit_layer(cell, H)
    layer.build((None, None, I))

    def ours_train():
        layer.forward(x, training=True)
        layer.backward(dy)

    def ours_infer():
        layer.forward(x)

    module = _torch_module(cell, I, H)
    xt = torch.tensor(x, requires_grad=True)
    dyt = torch.tensor(dy)

    def torch_train():
        out, _ = module(xt)
        out.backward(dyt)

    def torch_infer():
        with torch.inference_mode():
            module(xt)

    rows = []
    for what, ours, theirs in (("training step", ours_train, torch_train),
                               ("inference", ours_infer, torch_infer)):
        # alternate the two so that machine noise hits both alike
        a = _median_ms(ours, repeats)
        b = _median_ms(theirs, repeats)
        rows.append((cell, what, a, b, a / b))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="32,100,64,128", help="batch,time,features,units")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--cells", default="lstm,gru,rnn")
    args = p.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))

    import torch

    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    print(f"# rnnkit vs torch {torch.__version__}, float32, shape (B,T,I,H)={shape}")
    print(f"# {platform.processor() or platform.machine()}, {threads} threads, numpy {np.__version__}")
    print()
    print("| cell | what | rnnkit ms | torch ms | ratio |")
    print("|---|---|---|---|---|")
    for cell in args.cells.split(","):
        for cell_, what, a, b, r in bench_cell(cell, shape, args.repeats):
            print(f"| {cell_} | {what} | {a:.1f} | {b:.1f} | {r:.2f} |")


if __name__ == "__main__":
    main()
