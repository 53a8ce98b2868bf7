"""1 vs N threads for one layer's training step and inference, interleaved call by call in one
process (a development check for busy machines: both settings see the same load; the fair
comparison across processes is threads_layer.py). Prints medians of wall and CPU time (ms).

    PYTHONPATH=src python benchmarks/threads_interleaved.py --cell lstm --threads 2 --repeats 60
"""

import argparse
import os
import time

import numpy as np

import rnnkit
from rnnkit import layers
from rnnkit.grad_mode import inference_mode

def set_threads(n):
    if hasattr(rnnkit.config, "set_num_threads"):
        rnnkit.config.set_num_threads(n)
    else:                                  # a checkout before the library-wide policy
        from rnnkit.kernels.fast import common
        common.set_num_threads(n)


SHAPES = [(32, 100, 64, 128), (64, 50, 128, 256)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "simple_rnn"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=60)
    p.add_argument("--shapes", default=None, help="e.g. 32,100,64,128;8,100,64,128")
    args = p.parse_args()
    shapes = SHAPES if not args.shapes else \
        [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
    cls = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}[args.cell]
    print(f"{args.cell} float32, load average {os.getloadavg()[0]:.2f}; medians of "
          f"{args.repeats} interleaved calls, wall ms (cpu ms)")
    print(f"| (B,T,I,H) | what | 1 thread | {args.threads} threads | wall ratio |")
    for shape in shapes:
        B, T, I, H = shape
        layer = cls(H, return_sequences=True, seed=0)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((B, T, I)).astype(np.float32)
        dy = rng.standard_normal((B, T, H)).astype(np.float32)

        def train():
            layer(x, training=True)
            layer.backward(dy)

        def infer():
            with inference_mode():
                layer(x)

        for what, fn in (("train", train), ("infer", infer)):
            times = {1: [], args.threads: []}
            for r in range(args.repeats + 2):
                for n in times:
                    set_threads(n)
                    w0, c0 = time.perf_counter(), time.process_time()
                    fn()
                    if r >= 2:
                        times[n].append((time.perf_counter() - w0, time.process_time() - c0))
            med = {n: [1e3 * float(np.median([t[k] for t in v])) for k in (0, 1)]
                   for n, v in times.items()}
            a, b = med[1], med[args.threads]
            print(f"| {shape} | {what} | {a[0]:.1f} ({a[1]:.1f}) | {b[0]:.1f} ({b[1]:.1f}) | "
                  f"{b[0] / a[0]:.2f} |", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
