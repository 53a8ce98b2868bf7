"""Data-parallel training under ``mpiexec -n 2`` and ``-n 3`` equals one process (float64).

The scenarios (tests/mpi_worker.py) run once per rank count in one launch each: ``fit`` with
shuffling, sample weights, global-norm clipping, validation, ``evaluate`` and an uneven last
batch on a stacked LSTM + bidirectional GRU; padded (masked) sequences with a sparse loss and
accuracy; the "sum" and "mean_with_sample_weight" reductions under a mask; and train-text's
stateful truncated BPTT. Then the faults: a rank that raises or is SIGKILLed
stops the job within seconds; a train-text run killed at a random moment and resumed on another
number of ranks ends with the weights of an uninterrupted run; empty shards and ranks that
disagree on data or model are refused before training.

Skipped (with the reason) where the ``mpi`` extra is absent; ``make test`` installs it.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import rnnkit

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
MPIEXEC = Path(sys.executable).parent / "mpiexec"
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
           NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1",
           PYTHONPATH=os.pathsep.join([SRC, str(HERE), os.environ.get("PYTHONPATH", "")]))
for _var in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE"):      # never nested in a launch
    ENV.pop(_var, None)


def _mpi_missing():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'rnnkit[mpi]'; make test installs it)"
    if not MPIEXEC.exists():
        return f"no mpiexec beside {sys.executable} (pip install mpich)"
    return None


needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))


def _launch(n, args, timeout=120, **kw):
    return subprocess.run([str(MPIEXEC), "-n", str(n), sys.executable, *args], env=ENV,
                          capture_output=True, text=True, timeout=timeout, **kw)


# ---- no MPI: nothing changes, nothing is imported --------------------------------------------
def test_one_process_imports_no_mpi_and_changes_nothing():
    code = ("import sys, numpy as np, rnnkit\n"
            "from rnnkit import distributed, layers\n"
            "assert (distributed.size(), distributed.rank(), distributed.is_main()) == \\\n"
            "    (1, 0, True)\n"
            "distributed.set_distribution(distributed.DataParallel())\n"
            "m = rnnkit.Sequential([layers.Input((4, 2)), layers.GRU(3), layers.Dense(1)])\n"
            "m.compile('adam', 'mse')\n"
            "m.fit(np.ones((5, 4, 2)), np.ones((5, 1)), batch_size=2, verbose=0)\n"
            "import rnnkit.cli.text\n"
            "print('mpi4py' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ---- equivalence -----------------------------------------------------------------------------
SCENARIOS = ["fit", "masked", "reductions", "text"]


def _scenario_runs(root):
    """{n: folder with <scenario>.npz/.json}: n = 1 (plain python, no launcher), 2 and 3."""
    found = {}
    for n in (1, 2, 3):
        out = root / f"ranks{n}"
        out.mkdir()
        args = [str(HERE / "mpi_worker.py"), str(out), *SCENARIOS]
        if n == 1:
            res = subprocess.run([sys.executable, *args], env=ENV, capture_output=True,
                                 text=True, timeout=300)
        else:
            res = _launch(n, args, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr
        found[n] = out
    return found


@needs_mpi
def test_2_and_3_ranks_equal_one_process(tmp_path):
    # one test (not parametrized): under pytest-xdist the three launches run once, not per worker
    runs = _scenario_runs(tmp_path)
    for n, scenario in [(n, sc) for n in (2, 3) for sc in SCENARIOS]:
        where = f"{scenario}, {n} ranks"
        ref, got = np.load(runs[1] / f"{scenario}.npz"), np.load(runs[n] / f"{scenario}.npz")
        assert ref.files == got.files
        for k in ref.files:
            np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-10,
                                       err_msg=f"{where}: weight {k}")
        assert any(np.abs(ref[k]).max() > 0 for k in ref.files)
        h_ref = json.loads((runs[1] / f"{scenario}.json").read_text())
        h_got = json.loads((runs[n] / f"{scenario}.json").read_text())
        assert sorted(h_ref) == sorted(h_got), where
        for key in h_ref:               # loss, metrics and validation: averaged by sample counts
            np.testing.assert_allclose(h_got[key], h_ref[key], rtol=1e-12, atol=1e-12,
                                       err_msg=f"{where}: {key}")
        # one Allreduce per step: 3 epochs x (6 training batches of 7 + 2 validation batches)
        # + 6 batches of 9 in evaluate
        calls = json.loads((runs[n] / "allreduce_calls.json").read_text())
        assert calls["fit"] == 3 * (6 + 2) + 6, where


# ---- faults ----------------------------------------------------------------------------------
RAISE_ON_RANK_1 = """
import numpy as np, rnnkit
from rnnkit import distributed, layers
distributed.set_distribution(distributed.DataParallel())
class Boom(rnnkit.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 2 and distributed.rank() == 1:
            raise RuntimeError("planted failure")
m = rnnkit.Sequential([layers.Input((4, 2)), layers.GRU(3), layers.Dense(1)])
m.compile("adam", "mse")
m.fit(np.ones((40, 4, 2)), np.ones((40, 1)), batch_size=4, epochs=50, verbose=0,
      callbacks=[Boom()])
print("finished")
"""


@needs_mpi
def test_a_rank_that_raises_stops_the_job():
    t0 = time.monotonic()
    res = _launch(2, ["-c", RAISE_ON_RANK_1], timeout=60)
    assert res.returncode != 0
    assert "finished" not in res.stdout
    assert "planted failure" in res.stderr
    assert "rank 1 of 2: uncaught RuntimeError; stopping all ranks" in res.stderr
    assert time.monotonic() - t0 < 60


@needs_mpi
def test_train_text_error_on_every_rank_stops_the_job_with_a_message(tmp_path):
    res = _launch(2, ["-m", "rnnkit", "train-text", str(tmp_path / "missing.txt"), "--out",
                      str(tmp_path / "out")], timeout=60)
    assert res.returncode != 0
    assert "rnnkit train-text failed: FileNotFoundError" in res.stderr
    assert "missing.txt: no such file" in res.stderr
    assert "Traceback" not in res.stderr                   # a user error: one line per rank


REFUSED = """
import numpy as np, rnnkit
from rnnkit import distributed, layers
distributed.set_distribution(distributed.DataParallel())
r = distributed.rank()
def model(units=3):
    rnnkit.random.set_random_seed(0)
    m = rnnkit.Sequential([layers.Input((4, 2)), layers.GRU(units), layers.Dense(1)])
    m.compile("adam", "mse")
    return m
x, y = np.ones((9, 4, 2)), np.ones((9, 1))
cases = {"empty": lambda: model().fit(x, y, batch_size=2, verbose=0),
         "last batch": lambda: model().fit(x, y, batch_size=4, verbose=0),
         "samples": lambda: model().fit(x[:8 + (r == 1)], y[:8 + (r == 1)], batch_size=4,
                                        verbose=0),
         "data": lambda: model().fit(x + (r == 2), y, batch_size=3, verbose=0),
         "model": lambda: model(3 + (r == 1)).fit(x, y, batch_size=3, verbose=0)}
for name, case in cases.items():
    try:
        case()
        print(name, "TRAINED")
    except ValueError as e:
        if distributed.is_main():
            print(name, "|", e)
seen = distributed.distribution().comm.allgather((distributed.rank(), distributed.size(),
                                                 distributed.is_main()))
if distributed.is_main():
    print("ranks", seen)
"""


@needs_mpi
def test_empty_shards_and_disagreeing_ranks_are_refused_before_training():
    res = _launch(3, ["-c", REFUSED], timeout=120)
    assert res.returncode == 0, res.stderr
    lines = dict(line.split(" | ", 1) for line in res.stdout.splitlines() if " | " in line)
    assert "TRAINED" not in res.stdout, res.stdout
    assert "rank 2 would get an empty shard" in lines["empty"]
    assert "a batch of 1 samples cannot be split over 3 ranks" in lines["last batch"]
    assert "disagree on the number of samples: rank 0: 8, rank 1: 9, rank 2: 8" in \
        lines["samples"]
    assert "disagree on the data" in lines["data"] and "[2]" in lines["data"]
    assert "disagree on the model" in lines["model"] and "[1]" in lines["model"]
    assert "ranks [(0, 3, True), (1, 3, False), (2, 3, False)]" in res.stdout


# ---- train-text: only rank 0 writes; killed at a random moment, resumed on other ranks --------
TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\n") * 10
SETTINGS = ["--units", "12", "--layers", "2", "--seq-len", "12", "--batch-size", "6",
            "--epochs", "6", "--seed", "4", "--quiet"]


# `rnnkit train-text` in float64, so that runs on different numbers of ranks agree to 1e-10
CLI_F64 = ("import sys, rnnkit; rnnkit.config.set_floatx('float64'); "
           "from rnnkit.cli import main; sys.exit(main(sys.argv[1:]))")


def _cmd(src, out, *extra):
    return ["-c", CLI_F64, "train-text", str(src), *SETTINGS, "--out", str(out), *extra]


def _descendants(pid):
    """Process ids under ``pid`` (the ranks under mpiexec's proxy), from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _ranks(pid):
    return [p for p in _descendants(pid)
            if "rnnkit" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
            and "python" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]


@needs_mpi
def test_train_text_killed_rank_then_resume_on_other_ranks_equals_uninterrupted(tmp_path):
    src = tmp_path / "hamlet.txt"
    src.write_text(TEXT)
    ref = tmp_path / "ref"
    res = _launch(2, _cmd(src, ref), timeout=120)
    assert res.returncode == 0, res.stderr
    # rank 0 alone prints: every epoch line and the closing line once
    assert res.stdout.count("best validation loss") == 1
    assert [l.split(":")[0] for l in res.stdout.splitlines() if l.startswith("epoch ")] == \
        [f"epoch {k}" for k in range(1, 7)]

    chooser = random.Random(int(time.time()))
    out = tmp_path / "killed"
    proc = subprocess.Popen([str(MPIEXEC), "-n", "2", sys.executable, *_cmd(src, out)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    after = chooser.randint(1, 4)                           # of 6 epochs
    seen = 0
    for line in proc.stdout:
        seen += line.startswith("epoch ")
        if seen == after:
            break
    time.sleep(chooser.uniform(0.0, 0.05))
    victims = _ranks(proc.pid)
    assert len(victims) == 2, victims
    os.kill(chooser.choice(victims), signal.SIGKILL)
    t0 = time.monotonic()
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert time.monotonic() - t0 < 30                        # stopped, no hang
    assert (out / "last.rnnkit").exists()
    rnnkit.load_model(out / "last.rnnkit")                   # intact

    res = _launch(3, _cmd(src, out, "--resume"), timeout=120)  # another number of ranks
    assert res.returncode == 0, res.stderr
    for name in ("last.rnnkit", "model.rnnkit"):
        a = rnnkit.load_model(ref / name).get_weights()
        b = rnnkit.load_model(out / name).get_weights()
        for wa, wb in zip(a, b):
            np.testing.assert_allclose(wb, wa, rtol=0, atol=1e-10, err_msg=name)
    h_ref = json.loads((ref / "state.json").read_text())["history"]
    h_out = json.loads((out / "state.json").read_text())["history"]
    assert [h["epoch"] for h in h_out] == list(range(1, 7))
    np.testing.assert_allclose([h["val_loss"] for h in h_out], [h["val_loss"] for h in h_ref],
                               rtol=1e-9)
