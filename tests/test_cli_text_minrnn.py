"""``rnnkit train-text --cell mingru|minlstm|lnlstm --block residual``: the models it builds,
a run with generation and resume (subprocess, as a user), and a bad --block."""

import json

import numpy as np
import pytest

from rnnkit.cli.textlm import TextLMConfig, build_model
from rnnkit.layers import LayerNormLSTM, MinGRU, MinLSTM, ResidualBlock
from test_cli_text import SMALL, TEXT, _one_line_error, rnnkit

CELLS = {"mingru": MinGRU, "minlstm": MinLSTM, "lnlstm": LayerNormLSTM}


@pytest.mark.parametrize("cell", sorted(CELLS) + ["lstm", "gru"])
@pytest.mark.parametrize("block", ["plain", "residual"])
def test_build_model(cell, block):
    cfg = TextLMConfig(cell=cell, block=block, units=8, layers=2)
    cfg.check()
    model = build_model(cfg, 11)
    kinds = [type(l).__name__ for l in model.layers]
    if block == "residual":
        assert kinds == ["Embedding"] + ["ResidualBlock"] * 4 + ["Dense"]
        assert model.layers[1].layers[0].units == 8
        assert [type(l).__name__ for l in model.layers[2].layers] == ["Dense", "Dense"]
    else:
        assert kinds == ["Embedding"] + [type(model.layers[1]).__name__] * 2 + ["Dense"]
    if cell in CELLS:
        inner = model.layers[1].layers[0] if block == "residual" else model.layers[1]
        assert type(inner) is CELLS[cell]
    assert model.predict(np.zeros((2, 5), dtype=np.int64)).shape == (2, 5, 11)


def test_residual_mingru_run_generates_and_resumes(tmp_path):
    src = tmp_path / "hamlet.txt"
    src.write_text(TEXT)
    out = tmp_path / "run"
    args = ["train-text", str(src), *SMALL, "--cell", "mingru", "--block", "residual",
            "--layers", "2", "--out", str(out)]
    r = rnnkit(*args, "--epochs", "1")
    assert r.returncode == 0, r.stderr
    assert "bits/char" in r.stdout or "bpc" in r.stdout.lower(), r.stdout
    r = rnnkit(*args, "--epochs", "2", "--resume")
    assert r.returncode == 0, r.stderr
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 2 and state["config"]["block"] == "residual"
    g = rnnkit("generate", str(out), "--prime", "To be", "--length", "30", "--seed", "1")
    assert g.returncode == 0, g.stderr
    assert len(g.stdout) >= 30


def test_bad_block_is_one_line(tmp_path):
    src = tmp_path / "t.txt"
    src.write_text(TEXT)
    msg = _one_line_error(rnnkit("train-text", str(src), "--block", "highway"))
    assert "--block" in msg
