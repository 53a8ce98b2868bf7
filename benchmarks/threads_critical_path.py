"""Estimated wall time of one layer's training step / inference on N dedicated cores, from CPU
times (for a machine too busy to time threads by the wall clock): the calling thread's CPU
time, with each parallel region's part 0 replaced by the slowest part of that region. Memory
bandwidth shared between cores is not in it, so read it as a lower bound of the N-thread time.

    PYTHONPATH=src python benchmarks/threads_critical_path.py --threads 2 --repeats 30
"""

import argparse
import os
import time

import numpy as np

import rnnkit
from rnnkit import layers
from rnnkit.grad_mode import inference_mode
from rnnkit.kernels import threads

SHAPES = [(32, 100, 64, 128), (64, 50, 128, 256), (16, 100, 64, 128), (8, 100, 64, 128)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "simple_rnn"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()
    regions = []                       # per call: [(part-0 cpu, max part cpu)] of each region
    original = threads.parallel

    def parallel(fn, parts):
        cpu = [0.0] * parts

        def timed(q):
            t0 = time.thread_time()
            try:
                return fn(q)
            finally:
                cpu[q] = time.thread_time() - t0
        original(timed, parts)
        regions.append((cpu[0], max(cpu)))

    threads.parallel = parallel
    cls = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}[args.cell]
    print(f"{args.cell} float32, load average {os.getloadavg()[0]:.2f}; medians of "
          f"{args.repeats} calls, CPU ms of the calling thread (1 thread) and the estimated "
          f"critical path at {args.threads} threads")
    print(f"| (B,T,I,H) | what | 1 thread | {args.threads} threads, critical path | ratio |")
    for shape in SHAPES:
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
            res = {1: [], args.threads: []}
            for r in range(args.repeats + 2):
                for n in res:
                    rnnkit.config.set_num_threads(n)
                    regions.clear()
                    t0 = time.thread_time()
                    fn()
                    total = time.thread_time() - t0
                    crit = total - sum(a for a, _ in regions) + sum(m for _, m in regions)
                    if r >= 2:
                        res[n].append(crit)
            a, b = (1e3 * float(np.median(res[n])) for n in res)
            print(f"| {shape} | {what} | {a:.1f} | {b:.1f} | {b / a:.2f} |", flush=True)


if __name__ == "__main__":
    main()
