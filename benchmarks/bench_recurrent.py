"""Time rnnkit's recurrent layers against PyTorch (and onnxruntime) on this machine, in one run.

    python benchmarks/bench_recurrent.py [--shapes all | --shape B,T,I,H] [--cells lstm,gru,rnn]
                                         [--kernels fast,reference] [--repeats N]
                                         [--threads N] [--cpu-time]

For each cell and shape (batch, time, features, units), float32:

* training step: forward + BPTT including the input gradient (rnnkit ``layer.forward(x,
  training=True)`` + ``layer.backward(dy)``; torch ``out.backward(dy)`` with ``x`` requiring
  grad);
* inference: forward only (torch under ``inference_mode``; onnxruntime running the exported
  ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` when onnxruntime and torch's exporter are installed).

rnnkit runs with each kernel set asked for (``fast``: the compiled kernels, ``reference``: the
NumPy kernels, as ``RNNKIT_KERNELS``). Every competitor is warmed up, then all are timed in
round-robin, one call each per round, so machine noise hits them alike; the table gives
medians, and ratios = rnnkit's time / the peer's (below 1: rnnkit is faster). The standard
shapes (``--shapes all``) are those of issue 6 and PERF-NOTES. Nothing is asserted.

``--threads N`` sets every competitor's thread count (torch, onnxruntime, rnnkit's batch split
and numpy's BLAS; default: all cores). On a shared, loaded machine wall times of multithreaded
code swing by several times; ``--threads 1 --cpu-time`` then gives a steadier view: the CPU
time of the calling thread (all work runs on it), which other processes barely disturb.
"""

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings

import numpy as np

SHAPES = [(1, 100, 64, 128), (32, 100, 64, 128), (64, 50, 128, 256), (128, 200, 32, 64),
          (16, 500, 64, 128)]
CELLS = {"lstm": ("lstm", "LSTM"), "gru": ("gru", "GRU"), "rnn": ("simple_rnn", "SimpleRNN")}


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return "+".join(x for x in ("avx2", "fma", "avx512f") if x in flags)
    except OSError:
        pass
    return "?"


def _blas_info():
    try:
        from rnnkit.kernels.fast import _lowlevel
        if _lowlevel.AVAILABLE:
            import ctypes
            from numpy._core import _multiarray_umath as mod
            fn = ctypes.CDLL(mod.__file__).scipy_openblas_get_config64_
            fn.restype = ctypes.c_char_p
            return f"{fn().decode()}, {_lowlevel.blas_threads()} threads"
    except Exception as e:  # noqa: BLE001 - informative only
        return f"unknown ({e.__class__.__name__})"
    return "numpy's BLAS not reachable from the fast kernels"


def _numba_version():
    try:
        import numba
        return numba.__version__
    except ImportError:
        return "not installed"


def _rnnkit_runner(cell, shape, kernels, x, dy):
    import importlib

    B, T, I, H = shape
    module, name = CELLS[cell]
    cls = getattr(importlib.import_module(f"rnnkit.layers.{module}"), name)
    layer = cls(H, return_sequences=True)
    layer.build((None, None, I))

    def train():
        os.environ["RNNKIT_KERNELS"] = kernels
        layer.forward(x, training=True)
        layer.backward(dy)

    def infer():
        os.environ["RNNKIT_KERNELS"] = kernels
        layer.forward(x)

    return train, infer


def _torch_runners(cell, shape, x, dy):
    import torch

    B, T, I, H = shape
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
    module = cls(I, H, batch_first=True)
    xt = torch.tensor(x, requires_grad=True)
    dyt = torch.tensor(dy)

    def train():
        xt.grad = None
        module.zero_grad(set_to_none=True)
        out, _ = module(xt)
        out.backward(dyt)

    def infer():
        with torch.inference_mode():
            module(xt)

    return module, train, infer


def _onnx_runner(module, x, notes, threads):
    """An onnxruntime session running ``module`` exported to ONNX, or None (with a note)."""
    try:
        import onnxruntime as ort
        import torch
    except ImportError:
        notes.add("onnxruntime is not installed: no onnxruntime column "
                  "(pip install onnxruntime onnx to add it)")
        return None
    try:
        path = os.path.join(tempfile.mkdtemp(prefix="rnnkit-bench-"), "model.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # the legacy exporter's deprecation notes
            torch.onnx.export(module, (torch.tensor(x),), path, input_names=["x"],
                              output_names=["y"], dynamo=False)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - the exporter's dependencies vary
        notes.add(f"onnxruntime present but the ONNX export failed ({e.__class__.__name__}: "
                  f"{str(e).splitlines()[0][:120]})")
        return None
    feed = {"x": x}
    return lambda: sess.run(None, feed)


def _time_round_robin(runners, repeats, warmup=2, clock=time.perf_counter):
    """Median ms of each runner, timed one call each per round, after ``warmup`` calls each."""
    for fn in runners.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in runners}
    for _ in range(repeats):
        for k, fn in runners.items():
            t0 = clock()
            fn()
            times[k].append((clock() - t0) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def bench(cell, shape, kernel_sets, repeats, notes, threads, clock):
    B, T, I, H = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    dy = rng.standard_normal((B, T, H)).astype(np.float32)
    module, t_train, t_infer = _torch_runners(cell, shape, x, dy)
    train = {"torch": t_train}
    infer = {"torch": t_infer}
    for k in kernel_sets:
        train[k], infer[k] = _rnnkit_runner(cell, shape, k, x, dy)
    onnx = _onnx_runner(module, x, notes, threads)
    if onnx is not None:
        infer["onnxruntime"] = onnx
    # fewer rounds for the slow NumPy reference at the big shapes
    n = repeats if "reference" not in kernel_sets or B * T * H < 500_000 else max(5, repeats // 2)
    return [("training step", _time_round_robin(train, n, clock=clock)),
            ("inference", _time_round_robin(infer, n, clock=clock))]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="32,100,64,128", help="batch,time,features,units")
    p.add_argument("--shapes", default=None, help="'all': the five standard shapes")
    p.add_argument("--cells", default="lstm,gru,rnn")
    p.add_argument("--kernels", default="fast", help="comma list of fast, reference")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--threads", type=int, default=0, help="threads for everyone (0: all cores)")
    p.add_argument("--cpu-time", action="store_true",
                   help="time the calling thread's CPU time (meaningful with --threads 1)")
    args = p.parse_args(argv)
    shapes = SHAPES if args.shapes == "all" else \
        [tuple(int(s) for s in args.shape.split(","))]
    kernel_sets = [k.strip() for k in args.kernels.split(",") if k.strip()]

    import torch

    import rnnkit  # noqa: F401
    from rnnkit.kernels import dispatch

    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    split = "-"
    if dispatch.fast_available():
        from rnnkit.kernels.fast import _lowlevel, common
        common.set_num_threads(threads)
        _lowlevel.set_blas_threads(threads)
        split = common.num_threads()
    clock = time.thread_time if args.cpu_time else time.perf_counter
    if "fast" in kernel_sets and not dispatch.fast_available():
        print("# the fast kernels cannot run here (numba missing?): timing the reference only")
        kernel_sets = [k for k in kernel_sets if k != "fast"] or ["reference"]
    notes = set()
    try:
        load = "load average %.1f %.1f %.1f" % os.getloadavg()
    except OSError:
        load = "load average unknown"
    print(f"# rnnkit vs torch {torch.__version__}, float32, medians of {args.repeats} "
          f"round-robin calls after warm-up, "
          f"{'CPU time of the calling thread' if args.cpu_time else 'wall time'}")
    print(f"# CPU: {_cpu_name()} ({_cpu_flags()}), {len(os.sched_getaffinity(0))} cores; "
          f"{load} at start")
    print(f"# numpy {np.__version__}, BLAS: {_blas_info()}")
    print(f"# threads: torch {torch.get_num_threads()}, onnxruntime {threads}, rnnkit fast "
          f"kernels {split} (batch split, BLAS 1 thread inside the passes), "
          f"numba {_numba_version()}")
    print()
    cols = list(kernel_sets)
    head = ["cell", "shape (B,T,I,H)", "what"] + [f"rnnkit {k} ms" for k in cols] + \
        ["torch ms", "onnxruntime ms"] + [f"{k}/torch" for k in cols] + \
        [f"{k}/onnxruntime" for k in cols]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for cell in args.cells.split(","):
        for shape in shapes:
            for what, t in bench(cell, shape, kernel_sets, args.repeats, notes, threads, clock):
                ort = t.get("onnxruntime")
                row = [cell, ",".join(map(str, shape)), what]
                row += [f"{t[k]:.2f}" for k in cols]
                row += [f"{t['torch']:.2f}", "-" if ort is None else f"{ort:.2f}"]
                row += [f"{t[k] / t['torch']:.2f}" for k in cols]
                row += ["-" if ort is None else f"{t[k] / ort:.2f}" for k in cols]
                print("| " + " | ".join(row) + " |", flush=True)
    try:
        print("\n# load average %.1f %.1f %.1f at the end" % os.getloadavg())
    except OSError:
        pass
    for note in sorted(notes):
        print(f"# note: {note}")


if __name__ == "__main__":
    main()
