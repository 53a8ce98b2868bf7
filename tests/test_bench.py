"""``rnnkit bench`` run as a user would (subprocess): the quick run prints a table with a header
row and ratios, the training FLOP rate against a measured GEMM peak and the peak memory of a
training step, and writes the Markdown file; ``--help`` lists every option; a bad ``--shapes``
is one line on stderr. No timing is asserted (the machine is shared and noisy): only that the
rows exist and their numbers parse and are positive."""

import re

import os
import subprocess
import sys

import pytest

from rnnkit.bench import SHAPES, parse_shapes
from rnnkit.bench.runners import train_flops


def rnnkit(*args, cwd=None):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "rnnkit", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env)


def test_quick_prints_a_table_and_writes_the_file(tmp_path):
    out = tmp_path / "benchmarks.md"
    r = rnnkit("bench", "--quick", "--out", str(out), "--cells", "lstm,gru", "--no-memory")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    head = next(line for line in lines if line.startswith("| cell |"))
    assert "rnnkit fast" in head and "torch" in head and "fast/torch" in head
    rows = [line for line in lines if line.startswith("| lstm ") or line.startswith("| gru ")]
    whats = {row.split("|")[3].strip() for row in rows}
    assert whats == {"training step", "training FLOP rate", "inference", "streaming"}
    assert len(rows) == 10
    assert "peak memory" not in r.stdout                      # --no-memory
    cols = [c.strip() for c in head.strip("|").split("|")]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if cells[2] == "training FLOP rate":
            assert cells[3] in ("GFLOP/s", "% of GEMM peak")
            for name in ("rnnkit fast", "torch"):
                assert float(cells[cols.index(name)]) > 0
            assert cells[cols.index("fast/torch")] == "-"     # a rate has no time ratio
        else:
            float(cells[cols.index("fast/torch")])            # a number, not "-": torch is here
    peak = re.search(r"# GEMM peak: ([0-9.]+) GFLOP/s", r.stdout)
    assert peak and float(peak.group(1)) > 0
    assert "# CPU:" in r.stdout and "threads:" in r.stdout and "BLAS" in r.stdout
    text = out.read_text()
    assert head in text and all(row in text for row in rows)
    assert "noisy" in text


def test_no_write(tmp_path):
    r = rnnkit("bench", "--quick", "--cells", "rnn", "--no-write", "--no-memory", "--threads",
               "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "| rnn |" in r.stdout
    assert not (tmp_path / "docs").exists()


def test_help_is_complete():
    r = rnnkit("bench", "--help")
    assert r.returncode == 0
    for opt in ("--shapes", "--cells", "--repeats", "--threads", "--kernels", "--quick",
                "--out", "--no-write", "--cpu-time", "--steps", "--memory-shape",
                "--no-memory", "--procs"):
        assert opt in r.stdout, opt
    assert "bench" in rnnkit("--help").stdout


@pytest.mark.parametrize("args", [["--shapes", "1,2,3"], ["--shapes", "a,b,c,d"],
                                  ["--shapes", "1,2,3,0"], ["--cells", "lstm,transformer"],
                                  ["--kernels", "turbo"], ["--repeats", "0"],
                                  ["--memory-shape", "16,500,64"], ["--threads", "1,2"],
                                  ["--procs", "--threads", "0"], ["--procs", "--threads", "1,x"],
                                  ["--procs", "--cpu-time"], ["--procs", "--cells", "rnn"],
                                  ["--procs", "--shapes", "1,2,3"], ["--cells", "mingru,minrnn"],
                                  ["--memory-shape", "16,500,64,128;2,3"]])
def test_bad_options_are_one_line(args, tmp_path):
    r = rnnkit("bench", *args, "--no-write", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("rnnkit bench: error:") and "Traceback" not in r.stderr


def test_parse_shapes():
    assert parse_shapes("all") == SHAPES
    assert parse_shapes("2,3,4,5; 1,1,1,1") == [(2, 3, 4, 5), (1, 1, 1, 1)]
    with pytest.raises(ValueError, match="B,T,I,H"):
        parse_shapes("2,3,4")


def test_without_torch_rnnkit_times_only(tmp_path):
    """torch hidden from the import system: rnnkit's rows, and a note that torch is missing."""
    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnxruntime'] = None\n"
            "from rnnkit.bench import main\n"
            "main(['--quick', '--cells', 'rnn', '--no-write', '--no-memory'])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "torch is not installed" in r.stdout
    assert "| rnn | 4,20,16,32 | inference |" in r.stdout


def test_peak_memory_row_for_rnnkit_and_torch(tmp_path):
    """Each competitor measured in its own process at --memory-shape: positive MiB for both and
    a memory ratio; the method is described in the header."""
    r = rnnkit("bench", "--quick", "--cells", "lstm", "--steps", "0", "--memory-shape",
               "8,100,16,64", "--threads", "1", "--no-write", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    head = next(line for line in r.stdout.splitlines() if line.startswith("| cell |"))
    cols = [c.strip() for c in head.strip("|").split("|")]
    row = next(line for line in r.stdout.splitlines()
               if line.startswith("| lstm ") and "training step peak memory" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "8,100,16,64" and cells[3] == "MiB"
    fast, torch = float(cells[cols.index("rnnkit fast")]), float(cells[cols.index("torch")])
    assert fast > 0 and torch > 0
    assert float(cells[cols.index("fast/torch")]) > 0
    assert "# training step peak memory:" in r.stdout and "fresh process" in r.stdout
    assert "note: peak memory not measured" not in r.stdout


def test_train_flops_counts_the_products_of_forward_and_backward():
    # LSTM: 24*B*T*(I+H)*H = 24*2*3*(4+5)*5
    assert train_flops("lstm", (2, 3, 4, 5)) == 6480
    assert train_flops("gru", (2, 3, 4, 5)) == 6480 // 4 * 3
    assert train_flops("rnn", (2, 3, 4, 5)) == 6480 // 4
    # the forward's products, counted one by one: x W_ih over all steps, h W_hh at each step
    B, T, I, H = 16, 500, 64, 128
    forward = 2 * (B * T) * I * (4 * H) + T * 2 * B * H * (4 * H)
    assert train_flops("lstm", (B, T, I, H)) == 3 * forward


# ---- rnnkit bench --procs -------------------------------------------------------------------

def test_procs_thread_lists():
    from rnnkit.bench.procs import default_threads, parse_threads

    assert default_threads(16) == [1, 2, 16] and default_threads(2) == [1, 2]
    assert default_threads(1) == [1, 2]
    assert parse_threads("1,2,all", 8) == [1, 2, 8] and parse_threads(" 4, 1,4", 8) == [1, 4]
    for bad in ("0", "1,two", "", "-1"):
        with pytest.raises(ValueError, match="--threads"):
            parse_threads(bad, 8)


def test_procs_arguments_reach_the_run(monkeypatch):
    """What --procs hands to run_procs: LSTM and GRU, 1, 2 and all cores by default; the
    kernel view's options keep their meaning without --procs."""
    import argparse

    import rnnkit.bench as bench_module
    from rnnkit.bench import add_arguments, procs, run_args

    seen = {}
    monkeypatch.setattr(procs, "run_procs", lambda *a, **k: seen.update(args=a, kw=k))
    monkeypatch.setattr(bench_module, "_cores", lambda: 16)
    p = argparse.ArgumentParser()
    add_arguments(p)
    run_args(p.parse_args(["--procs"]))
    shapes, cells, threads, repeats = seen["args"]
    assert shapes == SHAPES and cells == ["lstm", "gru"] and threads == [1, 2, 16]
    assert repeats == 15 and seen["kw"]["out"].endswith("benchmarks.md")
    run_args(p.parse_args(["--procs", "--shapes", "2,5,3,4", "--threads", "all,1",
                           "--cells", "gru", "--repeats", "2", "--no-write"]))
    assert seen["args"] == ([(2, 5, 3, 4)], ["gru"], [1, 16], 2) and seen["kw"]["out"] is None


def test_procs_tiny_run_prints_and_writes_the_table(tmp_path):
    """A real run at a tiny shape, one thread: every competitor in its own process, the
    machine and the load named, one row per kind, numbers where each competitor has one."""
    from rnnkit.bench.procs import HEAD

    out = tmp_path / "benchmarks.md"
    out.write_text("# rnnkit benchmarks\n\nhand-written text\n\n<!-- begin: rnnkit bench -->\n"
                   "kernel table\n<!-- end: rnnkit bench -->\n")
    r = rnnkit("bench", "--procs", "--shapes", "2,5,3,4", "--repeats", "1", "--threads", "1",
               "--cells", "lstm", "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.search(r"^# CPU: .+, \d+ usable cores.*load average [0-9.]+ [0-9.]+ [0-9.]+ at "
                     r"start$", r.stdout, re.M)
    assert re.search(r"^# load average [0-9.]+ [0-9.]+ [0-9.]+ at the end$", r.stdout, re.M)
    assert "own process" in r.stdout and "train_on_batch" in r.stdout
    head = next(line for line in lines if line.startswith("| cell |"))
    assert [c.strip() for c in head.strip("|").split("|")] == HEAD
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in lines if line.startswith("| lstm |")]
    assert [row[:4] for row in rows] == [["lstm", "2,5,3,4", "1", "training step"],
                                         ["lstm", "2,5,3,4", "1", "inference"]]
    col = {name: i for i, name in enumerate(HEAD)}
    train, infer = rows
    assert float(train[col["rnnkit ms"]]) > 0 and float(train[col["torch ms"]]) > 0
    assert float(train[col["rnnkit/torch"]]) > 0 and train[col["onnxruntime ms"]] == "-"
    for name in ("rnnkit ms", "torch ms", "onnxruntime ms", "rnnkit/torch",
                 "rnnkit/onnxruntime"):
        assert float(infer[col[name]]) > 0, name
    assert train[col["scaling rnnkit"]] == infer[col["scaling onnxruntime"]] == "1.00"
    assert "# threads reported by the processes at 1: rnnkit compiled kernels, 1 thread," \
        in r.stdout or "rnnkit NumPy reference kernels" in r.stdout
    text = out.read_text()
    assert text.startswith("# rnnkit benchmarks\n\nhand-written text")      # kept
    assert "<!-- begin: rnnkit bench -->\nkernel table\n<!-- end: rnnkit bench -->" in text
    assert text.count("<!-- begin: rnnkit bench --procs -->") == 1 and head in text


def test_sections_replace_only_their_own(tmp_path):
    from rnnkit.bench.page import write_section

    page = tmp_path / "b.md"
    write_section(str(page), "rnnkit bench", "kernels one")
    assert page.read_text().startswith("# rnnkit benchmarks") and "noisy" in page.read_text()
    write_section(str(page), "rnnkit bench --procs", "procs one")
    page.write_text(page.read_text().replace("procs one", "procs one") + "\ntail text\n")
    write_section(str(page), "rnnkit bench", "kernels two")
    write_section(str(page), "rnnkit bench --procs", "procs two")
    text = page.read_text()
    assert "kernels two" in text and "procs two" in text and "tail text" in text
    assert "one" not in text and text.count("<!-- end: rnnkit bench") == 2
    assert text.index("kernels two") < text.index("procs two") < text.index("tail text")


# ---- MinGRU and MinLSTM: their own table, against rnnkit's and torch's LSTM / GRU -----------

def _min_rows(stdout, head_start):
    lines = stdout.splitlines()
    head = next(line for line in lines if line.startswith(head_start) and "rnnkit LSTM" in line)
    cols = [c.strip() for c in head.strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines
            if line.startswith("| mingru |") or line.startswith("| minlstm |")]
    return head, cols, rows


def test_min_cells_kernel_view_rows_peers_memory_and_onnx_na(tmp_path):
    """--cells mingru,minlstm: per cell, training step, FLOP rates, inference and peak memory;
    positive times for the min cell and its four peers (rnnkit's and torch's LSTM and GRU),
    peer / min ratios; onnxruntime n/a with the exporter's reason; the table in its own
    section of the page, the main table's section left alone."""
    out = tmp_path / "benchmarks.md"
    out.write_text("# rnnkit benchmarks\n\n<!-- begin: rnnkit bench -->\nkernel table\n"
                   "<!-- end: rnnkit bench -->\n")
    r = rnnkit("bench", "--quick", "--cells", "mingru,minlstm", "--steps", "0", "--threads", "1",
               "--memory-shape", "8,100,16,64", "--out", str(out))
    assert r.returncode == 0, r.stderr
    head, cols, rows = _min_rows(r.stdout, "| cell |")
    peers = ["rnnkit LSTM", "rnnkit GRU", "torch LSTM", "torch GRU"]
    assert cols == (["cell", "shape (B,T,I,H)", "what", "unit", "rnnkit fast"] + peers
                    + ["onnxruntime"] + [f"{p} / fast" for p in peers])
    assert "| cell | shape (B,T,I,H) | what | unit | rnnkit fast | torch |" not in r.stdout
    for cell in ("mingru", "minlstm"):
        mine = [row for row in rows if row[0] == cell]
        assert [(row[2], row[3]) for row in mine] == [
            ("training step", "ms"), ("training FLOP rate", "GFLOP/s"),
            ("training FLOP rate", "% of GEMM peak"), ("inference", "ms"),
            ("training step peak memory", "MiB")]
        for row in mine:
            for name in ["rnnkit fast"] + peers:
                assert float(row[cols.index(name)]) > 0, (row, name)
            for name in peers:
                ratio = row[cols.index(f"{name} / fast")]
                if row[2] == "training FLOP rate":
                    assert ratio == "-"                     # a rate has no time ratio
                else:
                    assert float(ratio) > 0, (row, name)
            onnx = row[cols.index("onnxruntime")]
            assert onnx == ("n/a" if row[2] == "inference" else "-"), row
        assert mine[-1][1] == "8,100,16,64"
        assert re.search(rf"^# note: onnxruntime n/a for {cell}: .*(no ONNX export|onnx)",
                         r.stdout, re.M)
    assert "note: peak memory not measured" not in r.stdout
    text = out.read_text()
    assert "<!-- begin: rnnkit bench -->\nkernel table\n<!-- end: rnnkit bench -->" in text
    assert text.count("<!-- begin: rnnkit bench, MinGRU and MinLSTM -->") == 1
    assert "## MinGRU and MinLSTM" in text and head in text


def test_min_cells_procs_each_in_its_own_process(tmp_path):
    """--procs --cells mingru: the min cell and its peers each in a process, one row per kind,
    onnxruntime n/a (with the reason) for inference, its own section of the page."""
    from rnnkit.bench.min_cells import PROCS_HEAD

    out = tmp_path / "benchmarks.md"
    r = rnnkit("bench", "--procs", "--cells", "lstm,mingru", "--shapes", "2,5,3,4", "--repeats",
               "1", "--threads", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    head, cols, rows = _min_rows(r.stdout, "| cell |")
    assert cols == PROCS_HEAD
    assert [row[:4] for row in rows] == [["mingru", "2,5,3,4", "1", "training step"],
                                         ["mingru", "2,5,3,4", "1", "inference"]]
    for row in rows:
        for name in ("rnnkit ms", "rnnkit LSTM ms", "rnnkit GRU ms", "torch LSTM ms",
                     "torch GRU ms", "rnnkit LSTM / rnnkit", "torch GRU / rnnkit"):
            assert float(row[cols.index(name)]) > 0, (row, name)
        assert row[cols.index("scaling rnnkit")] == "1.00"
    assert [row[cols.index("onnxruntime ms")] for row in rows] == ["-", "n/a"]
    assert "note: onnxruntime n/a for mingru:" in r.stdout
    assert "| lstm | 2,5,3,4 | 1 | inference |" in r.stdout        # the main table too
    text = out.read_text()
    assert text.count("<!-- begin: rnnkit bench --procs -->") == 1
    assert text.count("<!-- begin: rnnkit bench --procs, MinGRU and MinLSTM -->") == 1
    assert head in text


def test_train_flops_of_the_min_cells_have_no_recurrent_product():
    B, T, I, H = 16, 512, 64, 128
    # projection x W (I, 2H) or (I, 3H): forward 2*B*T*I*GH, backward twice that; the scan
    # h_t = a_t h_{t-1} + b_t: 2 FLOPs per element forward, 3 backward
    assert train_flops("mingru", (B, T, I, H)) == 3 * 2 * B * T * I * 2 * H + 5 * B * T * H
    assert train_flops("minlstm", (B, T, I, H)) == 3 * 2 * B * T * I * 3 * H + 5 * B * T * H
    assert train_flops("mingru", (2, 3, 4, 5)) == 6 * 2 * 3 * 4 * 10 + 5 * 2 * 3 * 5
    # the bound of the docs: LSTM / MinGRU ~ 2 (I + H) / I
    ratio = train_flops("lstm", (B, T, I, H)) / train_flops("mingru", (B, T, I, H))
    assert abs(ratio - 2 * (I + H) / I) < 0.05


def test_round_robin_budget_cuts_rounds_but_never_under_three():
    from rnnkit.bench.runners import _time_round_robin

    ticks = iter(range(10 ** 6))                 # every clock reading 1 s later: 1 s per call
    calls = {"a": 0, "b": 0}

    def counted(k):
        def fn():
            calls[k] += 1
        return fn

    runners = {k: counted(k) for k in calls}
    t = _time_round_robin(runners, 15, clock=lambda: next(ticks), budget_s=10)
    assert calls == {"a": 2 + 5, "b": 2 + 5}     # 2 warm-ups, then 10 s / 2 s a round
    assert t == {"a": 1000.0, "b": 1000.0}
    calls.update(a=0, b=0)
    _time_round_robin(runners, 15, clock=lambda: next(ticks), budget_s=1)
    assert calls == {"a": 5, "b": 5}
    calls.update(a=0, b=0)
    _time_round_robin(runners, 15, clock=lambda: next(ticks))
    assert calls == {"a": 17, "b": 17}
