"""``rnnkit train-text --resume`` after SIGKILL at random moments ends with exactly the weights,
the best model and the history of a run never interrupted, and the checkpoint always loads.

The run is tiny (16 units, windows of 12, 4 streams, 10 epochs, dropout and two layers so that
the dropout generators and the optimizer state matter): one epoch takes a few milliseconds, so
the kill comes after a random number of printed epoch lines plus a short random delay, which
lands it in the middle of an epoch, a sample or a checkpoint write.
"""

import json
import os
import random
import subprocess
import sys
import time

import numpy as np

import rnnkit

TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\n") * 25
SETTINGS = ["--units", "16", "--layers", "2", "--dropout", "0.2", "--seq-len", "12",
            "--batch-size", "4", "--epochs", "10", "--seed", "4", "--quiet"]
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
           PYTHONUNBUFFERED="1")


def _cmd(src, out, *extra):
    return [sys.executable, "-m", "rnnkit", "train-text", str(src), *SETTINGS, "--out", str(out),
            *extra]


def _run_until_killed(cmd, after_epochs, delay):
    """Start ``cmd``; after ``after_epochs`` epoch lines wait ``delay`` s and SIGKILL it.
    Returns the number of epoch lines seen and whether the run finished on its own."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=ENV)
    seen = 0
    for line in proc.stdout:
        if line.startswith("best validation loss"):
            proc.wait()
            proc.stdout.close()
            return seen, True
        if line.startswith("epoch "):
            seen += 1
            if seen == after_epochs:
                break
    time.sleep(delay)
    proc.kill()                                         # SIGKILL
    proc.wait()
    proc.stdout.close()
    return seen, proc.returncode == 0


def _weights(path):
    return rnnkit.load_model(path).get_weights()


def test_sigkill_at_random_moments_then_resume_equals_uninterrupted_run(tmp_path):
    src = tmp_path / "hamlet.txt"
    src.write_text(TEXT)
    ref = tmp_path / "ref"
    subprocess.run(_cmd(src, ref), env=ENV, check=True, capture_output=True, timeout=120)
    ref_state = json.loads((ref / "state.json").read_text())
    assert ref_state["epoch"] == 10

    chooser = random.Random(2024)
    for trial in range(3):                              # three kill schedules, fresh each time
        out = tmp_path / f"killed{trial}"
        ckpt = out / "last.rnnkit"
        kills, resume = 0, []
        for _ in range(4):
            seen, finished = _run_until_killed(_cmd(src, out, *resume), chooser.randint(1, 3),
                                               chooser.uniform(0.0, 0.02))
            if finished:
                break
            kills += 1
            # an epoch line is printed only after its checkpoint is written: the checkpoint
            # exists after every kill, and it is never half-written
            assert seen >= 1 and ckpt.exists()
            rnnkit.load_model(ckpt)
            resume = ["--resume"]
        assert kills >= 1, "the run finished before any kill: nothing was tested"
        r = subprocess.run(_cmd(src, out, "--resume"), env=ENV, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        state = json.loads((out / "state.json").read_text())
        assert state["epoch"] == 10
        assert [h["epoch"] for h in state["history"]] == list(range(1, 11))
        assert [(h["loss"], h["val_loss"]) for h in state["history"]] == \
            [(h["loss"], h["val_loss"]) for h in ref_state["history"]]
        assert state["best_val_loss"] == ref_state["best_val_loss"]
        for name in ("last.rnnkit", "model.rnnkit"):    # training weights and the best model
            for a, b in zip(_weights(out / name), _weights(ref / name), strict=True):
                assert np.array_equal(a, b), (trial, name)
