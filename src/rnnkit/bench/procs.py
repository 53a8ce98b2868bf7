"""``rnnkit bench --procs``: the public API, each competitor in its own process, at several
thread counts.

    rnnkit bench --procs [--threads 1,2,<all cores>] [--shapes all | B,T,I,H[;...]]
                 [--cells lstm,gru] [--repeats N] [--out docs/benchmarks.md | --no-write]

What a user measures: the wall time of one training step and one inference pass through the
public API, float32, of the model of issue 11::

    rnnkit       Sequential([Input((T, I)), LSTM(H, return_sequences=True)]), compiled with
                 SGD(learning_rate=0.01) and "mse": model.train_on_batch(x, y) and
                 model.predict_on_batch(x)
    torch        nn.LSTM(I, H, batch_first=True), nn.MSELoss(), torch.optim.SGD(lr=0.01):
                 zero_grad, forward, loss, backward, step; inference under inference_mode
    onnxruntime  the same rnnkit model written by model.export_onnx, run by an
                 InferenceSession (inference only)

(GRU alike.) How:

1. Every competitor runs in its own Python process, started fresh for each (cell, shape,
   threads), with its thread count set as a user would: ``RNNKIT_NUM_THREADS`` and
   ``rnnkit.config.set_num_threads(n)`` (or the fast kernels' ``set_num_threads`` where the
   library has no policy yet) for rnnkit; ``torch.set_num_threads(n)`` for torch;
   ``intra_op_num_threads = n`` for onnxruntime; and ``OMP_NUM_THREADS``,
   ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` = n in every child's environment. So no
   competitor's thread pool lives in another's process (in one process torch's OpenMP workers
   spin between its calls and slow the others down).
2. Each process builds its model and data (the same random x and y), warms up (two training
   steps and two inference passes: compiled code loaded, buffers made), says it is ready and
   waits on its stdin; idle, it uses no CPU.
3. The parent alternates: in each round every competitor times one call in turn (the order
   rotates from round to round), with a short pause between competitors so that a pool that
   spins after its call has stopped before the next one starts. Times are medians over
   ``--repeats`` rounds, wall clock (``time.perf_counter`` around the call, in the child).
4. The table gives, per cell, shape and thread count, the milliseconds of each competitor, the
   ratios rnnkit / torch and rnnkit / onnxruntime (below 1: rnnkit is faster), and each
   competitor's scaling: its time at N threads / its own time at 1 thread (below 1: the
   threads pay). The load average at the start and the end and the machine are printed with
   it: on a loaded machine, multithreaded wall times mean little.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from .page import fmt as _fmt

COMPETITORS = ("rnnkit", "torch", "onnxruntime")
KINDS = (("train", "training step"), ("infer", "inference"))
CELLS = {"lstm": ("rnnkit.layers.lstm", "LSTM", "LSTM"), "gru": ("rnnkit.layers.gru", "GRU", "GRU"),
         "mingru": ("rnnkit.layers.min_rnn", "MinGRU", None),       # torch has none: their
         "minlstm": ("rnnkit.layers.min_rnn", "MinLSTM", None)}     # table is min_cells.py's
LEARNING_RATE = 0.01
PAUSE_S = 0.25                  # between two competitors' calls: spinning pools go to sleep
#                                 (OpenBLAS workers spin ~0.1 s, onnxruntime's pool longer)


# ---- the child process -----------------------------------------------------------------------
def _data(shape):
    B, T, I, H = shape
    rng = np.random.default_rng(0)
    return (rng.standard_normal((B, T, I)).astype(np.float32),
            rng.standard_normal((B, T, H)).astype(np.float32))


def _rnnkit_model(cell, shape):
    import importlib

    from ..layers.input_layer import Input
    from ..models.sequential import Sequential
    from ..training.optimizers import SGD

    B, T, I, H = shape
    module, name, _ = CELLS[cell]
    layer = getattr(importlib.import_module(module), name)(H, return_sequences=True)
    model = Sequential([Input((T, I)), layer])
    model.compile(optimizer=SGD(learning_rate=LEARNING_RATE), loss="mse")
    return model


def _threads(n):
    return f"{n} thread" if n == 1 else f"{n} threads"


def _rnnkit_threads(n):
    """rnnkit's thread policy: ``rnnkit.config.set_num_threads`` where the library has it,
    and the fast kernels' own setting (``RNNKIT_NUM_THREADS`` is set in the environment);
    returns what the process then reports."""
    from .. import config
    from ..kernels import dispatch

    if hasattr(config, "set_num_threads"):
        config.set_num_threads(n)
    if not dispatch.fast_available() or dispatch.mode() == "reference":
        return "NumPy reference kernels"
    from ..kernels.fast import common

    if hasattr(common, "set_num_threads"):
        common.set_num_threads(n)
    got = config.get_num_threads() if hasattr(config, "get_num_threads") else \
        common.num_threads()
    return f"compiled kernels, {_threads(got)}"


def _runners(who, cell, shape, threads):
    """(train or None, infer, description) for one competitor."""
    x, y = _data(shape)
    B, T, I, H = shape
    if who == "rnnkit":
        import rnnkit

        info = {"version": f"rnnkit {rnnkit.__version__}" if hasattr(rnnkit, "__version__")
                else "rnnkit", "threads": _rnnkit_threads(threads)}
        model = _rnnkit_model(cell, shape)
        return (lambda: model.train_on_batch(x, y)), (lambda: model.predict_on_batch(x)), info
    if who == "torch":
        import torch

        torch.set_num_threads(threads)
        module = getattr(torch.nn, CELLS[cell][2])(I, H, batch_first=True)
        loss_fn = torch.nn.MSELoss()
        opt = torch.optim.SGD(module.parameters(), lr=LEARNING_RATE)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def train():
            opt.zero_grad()
            out, _ = module(xt)
            loss = loss_fn(out, yt)
            loss.backward()
            opt.step()
            return loss.item()

        def infer():
            with torch.inference_mode():
                return module(xt)[0]

        return train, infer, {"version": f"torch {torch.__version__}",
                              "threads": _threads(torch.get_num_threads())}
    import onnxruntime as ort

    path = os.path.join(tempfile.mkdtemp(prefix="rnnkit-procs-"), "model.onnx")
    _rnnkit_model(cell, shape).export_onnx(path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feed = {"input": x}
    return None, (lambda: sess.run(None, feed)), {
        "version": f"onnxruntime {ort.__version__}",
        "threads": f"intra_op {_threads(opts.intra_op_num_threads)}"}


def child_main(argv):
    """A competitor's process: build, warm up, print ``ready``, then time one call per line
    read on stdin (``train`` / ``infer``), answering with the milliseconds; ``exit`` ends."""
    spec = json.loads(argv[0])
    train, infer, info = _runners(spec["who"], spec["cell"], tuple(spec["shape"]),
                                  spec["threads"])
    calls = {"train": train, "infer": infer}
    for fn in (train, train, infer, infer):
        if fn is not None:
            fn()
    print(json.dumps({"ready": True, "info": info}), flush=True)
    for line in sys.stdin:
        kind = line.strip()
        if kind == "exit":
            break
        t0 = time.perf_counter()
        calls[kind]()
        print(json.dumps({"ms": (time.perf_counter() - t0) * 1e3}), flush=True)
    return 0


# ---- the parent ------------------------------------------------------------------------------
def child_env(threads):
    """The environment of a competitor's process with ``threads`` threads everywhere."""
    n = str(threads)
    return dict(os.environ, RNNKIT_NUM_THREADS=n, OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n,
                MKL_NUM_THREADS=n)


class Competitor:
    """One competitor's process (see :func:`child_main`)."""

    def __init__(self, who, cell, shape, threads, label=None):
        self.who, self.lib = label or who, who
        spec = json.dumps({"who": who, "cell": cell, "shape": list(shape), "threads": threads})
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rnnkit.bench.procs", "--child", spec],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, text=True,
            env=child_env(threads))
        self.info = None

    def _answer(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self._err.seek(0)
            lines = self._err.read().strip().splitlines() or ["no output"]
            raise RuntimeError(f"{self.who} failed: {lines[-1][:200]}")
        return json.loads(line)

    def ready(self):
        self.info = self._answer()["info"]

    def call(self, kind):
        self.proc.stdin.write(kind + "\n")
        self.proc.stdin.flush()
        return self._answer()["ms"]

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("exit\n")
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait()
        self._err.close()


def available(notes):
    """The competitors whose libraries are installed (a note for each missing one)."""
    import importlib.util

    whos = ["rnnkit"]
    if importlib.util.find_spec("torch") is not None:
        whos.append("torch")
    else:
        notes.add("torch is not installed: no torch columns (pip install torch)")
    if all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime")):
        whos.append("onnxruntime")
    else:
        notes.add("onnx or onnxruntime is not installed: no onnxruntime column "
                  "(pip install onnx onnxruntime)")
    return whos


def measure(cell, shape, threads, whos, repeats, notes, infos=None, pause=PAUSE_S):
    """``{"train": {who: median ms}, "infer": {...}}`` for one cell, shape and thread count;
    ``whos``: libraries, or ``(label, library, cell)`` (times keyed by label: min_cells.py)."""
    procs, out = [], {kind: {} for kind, _ in KINDS}
    try:
        for w in whos:
            label, who, c = w if isinstance(w, tuple) else (w, w, cell)
            procs.append(Competitor(who, c, shape, threads, label))
        live = []
        for p in procs:
            try:
                p.ready()
                live.append(p)
                if infos is not None:
                    infos.setdefault(threads, {})[p.lib] = p.info
            except RuntimeError as e:
                notes.add(f"{cell} {shape} {threads} threads: {e}")
        for kind, _ in KINDS:
            runners = [p for p in live if kind == "infer" or p.lib != "onnxruntime"]
            times = {p.who: [] for p in runners}
            for r in range(repeats):
                k = r % len(runners) if runners else 0
                for p in runners[k:] + runners[:k]:         # the order rotates every round
                    if p.proc.poll() is not None:
                        continue                            # died earlier (noted)
                    try:
                        times[p.who].append(p.call(kind))
                    except (RuntimeError, OSError, ValueError) as e:
                        notes.add(f"{cell} {shape} {threads} threads: {e}")
                    time.sleep(pause)
            out[kind] = {who: statistics.median(v) for who, v in times.items() if v}
    finally:
        for p in procs:
            p.close()
    return out


# ---- the table -------------------------------------------------------------------------------
def default_threads(cores):
    """1, 2 and all usable cores (sorted, once each)."""
    return sorted({1, 2, cores})


def parse_threads(text, cores):
    """``'1,2,16'`` (``all``: the usable cores) -> sorted thread counts; else ValueError."""
    out = set()
    for part in (text or "").split(","):
        part = part.strip().lower()
        try:
            n = cores if part == "all" else int(part)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"--threads: expected a comma list of positive integers or "
                             f"'all' (with --procs), got {text!r}")
        out.add(n)
    return sorted(out)


HEAD = ["cell", "shape (B,T,I,H)", "threads", "what", "rnnkit ms", "torch ms",
        "onnxruntime ms", "rnnkit/torch", "rnnkit/onnxruntime", "scaling rnnkit",
        "scaling torch", "scaling onnxruntime"]


def row(cell, shape, threads, what, t, t1):
    """A table row from ``t`` ({who: ms}) and ``t1`` (the same at 1 thread, or None)."""
    def ratio(a, b):
        return a / b if a is not None and b else None

    r = t.get("rnnkit")
    cells = [cell, ",".join(map(str, shape)), str(threads), what]
    cells += [_fmt(t.get(who)) for who in COMPETITORS]
    cells += [_fmt(ratio(r, t.get("torch"))), _fmt(ratio(r, t.get("onnxruntime")))]
    cells += [_fmt(ratio(t.get(who), (t1 or {}).get(who))) for who in COMPETITORS]
    return "| " + " | ".join(cells) + " |"


def run_procs(shapes, cells, threads_list, repeats, out=None, stream=None, pause=PAUSE_S):
    """Measure, print the header and the table to ``stream`` as rows finish, write the
    section to ``out`` when given; returns the section's text."""
    from . import _cores, _cpu_flags, _cpu_name, _load, _numba_version, min_cells
    from .page import write_tables

    stream = stream or sys.stdout
    notes, infos = set(), {}
    mins, cells = min_cells.split(cells)
    cores = _cores()
    whos = available(notes)
    if max(threads_list) > cores:
        notes.add(f"{max(threads_list)} threads on {cores} usable cores: oversubscribed, "
                  f"those rows mean little")
    header = [
        f"rnnkit bench --procs: wall time of one call through the public API, each competitor "
        f"in its own process, float32, medians of {repeats} alternated rounds after warm-up; "
        f"ratio = rnnkit / peer (below 1: rnnkit is faster); scaling = time at N threads / "
        f"the same competitor's time at 1 thread (below 1: the threads pay)",
        f"CPU: {_cpu_name()} ({_cpu_flags()}), {cores} usable cores, {os.cpu_count()} logical "
        f"CPUs; load average {_load()} at start",
        "training step: rnnkit Sequential([Input((T, I)), LSTM/GRU(H, return_sequences=True)]) "
        f"+ 'mse' + SGD({LEARNING_RATE}), model.train_on_batch(x, y); torch nn.LSTM/GRU "
        f"(batch_first) + MSELoss + SGD({LEARNING_RATE}): zero_grad, forward, loss, backward, "
        "step",
        "inference: rnnkit model.predict_on_batch(x); torch forward under inference_mode; "
        "onnxruntime: the rnnkit model written by model.export_onnx, InferenceSession.run",
        "threads n: rnnkit RNNKIT_NUM_THREADS=n and set_num_threads(n), torch "
        "set_num_threads(n), onnxruntime intra_op_num_threads=n (inter_op 1); "
        "OMP/OPENBLAS/MKL_NUM_THREADS=n in every process",
    ]
    header += [min_cells.PROCS_LINE] if mins else []
    table = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)] if cells else []
    for line in header:
        print(f"# {line}", file=stream)
    print(file=stream)
    for line in table:
        print(line, file=stream, flush=True)
    for cell in cells:
        for shape in shapes:
            ones = None
            for threads in threads_list:
                got = measure(cell, shape, threads, whos, repeats, notes, infos, pause)
                if threads == 1:
                    ones = got
                for kind, what in KINDS:
                    table.append(row(cell, shape, threads, what, got[kind],
                                     ones[kind] if ones else None))
                    print(table[-1], file=stream, flush=True)
    min_rows = min_cells.procs_table(mins, shapes, threads_list, repeats, whos, notes, infos,
                                     pause, stream, measure, KINDS, bool(cells)) if mins else []
    seen = {who: info for by_who in infos.values() for who, info in by_who.items()}
    versions = [seen[w]["version"] for w in COMPETITORS if w in seen]
    tail = [f"versions: {', '.join(versions + [f'numpy {np.__version__}'])}, numba "
            f"{_numba_version()}"]
    tail += [f"threads reported by the processes at {n}: " +
             ", ".join(f"{w} {info['threads']}" for w, info in infos[n].items())
             for n in sorted(infos)]
    tail.append(f"load average {_load()} at the end")
    print(file=stream)
    for line in tail:
        print(f"# {line}", file=stream)
    for note in sorted(notes):
        print(f"# note: {note}", file=stream)
    block = [f"- {line}" for line in header + tail] + [f"- note: {n}" for n in sorted(notes)]
    text = write_tables(out, "rnnkit bench --procs", block, table, min_rows)
    if out:
        print(f"# table written to {out}", file=stream)
    return text


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child_main(sys.argv[2:]))
    sys.exit("usage: rnnkit bench --procs (this module's --child is for its own processes)")
