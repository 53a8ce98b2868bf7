"""Time rnnkit's recurrent layers against PyTorch (and onnxruntime) on this machine, in one run.

    rnnkit bench [--shapes all | B,T,I,H[;B,T,I,H...]] [--cells lstm,gru,rnn,mingru,minlstm]
                 [--kernels fast,reference] [--repeats N] [--threads N] [--cpu-time]
                 [--memory-shape B,T,I,H[;...] | --no-memory] [--quick]
                 [--out docs/benchmarks.md | --no-write]

(``benchmarks/bench_recurrent.py`` is a thin wrapper around :func:`main` here.)

MinGRU and MinLSTM (``--cells mingru,minlstm``) get a table of their own after the main one,
against rnnkit's and torch's LSTM and GRU of the same shape: :mod:`rnnkit.bench.min_cells`.

For each cell and shape (batch, time, features, units), float32:

* training step: forward + BPTT including the input gradient (rnnkit ``layer.forward(x,
  training=True)`` + ``layer.backward(dy)``; torch ``out.backward(dy)`` with ``x`` requiring
  grad);
* inference: forward only (rnnkit ``layer.forward(x)`` under
  :func:`rnnkit.grad_mode.inference_mode`, which keeps no cache; torch under
  ``inference_mode``; onnxruntime running the same rnnkit layer exported by
  ``rnnkit.io.onnx_export``, when onnx and onnxruntime are installed);
* streaming: one step at a time at batch 1, units 128 (rnnkit ``stream.step(x_t)`` of
  ``layer.streamer()``, :mod:`rnnkit.layers.streaming`, the state carried in the stream; torch
  ``nn.LSTMCell`` / ``GRUCell`` / ``RNNCell`` per step under ``inference_mode``), in
  microseconds per step;
* training FLOP rate: the useful FLOPs of the training step (its matrix products only,
  :func:`rnnkit.bench.runners.train_flops`: 3·2·B·T·(I+H)·G·H with G gates) divided by its
  median time, in GFLOP/s and in % of the GEMM peak measured at the start of the same run (a
  float32 1024³ ``np.matmul``, same threads, same clock, median);
* training step peak memory at ``--memory-shape`` (default (16, 500, 64, 128)): for each rnnkit
  kernel set and torch, in a fresh process each, the peak resident memory of one training step
  above what lives between steps, after a warm-up step (:mod:`rnnkit.bench.memory` says how and
  why). ``--no-memory`` skips it.

rnnkit runs with each kernel set asked for (``fast``: the compiled kernels, ``reference``: the
NumPy kernels, as ``RNNKIT_KERNELS``). Every competitor is warmed up, then all are timed in
round-robin, one call each per round, so machine noise hits them alike; the table gives
medians, and ratios = rnnkit's time / the peer's (below 1: rnnkit is faster). The standard
shapes (``--shapes all``) are those of issue 6 and PERF-NOTES. Nothing is asserted.

torch and onnxruntime are optional and imported only here: without torch the table has
rnnkit's times alone and says torch is not installed.

``--threads N`` sets every competitor's thread count (torch, onnxruntime, rnnkit's batch split
and numpy's BLAS; default: all cores). On a shared, loaded machine wall times of multithreaded
code swing by several times; ``--threads 1 --cpu-time`` then gives a steadier view: the CPU
time of the calling thread (all work runs on it), which other processes barely disturb.
"""

import argparse
import os
import platform
import sys
import time

import numpy as np

from .memory import measure as measure_memory
from .page import write_tables
from .runners import (CELLS, GEMM_N, STREAM_FEATURES, STREAM_UNITS, bench,
                      bench_streaming, gemm_gflops, train_flops)

SHAPES = [(1, 100, 64, 128), (32, 100, 64, 128), (64, 50, 128, 256), (128, 200, 32, 64),
          (16, 500, 64, 128)]
QUICK_SHAPE = (4, 20, 16, 32)
MEMORY_SHAPE = (16, 500, 64, 128)
KERNEL_SETS = ("fast", "reference")


# ---- options -------------------------------------------------------------------------------------
def parse_one_shape(text, what):
    """``'B,T,I,H'`` -> a tuple of four positive integers; else ValueError naming ``--what``."""
    bits = (text or "").split(",")
    try:
        shape = tuple(int(b.strip()) for b in bits)
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"--{what}: expected B,T,I,H (four positive integers), got {text!r}")
    return shape


def parse_shapes(text):
    """``'all'`` -> the standard shapes; ``'B,T,I,H[;B,T,I,H...]'`` -> those; else ValueError."""
    text = (text or "").strip()
    if text == "all":
        return list(SHAPES)
    shapes = []
    for part in text.split(";"):
        try:
            shapes.append(parse_one_shape(part, "shapes"))
        except ValueError:
            raise ValueError(f"--shapes: expected 'all' or B,T,I,H (four positive integers, "
                             f"several separated by ';'), got {part.strip()!r}") from None
    return shapes


def parse_list(text, allowed, what):
    items = [s.strip().lower() for s in (text or "").split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        raise ValueError(f"--{what}: expected a comma list of {', '.join(allowed)}, "
                         f"got {text!r}")
    return list(dict.fromkeys(items))


# ---- machine description -------------------------------------------------------------------------
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


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _blas_info():
    try:
        from ..kernels.fast import _lowlevel
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


def _load():
    try:
        return "%.1f %.1f %.1f" % os.getloadavg()
    except (OSError, AttributeError):
        return "unknown"


def _import_torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


# ---- the run -------------------------------------------------------------------------------------
def _fmt(v):
    if v is None:
        return "-"
    return f"{v:.1f}" if v >= 100 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def run(shapes, cells, kernel_sets, repeats, threads=0, cpu_time=False, streaming_steps=100,
        out=None, stream=None, memory_shape=MEMORY_SHAPE):
    """Print the header and table to ``stream`` (stdout) as rows finish; write the Markdown
    page to ``out`` when given (``memory_shape=None``: no peak-memory rows; a list of shapes:
    rows at each). Returns the page's text."""
    from . import min_cells

    stream = stream or sys.stdout
    mins, cells = min_cells.split(cells)
    memory_shapes = ([] if not memory_shape else [memory_shape]
                     if isinstance(memory_shape[0], int) else list(memory_shape))
    torch = _import_torch()
    from ..kernels import dispatch

    notes = set()
    cores = _cores()
    threads = threads or cores
    split = "-"
    if torch is not None:
        torch.set_num_threads(threads)
    else:
        notes.add("torch is not installed: rnnkit's times only, no ratios "
                  "(pip install torch to compare)")
    if "fast" in kernel_sets and not dispatch.fast_available():
        notes.add("the fast kernels cannot run here (numba missing?): timing the reference only")
        kernel_sets = [k for k in kernel_sets if k != "fast"] or ["reference"]
    if dispatch.fast_available():
        from ..kernels.fast import _lowlevel, common
        common.set_num_threads(threads)
        _lowlevel.set_blas_threads(threads)
        split = common.num_threads()
    clock = time.thread_time if cpu_time else time.perf_counter
    peak = gemm_gflops(repeats, clock)
    peer = f"torch {torch.__version__}" if torch is not None else "torch (not installed)"
    header = [
        f"rnnkit vs {peer}, float32, medians of {repeats} round-robin calls after warm-up, "
        f"{'CPU time of the calling thread' if cpu_time else 'wall time'}; "
        f"ratio = rnnkit / peer (below 1: rnnkit is faster)",
        f"CPU: {_cpu_name()} ({_cpu_flags()}), {cores} cores; load average {_load()} at start",
        f"numpy {np.__version__}, BLAS: {_blas_info()}",
        f"threads: torch {torch.get_num_threads() if torch is not None else '-'}, onnxruntime "
        f"{threads}, rnnkit fast kernels {split} (batch split, BLAS 1 thread inside the "
        f"passes), numba {_numba_version()}",
        f"streaming: batch 1, {STREAM_FEATURES} features, {STREAM_UNITS} units, "
        f"{streaming_steps} single steps per timed call, state carried (torch: nn.*Cell)",
        f"GEMM peak: {peak:.1f} GFLOP/s (float32 {GEMM_N}x{GEMM_N}x{GEMM_N} np.matmul, numpy's "
        f"BLAS, same threads and clock, median); training FLOP rate = useful FLOPs of the step "
        f"(its matrix products: 3*2*B*T*(I+H)*G*H, G = 4 LSTM, 3 GRU, 1 SimpleRNN) / its "
        f"median time",
    ]
    if memory_shape:
        header.append(
            "training step peak memory: peak RSS of one training step above the RSS between "
            "steps, after a warm-up step, each competitor in a fresh process (VmHWM reset "
            "through /proc/self/clear_refs; same method for all)")
    if mins:
        header.append(min_cells.header_line(mins, kernel_sets[0]))
    for line in header:
        print(f"# {line}", file=stream)
    print(file=stream)
    head = ["cell", "shape (B,T,I,H)", "what", "unit"] + \
        [f"rnnkit {k}" for k in kernel_sets] + ["torch", "onnxruntime"] + \
        [f"{k}/torch" for k in kernel_sets] + [f"{k}/onnxruntime" for k in kernel_sets]
    table = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] if cells else []
    for line in table:
        print(line, file=stream)

    def emit(cell, shape_text, what, unit, t, ratios=True):
        tt, ort = t.get("torch"), t.get("onnxruntime")
        row = [cell, shape_text, what, unit] + [_fmt(t.get(k)) for k in kernel_sets]
        row += [_fmt(tt), _fmt(ort)]
        for peer in (tt, ort):
            row += [_fmt(t[k] / peer if ratios and peer and t.get(k) is not None else None)
                    for k in kernel_sets]
        table.append("| " + " | ".join(row) + " |")
        print(table[-1], file=stream, flush=True)

    for cell in cells:
        for shape in shapes:
            shape_text = ",".join(map(str, shape))
            for what, unit, t in bench(cell, shape, kernel_sets, repeats, notes, threads, clock,
                                       torch):
                emit(cell, shape_text, what, unit, t)
                if what == "training step":         # rates: no ratio columns (inverse of time)
                    rate = {k: train_flops(cell, shape) / (ms * 1e-3) / 1e9
                            for k, ms in t.items()}
                    emit(cell, shape_text, "training FLOP rate", "GFLOP/s", rate, ratios=False)
                    emit(cell, shape_text, "training FLOP rate", "% of GEMM peak",
                         {k: 100.0 * v / peak for k, v in rate.items()}, ratios=False)
        if streaming_steps:
            what, unit, t = bench_streaming(cell, streaming_steps, kernel_sets, repeats, clock,
                                            torch)
            emit(cell, f"1,{streaming_steps},{STREAM_FEATURES},{STREAM_UNITS}", what, unit, t)
        for shape in memory_shapes:
            who = list(kernel_sets) + (["torch"] if torch is not None else [])
            emit(cell, ",".join(map(str, shape)), "training step peak memory", "MiB",
                 measure_memory(cell, shape, who, threads, notes))
    min_rows = min_cells.table(mins, shapes, kernel_sets, repeats, threads, clock, torch, peak,
                               memory_shapes, notes, stream, gap=bool(cells)) if mins else []
    end = f"load average {_load()} at the end"
    print(f"\n# {end}", file=stream)
    for note in sorted(notes):
        print(f"# note: {note}", file=stream)
    block = [f"- {line}" for line in header + [end]]
    block += [f"- note: {note}" for note in sorted(notes)]
    text = write_tables(out, "rnnkit bench", block, table, min_rows)   # see bench/page.py
    if out:
        print(f"# table written to {out}", file=stream)
    return text


def add_arguments(p, default_out=os.path.join("docs", "benchmarks.md")):
    """The options of ``rnnkit bench`` and ``benchmarks/bench_recurrent.py``."""
    p.add_argument("--procs", action="store_true",
                   help="the public API (train_on_batch, predict_on_batch) against torch and "
                        "onnxruntime, each competitor in its own process, wall time at each "
                        "of --threads (default 1,2,all cores), with the scaling (see "
                        "rnnkit.bench.procs)")
    p.add_argument("--shapes", default="all", metavar="all|B,T,I,H",
                   help="'all': the five standard shapes; or batch,time,features,units "
                        "(several separated by ';') (default: %(default)s)")
    p.add_argument("--cells", default=None, metavar="LIST",
                   help="comma list of lstm, gru, rnn, mingru, minlstm (default: lstm,gru,rnn; "
                        "with --procs lstm,gru; mingru and minlstm get their own table, against "
                        "rnnkit's and torch's LSTM and GRU)")
    p.add_argument("--kernels", default="fast", metavar="LIST",
                   help="rnnkit kernel sets, comma list of fast, reference (default: "
                        "%(default)s)")
    p.add_argument("--repeats", type=int, default=15, metavar="N",
                   help="timed rounds per row; the table gives medians (default: %(default)s)")
    p.add_argument("--threads", default=None, metavar="N",
                   help="threads for everyone: torch, onnxruntime, rnnkit, BLAS (default: all "
                        "cores); with --procs a comma list, 'all' for the usable cores "
                        "(default: 1,2,all)")
    p.add_argument("--cpu-time", action="store_true",
                   help="time the calling thread's CPU time (meaningful with --threads 1)")
    p.add_argument("--steps", type=int, default=100, metavar="N",
                   help="single steps per timed streaming call; 0 skips streaming "
                        "(default: %(default)s)")
    p.add_argument("--memory-shape", default=None, metavar="B,T,I,H",
                   help="shape(s, separated by ';') of the training-step peak-memory rows "
                        "(default: "
                        f"{','.join(map(str, MEMORY_SHAPE))}; with --quick the quick shape)")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the peak-memory rows (each needs a fresh process per competitor)")
    p.add_argument("--quick", action="store_true",
                   help="one small shape, 3 repeats, 20 streaming steps: a few seconds")
    p.add_argument("--out", default=default_out, metavar="FILE",
                   help="write the Markdown table there, as its own section of the page (the "
                        "other table and the text around stay) (default: %(default)s)")
    p.add_argument("--no-write", action="store_true", help="print only, write no file")


def _run_procs_args(args, shapes):
    from . import procs

    cells = parse_list(args.cells or "lstm,gru", tuple(procs.CELLS), "cells")
    threads = (procs.parse_threads(args.threads, _cores()) if args.threads is not None
               else procs.default_threads(_cores()))
    if args.cpu_time:
        raise ValueError("--cpu-time does not go with --procs (wall time of multithreaded "
                         "processes); use it for the single-thread kernel view")
    repeats = args.repeats
    if args.quick:
        shapes, repeats = [QUICK_SHAPE], min(repeats, 3)
    return procs.run_procs(shapes, cells, threads, repeats,
                           out=None if args.no_write else args.out)


def run_args(args):
    """Check the parsed options (ValueError on a bad one) and run."""
    shapes = parse_shapes(args.shapes)
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
    if args.procs:
        return _run_procs_args(args, shapes)
    cells = parse_list(args.cells or "lstm,gru,rnn", tuple(CELLS), "cells")
    kernel_sets = parse_list(args.kernels, KERNEL_SETS, "kernels")
    try:
        threads = int(args.threads) if args.threads is not None else 0
    except ValueError:
        raise ValueError(f"--threads: expected one integer (several only with --procs), got "
                         f"{args.threads!r}") from None
    if threads < 0:
        raise ValueError(f"--threads must be >= 0 (0: all cores), got {threads}")
    if args.steps < 0:
        raise ValueError(f"--steps must be >= 0, got {args.steps}")
    memory_shape = MEMORY_SHAPE
    if args.memory_shape is not None:
        memory_shape = [parse_one_shape(part, "memory-shape")
                        for part in args.memory_shape.split(";")]
    repeats, steps = args.repeats, args.steps
    if args.quick:
        shapes, repeats, steps = [QUICK_SHAPE], min(repeats, 3), min(steps, 20)
        if args.memory_shape is None:
            memory_shape = QUICK_SHAPE
    return run(shapes, cells, kernel_sets, repeats, threads=threads,
               cpu_time=args.cpu_time, streaming_steps=steps,
               out=None if args.no_write else args.out,
               memory_shape=None if args.no_memory else memory_shape)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        run_args(args)
    except ValueError as e:
        p.error(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
