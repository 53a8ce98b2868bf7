"""The README's Keras program runs as written with real Keras and with rnnkit imported as
keras; rnnkit's best.keras opens in real Keras 3 with the same predictions."""

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _program():
    text = README.read_text()
    m = re.search(r"<!-- keras-program -->\n```python\n(.*?)```\n<!-- /keras-program -->",
                  text, re.S)
    assert m, "the README's Keras program is missing"
    return m.group(1)


def _run(code, cwd):
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONWARNINGS="ignore")
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_the_program_runs_in_rnnkit_and_keras_opens_its_checkpoint(tmp_path):
    pytest.importorskip("keras")
    code = _program()
    assert "import rnnkit as keras" in code
    _run(code, tmp_path)
    check = ("import numpy as np, keras, rnnkit\n"
             "x = np.random.default_rng(0).normal(size=(512, 20, 8)).astype('float32')\n"
             "a = keras.saving.load_model('best.keras').predict(x[448:], verbose=0)\n"
             "b = rnnkit.load_model('best.keras').predict(x[448:], verbose=0)\n"
             "print(float(np.abs(a - b).max()))\n")
    assert float(_run(check, tmp_path).strip().splitlines()[-1]) < 1e-5


def test_the_same_program_is_keras_code(tmp_path):
    pytest.importorskip("keras")
    code = _program().replace("import rnnkit as keras", "import keras").replace(
        "from rnnkit import layers", "from keras import layers")
    out = _run(code, tmp_path)
    loss, acc = [float(v) for v in re.findall(r"[-\d.e]+", out.strip().splitlines()[-1])[:2]]
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert (tmp_path / "best.keras").exists()
