"""``rnnkit train-text`` / ``generate`` / ``summary`` run as a user would (subprocess), with the
bad-input cases: one line on stderr, non-zero exit, no traceback."""

import json
import os
import subprocess
import sys

import pytest

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 30


def rnnkit(*args, cwd=None):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "rnnkit", *args], capture_output=True,
                          text=True, timeout=240, cwd=cwd, env=env)


SMALL = ["--units", "16", "--seq-len", "12", "--batch-size", "4", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    src = d / "hamlet.txt"
    src.write_text(TEXT)
    out = d / "run"
    r = rnnkit("train-text", str(src), *SMALL, "--epochs", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return src, out, r


def test_train_text_writes_the_run_and_reports_bits_per_char(trained):
    src, out, r = trained
    for name in ("model.rnnkit", "vocab.json", "last.rnnkit", "state.json"):
        assert (out / name).exists(), name
    assert r.stdout.count("bits/char") >= 3           # two epochs and the final line
    assert "sample:" in r.stdout
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 2 and len(state["history"]) == 2


def test_resume_continues_from_the_saved_epoch(trained):
    src, out, _ = trained
    r = rnnkit("train-text", str(src), "--resume", "--epochs", "3", "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 3 and [h["epoch"] for h in state["history"]] == [1, 2, 3]
    assert "epoch 3:" in r.stdout and "epoch 1:" not in r.stdout


def test_generate_streams_reproducible_text(trained):
    _, out, _ = trained
    a = rnnkit("generate", str(out), "--prime", "To be", "--length", "40", "--seed", "3")
    b = rnnkit("generate", str(out), "--prime", "To be", "--length", "40", "--seed", "3",
               "--temperature", "0.7", "--top-k", "5", "--top-p", "0.9")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert a.stdout.startswith("To be") and len(a.stdout.rstrip("\n")) == len("To be") + 40
    again = rnnkit("generate", str(out), "--prime", "To be", "--length", "40", "--seed", "3")
    assert again.stdout == a.stdout


def test_summary_of_a_saved_model(trained):
    _, out, _ = trained
    r = rnnkit("summary", str(out / "model.rnnkit"))
    assert r.returncode == 0, r.stderr
    assert 'Model: "char_lm"' in r.stdout and "Total params:" in r.stdout


def _one_line_error(r):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_bad_input_is_one_line_and_non_zero(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    garbage_model = tmp_path / "model.rnnkit"
    garbage_model.write_bytes(b"not a model at all")
    assert "no such file" in _one_line_error(rnnkit("train-text", str(tmp_path / "missing.txt")))
    assert "empty" in _one_line_error(rnnkit("train-text", str(empty), *SMALL))
    assert "not a text file" in _one_line_error(rnnkit("train-text", str(binary), *SMALL))
    assert "FILE" in _one_line_error(rnnkit("train-text"))
    assert "unrecognized arguments" in _one_line_error(
        rnnkit("train-text", str(empty), "--bogus"))
    assert "must be positive" in _one_line_error(
        rnnkit("train-text", str(empty), "--units", "0"))
    assert "no such run directory" in _one_line_error(rnnkit("generate", str(tmp_path / "nope")))
    assert "nothing to resume" in _one_line_error(
        rnnkit("train-text", str(empty), "--resume", "--out", str(tmp_path / "fresh")))
    assert "not a valid" in _one_line_error(rnnkit("summary", str(garbage_model)))


def test_help_is_complete():
    for cmd, words in [("train-text", ["--builtin", "--cell", "--units", "--layers", "--seq-len",
                                       "--batch-size", "--epochs", "--dropout", "--clipnorm",
                                       "--out", "--resume"]),
                       ("generate", ["--prime", "--length", "--temperature", "--top-k",
                                     "--top-p", "--seed"]),
                       ("summary", ["FILE"])]:
        r = rnnkit(cmd, "--help")
        assert r.returncode == 0
        for w in words:
            assert w in r.stdout, (cmd, w)


def test_resume_with_a_corrupted_checkpoint_is_one_line(trained, tmp_path):
    """--resume reads only last.rnnkit: garbage, a model file that is not a checkpoint, and a
    checkpoint whose run settings are bad each give one clear line."""
    from rnnkit.io.safetensors_format import load, save

    src, out, _ = trained
    bad = tmp_path / "bad_run"
    bad.mkdir()
    (bad / "vocab.json").write_bytes((out / "vocab.json").read_bytes())
    ckpt = bad / "last.rnnkit"

    ckpt.write_bytes(b"not a checkpoint at all")
    assert "not a valid" in _one_line_error(rnnkit("train-text", str(src), "--resume",
                                                   "--out", str(bad)))
    ckpt.write_bytes((out / "model.rnnkit").read_bytes())
    assert "not a BackupAndRestore checkpoint" in _one_line_error(
        rnnkit("train-text", str(src), "--resume", "--out", str(bad)))
    tensors, meta = load(out / "last.rnnkit")
    state = json.loads(meta["backup_and_restore"])
    for extra in [{"config": {"units": "many"}}, None, {**state["extra"], "epoch": -3}]:
        save(ckpt, tensors, {**meta, "backup_and_restore": json.dumps({**state, "extra": extra})})
        msg = _one_line_error(rnnkit("train-text", str(src), "--resume", "--out", str(bad)))
        assert "not a train-text checkpoint" in msg
