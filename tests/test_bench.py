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
                                  ["--procs", "--shapes", "1,2,3"]])
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
