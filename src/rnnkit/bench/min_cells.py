"""MinGRU and MinLSTM in ``rnnkit bench``: their own table, against LSTM and GRU.

    rnnkit bench --cells mingru,minlstm [--shapes "16,512,64,128;..."] [--threads 1 --cpu-time]
    rnnkit bench --procs --cells mingru,minlstm [--threads 1,2] [--shapes ...]

torch has no minGRU / minLSTM, and the question of issue 16 is how much faster a min cell
trains than rnnkit's own LSTM at the same units. So the min cells get a table of their own:
each shape (B, T, I, H) is timed in one round-robin of the min cells (every ``--kernels`` set)
and four peers of the same shape,

    rnnkit LSTM, rnnkit GRU     the same public layer API, the first ``--kernels`` set
    torch LSTM, torch GRU       nn.LSTM / nn.GRU (batch_first), as in the main table

and the ratio columns are *peer / min cell*: how many times faster the min cell is (above 1:
the min cell is faster). The issue's target, a MinGRU training step at T = 512 >= 10x faster
than rnnkit's LSTM, reads off the column "rnnkit LSTM / ...". The training FLOP rate of each
column counts its own cell's work (:func:`rnnkit.bench.runners.train_flops`: no recurrent
product for the min cells). onnxruntime: the min cells have no ONNX export; the column reads
``n/a`` and a note gives the exporter's reason (should an export appear, it is timed).

A structural bound: an LSTM step costs about (I + H)·4H multiply-adds per row, a MinGRU step
I·2H plus O(H) elementwise work, so the speed-up over LSTM is at most about 2(I + H)/I before
overheads (I = 64: 6x at H = 128, 18x at H = 512); the min cells win more with wide units.

Long sequences: one LSTM training step at T = 4096, H = 512 takes seconds, so a round-robin
runs fewer rounds (never under 3) when ``--repeats`` rounds would pass :data:`BUDGET_S`.
"""

import os
import tempfile

import numpy as np

from .memory import measure as measure_memory
from .page import fmt as _fmt
from .runners import (MIN_CELLS, _onnx_runner, _rnnkit_layer, _rnnkit_runner, _time_round_robin,
                      _torch_runners, train_flops)

PEERS = (("rnnkit LSTM", "rnnkit", "lstm"), ("rnnkit GRU", "rnnkit", "gru"),
         ("torch LSTM", "torch", "lstm"), ("torch GRU", "torch", "gru"))
BUDGET_S = 90.0                 # per round-robin (training or inference) of one shape


def split(cells):
    """(the min cells, the others) of ``cells``, each in the order given."""
    return [c for c in cells if c in MIN_CELLS], [c for c in cells if c not in MIN_CELLS]


def onnx_refusal(cell):
    """The exporter's reason why ``cell`` has no onnxruntime number, or None if it exports."""
    from ..io.onnx_export import export_onnx
    from ..layers.input_layer import Input
    from ..models.sequential import Sequential

    model = Sequential([Input((None, 3)), _rnnkit_layer(cell, 4, 3, return_sequences=True)])
    with tempfile.TemporaryDirectory(prefix="rnnkit-bench-") as d:
        try:
            export_onnx(model, os.path.join(d, "m.onnx"))
        except (NotImplementedError, ImportError) as e:
            return str(e).splitlines()[0]
    return None


def _cell_of(key):
    """The cell whose work a column does: ``(cell, kernels)`` or a peer's name."""
    return key[0] if isinstance(key, tuple) else {p[0]: p[2] for p in PEERS}[key]


def bench_min(cells, shape, kernel_sets, repeats, refused, threads, clock, torch=None,
              notes=None, budget_s=BUDGET_S):
    """[(what, unit, {key: median ms})]; keys ``(cell, kernels)``, ``(cell, "onnxruntime")``
    (when the cell exports) and the peers' names."""
    rng = np.random.default_rng(0)
    B, T, I, H = shape
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    dy = rng.standard_normal((B, T, H)).astype(np.float32)
    train, infer = {}, {}
    for cell in cells:
        for k in kernel_sets:
            train[(cell, k)], infer[(cell, k)] = _rnnkit_runner(cell, shape, k, x, dy)
        if refused.get(cell) is None:
            onnx = _onnx_runner(cell, shape, x, notes if notes is not None else set(), threads)
            if onnx is not None:
                infer[(cell, "onnxruntime")] = onnx
    for name, who, cell in PEERS:
        if who == "rnnkit":
            train[name], infer[name] = _rnnkit_runner(cell, shape, kernel_sets[0], x, dy)
        elif torch is not None:
            _, train[name], infer[name] = _torch_runners(torch, cell, shape, x, dy)
    return [(what, "ms", _time_round_robin(fns, repeats, clock=clock, budget_s=budget_s))
            for what, fns in (("training step", train), ("inference", infer))]


def header_line(cells, k0):
    """The line of the run's conditions that says how the min cells' table is made."""
    return (f"{', '.join(cells)}: their own table (torch has none), each shape timed in one "
            f"round-robin with rnnkit's LSTM and GRU ({k0} kernels) and torch's; ratio columns "
            f"there = peer / min cell (above 1: the min cell is faster); training FLOPs of a min "
            f"cell: 3*2*B*T*I*G*H + 5*B*T*H (G = 2 MinGRU, 3 MinLSTM; no recurrent product, the "
            f"scan's elementwise work)")


def _printer(stream, gap):
    """(rows, emit_line): each line kept in rows and printed as it comes."""
    rows = []
    if gap:
        print(file=stream)

    def emit_line(line):
        rows.append(line)
        print(line, file=stream, flush=True)
    return rows, emit_line


def head(kernel_sets):
    k0 = kernel_sets[0]
    return (["cell", "shape (B,T,I,H)", "what", "unit"] + [f"rnnkit {k}" for k in kernel_sets]
            + [p[0] for p in PEERS] + ["onnxruntime"] + [f"{p[0]} / {k0}" for p in PEERS])


def table(cells, shapes, kernel_sets, repeats, threads, clock, torch, peak, memory_shapes,
          notes, stream, gap=False):
    """The min cells' table (its lines), each row printed to ``stream`` as it comes."""
    rows, emit_line = _printer(stream, gap)
    k0 = kernel_sets[0]
    refused = {cell: onnx_refusal(cell) for cell in cells}
    for cell, why in refused.items():
        if why is not None:
            notes.add(f"onnxruntime n/a for {cell}: {why}")
    cols = head(kernel_sets)
    emit_line("| " + " | ".join(cols) + " |")
    emit_line("|" + "---|" * len(cols))

    def emit(cell, shape_text, what, unit, t, ratios=True, onnx=True):
        mine = t.get((cell, k0))
        row = [cell, shape_text, what, unit] + [_fmt(t.get((cell, k))) for k in kernel_sets]
        row += [_fmt(t.get(name)) for name, _, _ in PEERS]
        ort = t.get((cell, "onnxruntime"))
        row.append(_fmt(ort) if ort is not None else
                   "n/a" if onnx and refused.get(cell) is not None else "-")
        row += [_fmt(t[name] / mine if ratios and mine and t.get(name) is not None else None)
                for name, _, _ in PEERS]
        emit_line("| " + " | ".join(row) + " |")

    for shape in shapes:
        shape_text = ",".join(map(str, shape))
        for what, unit, t in bench_min(cells, shape, kernel_sets, repeats, refused, threads,
                                       clock, torch, notes):
            for cell in cells:
                emit(cell, shape_text, what, unit, t, onnx=(what == "inference"))
            if what == "training step":
                rate = {key: train_flops(_cell_of(key), shape) / (ms * 1e-3) / 1e9
                        for key, ms in t.items()}
                for cell in cells:
                    emit(cell, shape_text, "training FLOP rate", "GFLOP/s", rate, False, False)
                    emit(cell, shape_text, "training FLOP rate", "% of GEMM peak",
                         {k: 100.0 * v / peak for k, v in rate.items()}, False, False)
    for shape in memory_shapes:
        shape_text = ",".join(map(str, shape))
        who = [k0] + (["torch"] if torch is not None else [])
        peers = {}
        for cell in ("lstm", "gru"):
            got = measure_memory(cell, shape, who, threads, notes)
            peers[f"rnnkit {cell.upper()}"] = got.get(k0)
            peers[f"torch {cell.upper()}"] = got.get("torch")
        for cell in cells:
            got = measure_memory(cell, shape, kernel_sets, threads, notes)
            t = dict(peers)
            t.update({(cell, k): v for k, v in got.items()})
            emit(cell, shape_text, "training step peak memory", "MiB", t, onnx=False)
    return rows


# ---- rnnkit bench --procs --cells mingru,minlstm ---------------------------------------------
PROCS_LINE = ("mingru, minlstm (no torch version): the min cell's model as rnnkit's above, "
              "alternated with rnnkit's and torch's LSTM and GRU of the same shape, each in its "
              "own process; ratio columns = peer / min cell (above 1: the min cell is faster)")
PROCS_HEAD = (["cell", "shape (B,T,I,H)", "threads", "what", "rnnkit ms"]
              + [f"{p[0]} ms" for p in PEERS] + ["onnxruntime ms"]
              + [f"{p[0]} / rnnkit" for p in PEERS] + ["scaling rnnkit"])


def procs_table(cells, shapes, threads_list, repeats, whos, notes, infos, pause, stream,
                measure, kinds, gap=False):
    """The min cells' ``--procs`` table (its lines, printed as they come): each min cell and
    each peer in its own process (entries ``(label, library, cell)`` of ``measure``,
    :func:`rnnkit.bench.procs.measure`, handed in with its ``kinds``: no import cycle)."""
    rows, emit_line = _printer(stream, gap)
    entries = [(cell, "rnnkit", cell) for cell in cells]
    entries += [p for p in PEERS if p[1] in whos]
    refused = {}
    for cell in cells:
        refused[cell] = onnx_refusal(cell)
        if refused[cell] is not None:
            notes.add(f"onnxruntime n/a for {cell}: {refused[cell]}")
        elif "onnxruntime" in whos:
            entries.append((f"{cell} onnxruntime", "onnxruntime", cell))
    emit_line("| " + " | ".join(PROCS_HEAD) + " |")
    emit_line("|" + "---|" * len(PROCS_HEAD))
    for shape in shapes:
        ones = None
        for threads in threads_list:
            got = measure(None, shape, threads, entries, repeats, notes, infos, pause)
            if threads == 1:
                ones = got
            for kind, what in kinds:
                t, t1 = got[kind], (ones or {}).get(kind) or {}
                for cell in cells:
                    mine = t.get(cell)
                    ort = t.get(f"{cell} onnxruntime")
                    row = [cell, ",".join(map(str, shape)), str(threads), what, _fmt(mine)]
                    row += [_fmt(t.get(name)) for name, _, _ in PEERS]
                    row.append(_fmt(ort) if ort is not None else
                               "n/a" if kind == "infer" and refused[cell] else "-")
                    row += [_fmt(t[name] / mine if mine and t.get(name) is not None else None)
                            for name, _, _ in PEERS]
                    row.append(_fmt(mine / t1[cell] if mine and t1.get(cell) else None))
                    emit_line("| " + " | ".join(row) + " |")
    return rows
