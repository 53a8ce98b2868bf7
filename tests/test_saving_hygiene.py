"""Saving hygiene (issue 12, item 7): stale temporary files of killed saves are cleaned, modes
are kept or follow the umask, symbolic links are written through, CharVocab.save leaves nothing
behind on a full disk, the CLI reports MemoryError in one line, generate refuses a word
vocabulary."""

import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import rnnkit
from rnnkit.data import CharVocab, WordVocab
from rnnkit.io.safetensors_format import atomic_write


def _model():
    return rnnkit.Sequential([rnnkit.layers.Input((3, 2)), rnnkit.layers.GRU(4)])


def test_stale_temporary_files_of_a_killed_save_are_removed_by_the_next_save(tmp_path):
    target = tmp_path / "m.rnnkit"
    # a save killed with SIGKILL while writing: its temporary file stays behind
    code = ("import sys, os, rnnkit.io.safetensors_format as f\n"
            "def chunks():\n    yield b'x' * 1000\n    os.kill(os.getpid(), 9)\n"
            "f.atomic_write(sys.argv[1], chunks())\n")
    r = subprocess.run([sys.executable, "-c", code, str(target)], timeout=60)
    assert r.returncode == -signal.SIGKILL
    left = [p for p in os.listdir(tmp_path) if ".tmp-" in p]
    assert len(left) == 1 and left[0].startswith(".m.rnnkit.tmp-")
    other = tmp_path / ".other.rnnkit.tmp-1-abc"                 # another target's: kept
    other.write_bytes(b"")
    _model().save(str(target))
    assert sorted(os.listdir(tmp_path)) == sorted(["m.rnnkit", other.name])


def test_a_live_saver_s_temporary_file_is_left_alone(tmp_path):
    live = tmp_path / f".m.rnnkit.tmp-{os.getppid()}-abc"       # a running process's
    live.write_bytes(b"")
    atomic_write(str(tmp_path / "m.rnnkit"), [b"data"])
    assert live.exists()


def test_the_mode_of_the_target_is_kept_else_the_umask_decides(tmp_path):
    path = tmp_path / "m.rnnkit"
    old = os.umask(0o027)
    try:
        _model().save(str(path))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640        # 0666 & ~umask
        os.chmod(path, 0o644)
        _model().save(str(path))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644        # kept
    finally:
        os.umask(old)


def test_saving_through_a_symlink_writes_its_target(tmp_path):
    real = tmp_path / "store" / "m.rnnkit"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "current.rnnkit"
    link.symlink_to(real)
    m = _model()
    m.save(str(link))
    assert link.is_symlink() and os.readlink(link) == str(real)
    loaded = rnnkit.load_model(str(real))
    for a, b in zip(loaded.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_char_vocab_save_leaves_no_temporary_file_when_the_write_fails(tmp_path, monkeypatch):
    """A full disk, simulated: the write raises ENOSPC; the old vocabulary stays whole."""
    path = tmp_path / "vocab.json"
    CharVocab.from_text("abc").save(str(path))
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class _Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, _):
            raise OSError(28, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _Full(real_fdopen(fd, *a, **k)))
    with pytest.raises(OSError, match="No space left"):
        CharVocab.from_text("abcdef").save(str(path))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["vocab.json"] and path.read_bytes() == before


def _rnnkit(*args, env=None):
    return subprocess.run([sys.executable, "-m", "rnnkit", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_memory_error_in_the_cli_is_one_line(tmp_path):
    code = ("import sys, rnnkit.cli as c, rnnkit.cli.text as t\n"
            "def boom(args):\n    raise MemoryError('Unable to allocate 1.2 TiB')\n"
            "t._run_summary = boom\n"                        # read when the parser is built
            "sys.exit(c.main(['summary', 'x']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines() == [
        "rnnkit summary: error: out of memory: Unable to allocate 1.2 TiB; try smaller settings"]


def test_generate_refuses_a_word_vocabulary_for_a_character_model(tmp_path):
    from rnnkit.cli.textlm import TextLMConfig, build_model
    vocab = CharVocab.from_text("hello world")
    model = build_model(TextLMConfig(units=4, embedding=2), len(vocab))
    model.save(str(tmp_path / "model.rnnkit"))
    words = WordVocab(["w%d" % i for i in range(len(vocab) - 2)])
    assert len(words) == len(vocab)                            # same size: only the kind differs
    words.save(str(tmp_path / "vocab.json"))
    r = _rnnkit("generate", str(tmp_path), "--length", "5")
    assert r.returncode == 1 and "WordVocab" in r.stderr and "Traceback" not in r.stderr, r.stderr
