"""A run is never destroyed and no small input asks for unbounded work (issue 12, items 3-4).

``train-text --out DIR`` refuses a directory holding another run unless ``--overwrite``, checks
everything before touching a file, and ``--resume`` refuses a different text and validates every
setting it reads back from ``last.rnnkit``. Loaders refuse FIFOs and devices instead of blocking
forever; ``load_model`` is linear in the number of layers.
"""

import json
import os
import subprocess
import sys

import pytest

import rnnkit
from rnnkit.cli.textlm import TextLMConfig, train_text
from rnnkit.errors import FileFormatError
from rnnkit.io import safetensors_format

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind\n" * 12
CFG = dict(units=8, embedding=4, seq_len=8, batch_size=2, epochs=1, sample_length=5)


def _quiet(*_):
    pass


def _run(out, text=TEXT, **kw):
    return train_text(text, str(out), TextLMConfig(**{**CFG, **kw.pop("cfg", {})}), verbose=0,
                      print_fn=_quiet, **kw)


def _snapshot(d):
    return {p: (d / p).read_bytes() for p in sorted(os.listdir(d))}


@pytest.fixture
def run_dir(tmp_path):
    out = tmp_path / "run"
    _run(out)
    return out


def test_a_folder_holding_another_run_is_refused_and_left_as_it_was(run_dir):
    before = _snapshot(run_dir)
    with pytest.raises(FileExistsError, match=r"holds another run .*--resume.*--overwrite"):
        _run(run_dir, text="something else entirely " * 20)
    assert _snapshot(run_dir) == before


def test_overwrite_with_a_bad_text_leaves_the_old_run_whole(run_dir):
    """A 1-byte text cannot train: the old run must still generate and resume."""
    before = _snapshot(run_dir)
    with pytest.raises(ValueError, match="too short"):
        _run(run_dir, text="a", overwrite=True)
    with pytest.raises(ValueError, match="must be positive"):
        _run(run_dir, overwrite=True, cfg={"units": 0})
    assert _snapshot(run_dir) == before
    state = train_text(TEXT, str(run_dir), TextLMConfig(epochs=2), resume=True, verbose=0,
                       print_fn=_quiet)
    assert state["epoch"] == 2


def test_overwrite_replaces_the_run(run_dir):
    other = "abcdefgh " * 60
    state = _run(run_dir, text=other, overwrite=True)
    assert state["epoch"] == 1
    vocab = rnnkit.data.load_vocab(str(run_dir / "vocab.json"))
    assert len(vocab) < 15                        # the new text's characters only


def test_resume_refuses_a_different_text(run_dir):
    with pytest.raises(ValueError, match="not the text the run .* was trained on"):
        train_text(TEXT.upper(), str(run_dir), TextLMConfig(epochs=2), resume=True, verbose=0,
                   print_fn=_quiet)


def _tamper(run_dir, change):
    """Rewrite last.rnnkit's run state (as an attacker or a bad disk would)."""
    path = str(run_dir / "last.rnnkit")
    tensors, meta = safetensors_format.load(path)
    state = json.loads(meta["backup_and_restore"])
    change(state)
    meta["backup_and_restore"] = json.dumps(state)
    safetensors_format.save(path, tensors, meta)


@pytest.mark.parametrize("change, message", [
    (lambda s: s["extra"]["config"].update(sample_length=10**9), "sample-length must be in"),
    (lambda s: s["extra"]["config"].update(units=10**7), "units must be in"),
    (lambda s: s["extra"]["config"].update(units="8"), "units must be a number"),
    (lambda s: s["extra"]["config"].update(learning_rate=float("nan")), "learning-rate"),
    (lambda s: s["extra"].update(best_val_loss="nan"), "bad best_val_loss"),
    (lambda s: s["extra"].update(history=[1, 2]), "bad history"),
    (lambda s: s["extra"].update(history="x"), "bad history"),
    (lambda s: s["extra"].update(epoch=-1), "bad epoch"),
])
def test_resume_validates_every_setting_read_back(run_dir, change, message):
    _tamper(run_dir, change)
    with pytest.raises(FileFormatError, match=message):
        train_text(TEXT, str(run_dir), TextLMConfig(epochs=2), resume=True, verbose=0,
                   print_fn=_quiet)


def test_resume_refuses_a_malformed_rng_or_history_cleanly_before_changing_the_model(run_dir):
    from rnnkit.training.callbacks.backup import BackupAndRestore
    m = rnnkit.load_model(str(run_dir / "last.rnnkit"))
    before = m.get_weights()
    original = (run_dir / "last.rnnkit").read_bytes()
    for change, message in [
            (lambda s: s.update(shuffle_rng_state={"bit_generator": "PCG64", "state": 3}),
             "shuffle_rng_state"),
            (lambda s: s.update(history={"loss": "abc"}), "history"),
            (lambda s: s.update(epochs=["x"]), "epochs")]:
        (run_dir / "last.rnnkit").write_bytes(original)
        _tamper(run_dir, change)
        cb = BackupAndRestore(str(run_dir))
        cb.set_model(m)
        with pytest.raises(FileFormatError, match=message):
            cb._restore(str(run_dir / "last.rnnkit"))
        for a, b in zip(m.get_weights(), before):
            assert (a == b).all()


@pytest.mark.parametrize("flag", [["--layers", "100000"], ["--units", "1000000"],
                                  ["--learning-rate", "nan"], ["--epochs", "-1"]])
def test_cli_refuses_unbounded_settings_in_one_line(tmp_path, flag):
    src = tmp_path / "t.txt"
    src.write_text(TEXT)
    r = subprocess.run([sys.executable, "-m", "rnnkit", "train-text", str(src), *flag, "--out",
                        str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


_FIFO_PROBE = r"""
import os, sys, rnnkit
from rnnkit.data import load_vocab
fifo = sys.argv[1]
for call in (lambda: rnnkit.load_model(fifo), lambda: load_vocab(fifo),
             lambda: rnnkit.io.safetensors_format.read_header(fifo)):
    try:
        call()
    except ValueError as e:
        print("clean:", e)
"""


def test_a_fifo_or_a_device_is_refused_not_waited_on(tmp_path):
    fifo = str(tmp_path / "pipe")
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-c", _FIFO_PROBE, fifo], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("not a regular file (a FIFO)") == 3, r.stdout
    for target in (fifo, "/dev/zero"):
        for cmd in (["summary", target], ["train-text", target, "--out", str(tmp_path / "o")]):
            r = subprocess.run([sys.executable, "-m", "rnnkit", *cmd], capture_output=True,
                               text=True, timeout=120)
            assert r.returncode == 1 and "not a regular file" in r.stderr, (cmd, r.stderr)


def test_load_model_is_linear_in_the_number_of_layers(tmp_path, monkeypatch):
    """Loading (Sequential.add) runs each layer's shape inference once, not once per later add
    (it was quadratic: 16k weightless layers in a 1.5 MB file took 19 s): counted, not timed."""
    calls = [0]
    orig = rnnkit.layers.Activation.compute_output_shape

    def counted(self, shape):
        calls[0] += 1
        return orig(self, shape)

    counts = {}
    for n in (50, 200):
        m = rnnkit.Sequential([rnnkit.layers.Input((3,))] +
                              [rnnkit.layers.Activation("linear") for _ in range(n)])
        path = str(tmp_path / f"m{n}.rnnkit")
        m.save(path)
        monkeypatch.setattr(rnnkit.layers.Activation, "compute_output_shape", counted)
        calls[0] = 0
        assert len(rnnkit.load_model(path).layers) == n
        counts[n] = calls[0]
        monkeypatch.undo()
    assert counts[200] <= 4 * counts[50] + 8, counts
