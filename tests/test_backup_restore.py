"""BackupAndRestore: a run interrupted (by an exception, or by SIGKILL at a random moment) and
started again ends with exactly the weights and History of a run never interrupted, and the
checkpoint on disk always loads (it is written atomically)."""

import os
import random
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import BackupAndRestore, Callback
from rnnkit.layers import LSTM, Dense, Dropout, Input


def _model():
    rnnkit.random.set_random_seed(3)
    model = rnnkit.Sequential([Input((6, 3)), LSTM(8, return_sequences=True, dropout=0.2),
                               Dropout(0.3), LSTM(5), Dense(2)])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 6, 3)).astype("float32"), \
        rng.normal(size=(40, 2)).astype("float32")


class _Crash(Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize("crash_after", [0, 2])
def test_resume_after_exception_equals_uninterrupted_run(tmp_path, crash_after):
    x, y = _data()
    kw = dict(batch_size=8, epochs=5, shuffle=True, seed=7, verbose=0)
    ref = _model()
    ref_hist = ref.fit(x, y, **kw)

    backup = BackupAndRestore(tmp_path / "backup")
    model = _model()
    with pytest.raises(RuntimeError, match="simulated crash"):
        model.fit(x, y, callbacks=[backup, _Crash(crash_after)], **kw)
    assert os.path.exists(backup.checkpoint_path)
    rnnkit.load_model(backup.checkpoint_path)          # a complete, loadable model file
    # a fresh process would build a fresh model: start from new (different) weights
    rnnkit.random.set_random_seed(99)
    model = rnnkit.Sequential([Input((6, 3)), LSTM(8, return_sequences=True, dropout=0.2),
                               Dropout(0.3), LSTM(5), Dense(2)])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(x, y, callbacks=[backup], **kw)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        assert np.array_equal(a, b)
    assert hist.history == ref_hist.history
    assert not os.path.exists(backup.checkpoint_path)   # deleted on success


def test_keep_checkpoint_and_finished_run(tmp_path):
    x, y = _data()
    backup = BackupAndRestore(tmp_path, delete_checkpoint=False)
    model = _model()
    model.fit(x, y, batch_size=8, epochs=2, seed=1, verbose=0, callbacks=[backup])
    assert os.path.exists(backup.checkpoint_path)
    w = model.get_weights()
    # fitting again with the same call resumes after the last epoch: nothing more to do
    hist = model.fit(x, y, batch_size=8, epochs=2, seed=1, verbose=0, callbacks=[backup])
    assert len(hist.history["loss"]) == 2
    for a, b in zip(model.get_weights(), w):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError):
        BackupAndRestore(tmp_path, save_freq=10)


SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import rnnkit
    from rnnkit.callbacks import BackupAndRestore, Callback
    from rnnkit.layers import LSTM, Dense, Dropout, Input

    backup_dir, out = sys.argv[1], sys.argv[2]

    class Say(Callback):
        def on_epoch_end(self, epoch, logs=None):
            print("epoch", epoch, flush=True)

    rnnkit.random.set_random_seed(5)
    model = rnnkit.Sequential([Input((10, 4)), LSTM(16, dropout=0.1), Dropout(0.2),
                               Dense(3)])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 10, 4)).astype("float32")
    y = rng.normal(size=(256, 3)).astype("float32")
    cbs = [BackupAndRestore(backup_dir)] if backup_dir != "-" else []
    model.fit(x, y, batch_size=8, epochs=12, seed=11, verbose=0, callbacks=cbs + [Say()])
    model.save_weights(out)
    print("done", flush=True)
""")


def _run_until_killed(cmd, env, after_epochs, delay):
    """Start ``cmd``; after it has printed ``after_epochs`` epoch lines, wait ``delay`` s (a
    random moment inside the next epoch or checkpoint write) and SIGKILL it.
    Returns True if it finished on its own first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    seen = 0
    for line in proc.stdout:
        if line.startswith("done"):
            proc.wait()
            return True
        if line.startswith("epoch"):
            seen += 1
            if seen == after_epochs:
                break
    time.sleep(delay)
    proc.kill()                                   # SIGKILL
    proc.wait()
    proc.stdout.close()
    return proc.returncode == 0


def test_sigkill_at_random_moments_then_resume(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    ref = tmp_path / "ref.rnnkit"
    subprocess.run([sys.executable, str(script), "-", str(ref)], env=env, check=True,
                   capture_output=True, timeout=120)

    backup_dir, out = tmp_path / "backup", tmp_path / "out.rnnkit"
    ckpt = backup_dir / "latest.rnnkit"
    cmd = [sys.executable, str(script), str(backup_dir), str(out)]
    chooser = random.Random(1234)
    kills = 0
    for _ in range(3):
        # 12 epochs in all: killing after 1-3 epoch lines of each run always lands mid-run
        finished = _run_until_killed(cmd, env, chooser.randint(1, 3), chooser.uniform(0.0, 0.03))
        if finished:
            break
        kills += 1
        # after every kill the checkpoint loads completely (or, before the first epoch end
        # was written, is absent): never half-written
        if ckpt.exists():
            rnnkit.load_model(ckpt)
    assert kills >= 1
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    assert not ckpt.exists()

    model = rnnkit.Sequential([Input((10, 4)), LSTM(16, dropout=0.1), Dropout(0.2), Dense(3)])
    model.load_weights(ref)
    expected = model.get_weights()
    model.load_weights(out)
    for a, b in zip(model.get_weights(), expected):
        assert np.array_equal(a, b)
