"""``rnnkit bench`` run as a user would (subprocess): the quick run prints a table with a header
row and ratios and writes the Markdown file; ``--help`` lists every option; a bad ``--shapes``
is one line on stderr. No timing is asserted (the machine is shared and noisy)."""

import os
import subprocess
import sys

import pytest

from rnnkit.bench import SHAPES, parse_shapes


def rnnkit(*args, cwd=None):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "rnnkit", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env)


def test_quick_prints_a_table_and_writes_the_file(tmp_path):
    out = tmp_path / "benchmarks.md"
    r = rnnkit("bench", "--quick", "--out", str(out), "--cells", "lstm,gru")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    head = next(line for line in lines if line.startswith("| cell |"))
    assert "rnnkit fast" in head and "torch" in head and "fast/torch" in head
    rows = [line for line in lines if line.startswith("| lstm ") or line.startswith("| gru ")]
    whats = {row.split("|")[3].strip() for row in rows}
    assert whats == {"training step", "inference", "streaming"}
    assert len(rows) == 6
    ratio_col = head.strip("|").split("|").index(" fast/torch ")
    for row in rows:
        float(row.strip("|").split("|")[ratio_col])          # a number, not "-": torch is here
    assert "# CPU:" in r.stdout and "threads:" in r.stdout and "BLAS" in r.stdout
    text = out.read_text()
    assert head in text and all(row in text for row in rows)
    assert "noisy" in text


def test_no_write(tmp_path):
    r = rnnkit("bench", "--quick", "--cells", "rnn", "--no-write", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "| rnn |" in r.stdout
    assert not (tmp_path / "docs").exists()


def test_help_is_complete():
    r = rnnkit("bench", "--help")
    assert r.returncode == 0
    for opt in ("--shapes", "--cells", "--repeats", "--threads", "--kernels", "--quick",
                "--out", "--no-write", "--cpu-time", "--steps"):
        assert opt in r.stdout, opt
    assert "bench" in rnnkit("--help").stdout


@pytest.mark.parametrize("args", [["--shapes", "1,2,3"], ["--shapes", "a,b,c,d"],
                                  ["--shapes", "1,2,3,0"], ["--cells", "lstm,transformer"],
                                  ["--kernels", "turbo"], ["--repeats", "0"]])
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
            "main(['--quick', '--cells', 'rnn', '--no-write'])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "torch is not installed" in r.stdout
    assert "| rnn | 4,20,16,32 | inference |" in r.stdout
