"""``rnnkit examples``: listing reads docstrings and last results; ``run`` passes arguments on."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.cli import examples as cli_examples

ROOT = Path(__file__).resolve().parent.parent


def _run(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("RNNKIT_EXAMPLES", None)
    return subprocess.run([sys.executable, "-m", "rnnkit", "examples", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "ex"
    d.mkdir()
    (d / "echo_args.py").write_text('"""Echo: prints its arguments.\n\nMore text."""\n'
                                    "import sys\nprint('ARGS', sys.argv[1:])\n"
                                    "sys.exit(3 if '--fail' in sys.argv else 0)\n")
    (d / "_helper.py").write_text('"""Not an example."""\n')
    (d / "broken.py").write_text("def (:\n")
    return d


def test_the_checkout_examples_are_listed_with_their_summaries():
    found = cli_examples.find_examples(cli_examples.examples_dir())
    assert {"addition", "translate", "vanishing_gradients"} <= set(found)
    assert not any(name.startswith("_") for name in found)
    assert cli_examples.summary_line(found["vanishing_gradients"]).startswith("Vanishing")


def test_list_shows_summary_and_last_result(folder, tmp_path):
    runs = tmp_path / "runs"
    (runs / "echo_args").mkdir(parents=True)
    (runs / "echo_args" / "metrics.json").write_text(json.dumps(
        dict(metric="accuracy", rnn=0.9312, baseline=0.8)))
    r = _run("--dir", str(folder), "--runs", str(runs), "list")
    assert r.returncode == 0, r.stderr
    assert "2 examples in" in r.stdout
    assert "echo_args  Echo: prints its arguments." in r.stdout
    assert "last run: accuracy 0.9312 (baseline 0.8)" in r.stdout
    assert "_helper" not in r.stdout
    assert "broken" in r.stdout                    # listed; a script that does not parse has no summary


def test_run_passes_arguments_and_exit_status(folder):
    r = _run("--dir", str(folder), "run", "echo_args", "--quick", "--epochs", "2")
    assert r.returncode == 0, r.stderr
    assert "ARGS ['--quick', '--epochs', '2']" in r.stdout
    assert _run("--dir", str(folder), "run", "echo_args", "--fail").returncode == 3


@pytest.mark.parametrize("args, message", [
    (("run", "nope"), "no example 'nope'; choose one of broken, echo_args"),
    (("run",), "run: which one? choose one of broken, echo_args"),
    (("list", "extra"), "`list` takes no name (did you mean `run NAME`?)"),
])
def test_bad_use_is_one_line(folder, args, message):
    r = _run("--dir", str(folder), *args)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"rnnkit examples: error: {message}"]


def test_missing_folder_is_one_line(tmp_path):
    r = _run("--dir", str(tmp_path / "none"))
    assert r.returncode == 1
    assert r.stderr.strip() == f"rnnkit examples: error: {tmp_path / 'none'} is not a folder"
