"""One recurrent layer's training step (forward + backward) and inference at 1 and N threads.

Each configuration runs in its own process, the processes alternate, and the medians of many
repeats are printed with the process CPU time per call (CPU/wall shows how much of the wall time
the threads actually ran: on a busy machine wall time alone lies). Torch ``nn.LSTM`` (same
shape, float32, ``torch.set_num_threads``) as an indication only.

    PYTHONPATH=src python benchmarks/threads_layer.py --threads 1,2 --rounds 5 --repeats 20
"""

import argparse
import json
import os
import subprocess
import sys
import time

SHAPES = [(32, 100, 64, 128), (64, 50, 128, 256)]


def _rnnkit(cell, shape, threads, repeats):
    import numpy as np
    import rnnkit
    from rnnkit import layers
    from rnnkit.grad_mode import inference_mode
    if hasattr(rnnkit.config, "set_num_threads"):
        rnnkit.config.set_num_threads(threads)
    else:                                  # before the library-wide policy
        from rnnkit.kernels.fast import common
        common.set_num_threads(threads)
    B, T, I, H = shape
    layer = {"lstm": layers.LSTM, "gru": layers.GRU}[cell](H, return_sequences=True, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    dy = rng.standard_normal((B, T, H)).astype(np.float32)

    def train():
        layer(x, training=True)
        layer.backward(dy)

    def infer():
        with inference_mode():
            layer(x)
    return train, infer


def _torch(cell, shape, threads, repeats):
    import torch
    torch.set_num_threads(threads)
    B, T, I, H = shape
    net = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](I, H, batch_first=True)
    x = torch.randn(B, T, I, requires_grad=True)
    dy = torch.randn(B, T, H)

    def train():
        y, _ = net(x)
        y.backward(dy)

    def infer():
        with torch.inference_mode():
            net(x)
    return train, infer


def child(args):
    make = _torch if args.who == "torch" else _rnnkit
    out = {}
    for shape in _shapes(args.shapes):
        fns = make(args.cell, shape, args.child_threads, args.repeats)
        for name, fn in zip(("train", "infer"), fns):
            for _ in range(3):
                fn()
            wall, cpu = [], []
            for _ in range(args.repeats):
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                wall.append(time.perf_counter() - w0)
                cpu.append(time.process_time() - c0)
            wall.sort()
            cpu.sort()
            out[f"{shape}|{name}"] = (wall[len(wall) // 2], cpu[len(cpu) // 2])
    print(json.dumps(out))


def _shapes(text):
    return SHAPES if not text else [tuple(int(v) for v in s.split(",")) for s in text.split(";")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", default="1,2")
    p.add_argument("--cell", default="lstm")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--shapes", default=None, help="e.g. 32,100,64,128;64,50,128,256")
    p.add_argument("--torch", action="store_true", help="also torch nn.LSTM (indication)")
    p.add_argument("--who", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.who:
        return child(args)
    configs = [("rnnkit", int(n)) for n in args.threads.split(",")]
    if args.torch:
        configs += [("torch", int(n)) for n in args.threads.split(",")]
    results = {c: [] for c in configs}
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)                 # as a user runs it: rnnkit's own policy decides
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    for r in range(args.rounds):
        for who, n in configs:
            cmd = [sys.executable, __file__, "--who", who, "--child-threads", str(n),
                   "--cell", args.cell, "--repeats", str(args.repeats)]
            if args.shapes:
                cmd += ["--shapes", args.shapes]
            res = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if res.returncode:
                sys.exit(res.stderr)
            results[(who, n)].append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    keys = list(results[configs[0]][0])
    print(f"{args.cell}, float32, medians over {args.rounds} processes x {args.repeats} calls: "
          "wall ms (cpu ms)")
    print("| shape | what | " + " | ".join(f"{w} {n}t" for w, n in configs) + " |")
    for k in keys:
        shape, what = k.split("|")
        cells = []
        for c in configs:
            ws = sorted(r[k][0] for r in results[c])
            cs = sorted(r[k][1] for r in results[c])
            cells.append(f"{1e3 * ws[len(ws) // 2]:.1f} ({1e3 * cs[len(cs) // 2]:.1f})")
        print(f"| {shape} | {what} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
