"""The ``rnnkit`` command: the quick demo end to end, help, and one-line errors."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from rnnkit import cli
from rnnkit.data import CharVocab, load_vocab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, cwd=None, timeout=120):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), MPLBACKEND="Agg")
    env.pop("RNNKIT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "rnnkit", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def _one_line_error(proc, code, text):
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert text in proc.stderr


def test_quick_demo_writes_model_vocab_and_plot(tmp_path):
    proc = _run("demo", "--quick", "--out", "tmp", "--seed", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Total params: 164,106" in out and "98816" in out and "1290" in out
    assert "--- temperature 0.5:" in out and "--- temperature 1.0:" in out
    assert "predictions identical" in out and "bits/char" in out
    folder = tmp_path / "tmp"
    vocab = load_vocab(folder / "vocab.json")
    assert isinstance(vocab, CharVocab) and len(vocab) > 50
    model = rnnkit.load_model(folder / "model.rnnkit")
    x = vocab.encode("def main():\n    return 0\n")[None, :]
    probs = model.predict(x)
    assert probs.shape == (1, x.shape[1], len(vocab)) and np.isfinite(probs).all()
    assert (folder / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the reported validation loss is what the saved model gives on the held-out windows
    from rnnkit.cli.demo import DemoConfig, _data

    _, vocab2, _, (vx, vy) = _data(DemoConfig.quick())
    assert vocab2 == vocab
    line = next(l for l in out.splitlines() if l.startswith("validation loss"))
    reported = float(line.split()[2])
    assert model.evaluate(vx, vy, batch_size=32, verbose=0) == pytest.approx(reported, abs=6e-4)
    assert reported < np.log(len(vocab))            # it learned something in one epoch


def test_help():
    proc = _run("--help")
    assert proc.returncode == 0 and "demo" in proc.stdout
    proc = _run("demo", "--help")
    assert proc.returncode == 0
    for option in ("--quick", "--out", "--minutes", "--seed"):
        assert option in proc.stdout


@pytest.mark.parametrize("args, text", [
    (["demo", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "the following arguments are required: COMMAND"),
    (["demo", "--seed", "x"], "invalid int value: 'x'"),
])
def test_usage_errors_are_one_line(args, text):
    _one_line_error(_run(*args), 2, text)


def test_user_errors_in_a_command_are_one_line(tmp_path):
    _one_line_error(_run("demo", "--quick", "--minutes", "-1"), 1,
                    "rnnkit demo: error: --minutes must be a positive number, got -1.0")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    _one_line_error(_run("demo", "--quick", "--out", str(blocker / "sub")), 1,
                    "rnnkit demo: error:")


def test_adding_a_command_is_one_function(monkeypatch, capsys):
    calls = []

    def _add_echo(subparsers):
        p = subparsers.add_parser("echo", help="say something")
        p.add_argument("word")
        p.set_defaults(run=lambda args: calls.append(args.word) or 0)

    def _add_fail(subparsers):
        p = subparsers.add_parser("fail")
        p.set_defaults(run=lambda args: (_ for _ in ()).throw(ValueError("bad\ninput")))

    monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + [_add_echo, _add_fail])
    assert cli.main(["echo", "hi"]) == 0 and calls == ["hi"]
    assert cli.main(["fail"]) == 1
    assert capsys.readouterr().err == "rnnkit fail: error: bad input\n"
    monkeypatch.setenv("RNNKIT_DEBUG", "1")
    with pytest.raises(ValueError, match="bad"):
        cli.main(["fail"])


def test_demo_without_matplotlib_skips_the_plot(tmp_path, monkeypatch, capsys):
    from rnnkit.cli.demo import run_demo

    monkeypatch.setitem(sys.modules, "matplotlib", None)          # import matplotlib fails
    result = run_demo(out=str(tmp_path), quick=True, minutes=0.05, seed=0)
    out = capsys.readouterr().out
    assert "matplotlib is not installed: skipping the loss plot" in out
    assert "1 epoch(s) of 17 batches" in out                     # planned from a timing probe
    assert result["plot_path"] is None and not (tmp_path / "loss.png").exists()
    assert (tmp_path / "model.rnnkit").exists() and (tmp_path / "vocab.json").exists()
    assert len(result["history"]["val_loss"]) == 1
    # per-batch losses recovered from Keras 3's running means: 16 batches of 32, one of 27
    sizes = [32] * 16 + [539 - 16 * 32]
    assert len(result["batch_losses"]) == 17
    assert np.average(result["batch_losses"], weights=sizes) == \
        pytest.approx(result["history"]["loss"][0], rel=1e-9)


def test_time_budget_replans_and_stops(monkeypatch):
    from rnnkit.cli import demo

    class FakeModel:
        stop_training = False

    clock = [0.0]
    monkeypatch.setattr(demo.time, "perf_counter", lambda: clock[0])
    cb = demo._TimeBudget(seconds=100, planned=3, max_epochs=30, n_samples=100, batch_size=32)
    cb.set_model(FakeModel())
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    for step, mean in enumerate([4.0, 3.0, 2.0, 2.5]):        # running means; last batch of 4
        cb.on_train_batch_end(step, {"loss": mean})
    assert cb.batch_losses == pytest.approx([4.0, 2.0, 0.0, 2.5 * 100 / 4 - 2.0 * 96 / 4])
    assert cb.samples_seen == 100
    clock[0] = 30.0                                           # 30 s per epoch: 3 fit in 110 s
    cb.on_epoch_end(0)
    assert not cb.model.stop_training and cb.planned == 3
    cb.on_epoch_begin(1)
    clock[0] = 40.0                                           # 20 s per epoch: 5 fit
    cb.on_epoch_end(1)
    assert cb.model.stop_training and not cb.finished and cb.planned == 5
    cb.model.stop_training = False
    cb.on_train_begin()                                       # the caller resumes fit
    cb.on_epoch_begin(2)
    clock[0] = 100.0                                          # 33 s per epoch: 4th would end late
    cb.on_epoch_end(2)
    assert cb.model.stop_training and cb.finished and cb.planned == 5
    cb.finished = cb.model.stop_training = False
    cb.on_epoch_begin(3)
    clock[0] = 151.0                                          # past 1.5x the budget
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert cb.model.stop_training and cb.finished
    capped = demo._TimeBudget(seconds=100, planned=2, max_epochs=2, n_samples=100, batch_size=32)
    capped.set_model(FakeModel())
    clock[0] = 0.0
    capped.on_train_begin()
    for epoch in range(2):
        capped.on_epoch_begin(epoch)
        clock[0] += 1.0
        capped.on_epoch_end(epoch)
        assert capped.planned == 2 and capped.finished == (epoch == 1)


def test_demo_resumes_fit_when_more_epochs_fit_than_planned(tmp_path, monkeypatch, capsys):
    from rnnkit.cli import demo

    small = dataclasses.replace(demo.DemoConfig.quick(), max_epochs=3, gen_length=5)
    monkeypatch.setattr(demo.DemoConfig, "quick", classmethod(lambda cls: small))
    monkeypatch.setattr(demo, "_plan_epochs", lambda cfg, *a: (1, (1.0, 1.0)))  # pessimistic
    result = demo.run_demo(out=str(tmp_path), quick=True, minutes=1.0, seed=0)
    out = capsys.readouterr().out
    assert "3 epochs fit into 1 min" in out
    assert len(result["history"]["loss"]) == len(result["history"]["val_loss"]) == 3
    assert result["history"]["loss"][2] < result["history"]["loss"][0]
    assert len(result["batch_losses"]) == 3 * 17
