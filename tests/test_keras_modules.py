"""Keras's module paths under rnnkit (issue: Keras code runs with the import changed):
``keras.utils``, ``keras.preprocessing.sequence``, ``keras.models.load_model``,
``keras.saving``, and ``rnnkit.data`` loaded by ``import rnnkit``."""

import hashlib
import os
import random
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest

import rnnkit
from rnnkit import layers


def test_import_rnnkit_loads_the_keras_modules():
    code = ("import rnnkit; rnnkit.data.pad_sequences; rnnkit.utils.to_categorical; "
            "rnnkit.preprocessing.sequence.pad_sequences; rnnkit.saving.load_model; "
            "rnnkit.models.load_model; import sys; print('mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_keras_style_imports():
    from rnnkit.models import load_model
    from rnnkit.preprocessing.sequence import pad_sequences
    from rnnkit.saving import load_model as saving_load_model
    from rnnkit.utils import pad_sequences as utils_pad, timeseries_dataset_from_array
    assert pad_sequences is utils_pad is rnnkit.data.pad_sequences
    assert load_model is saving_load_model is rnnkit.load_model
    assert timeseries_dataset_from_array is rnnkit.data.timeseries_dataset_from_array
    assert rnnkit.preprocessing.timeseries_dataset_from_array is timeseries_dataset_from_array


def test_to_categorical_matches_keras_semantics():
    from rnnkit.utils import to_categorical
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), np.eye(3)[[0, 2, 1]])
    assert to_categorical([[1], [0]], num_classes=4).shape == (2, 4)      # (N, 1) -> (N, C)
    y = np.array([[0, 1, 2], [2, 1, 0]])
    out = to_categorical(y, 3)
    assert out.shape == (2, 3, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out.argmax(-1), y)
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0]), 2), [[0, 1], [1, 0]])


@pytest.mark.parametrize("bad, err, words", [
    (([0, 3], 3), ValueError, "out of range for num_classes=3"),
    (([-1, 0], None), ValueError, ">= 0"),
    (([0.5], None), ValueError, "non-integer"),
    ((["a"], None), TypeError, "dtype"),
    (([0], 0), ValueError, "positive int"),
])
def test_to_categorical_bad_input(bad, err, words):
    from rnnkit.utils import to_categorical
    with pytest.raises(err, match=words):
        to_categorical(*bad)


def test_set_random_seed_seeds_python_numpy_and_rnnkit():
    from rnnkit.utils import set_random_seed

    def draw():
        w = layers.Dense(3)
        w.build((None, 2))
        return random.random(), np.random.rand(), w.get_weights()[0].copy()

    set_random_seed(7)
    a = draw()
    set_random_seed(7)
    b = draw()
    assert a[0] == b[0] and a[1] == b[1]
    np.testing.assert_array_equal(a[2], b[2])
    with pytest.raises(ValueError, match="non-negative int"):
        set_random_seed(-1)


def test_get_file_from_a_local_path_then_the_cache(tmp_path):
    from rnnkit.utils import get_file
    src = tmp_path / "data.txt"
    src.write_bytes(b"hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    cache = tmp_path / "cache"
    path = get_file("data.txt", origin=str(src), file_hash=digest, cache_dir=cache)
    assert path == str(cache / "datasets" / "data.txt") and open(path, "rb").read() == b"hello"
    src.unlink()                                        # now only the cache has it
    assert get_file("data.txt", origin="https://example.invalid/data.txt",
                    cache_dir=cache) == path
    assert get_file(origin=f"file://{path}", cache_dir=cache, cache_subdir="other").endswith(
        os.path.join("other", "data.txt"))
    with pytest.raises(ValueError, match="does not match"):
        get_file("data.txt", origin=None, file_hash="0" * 64, cache_dir=cache)


def test_get_file_never_downloads(tmp_path):
    from rnnkit.utils import get_file
    with pytest.raises(FileNotFoundError, match="rnnkit does not download: put the file at"):
        get_file("x.zip", origin="https://example.invalid/x.zip", cache_dir=tmp_path)


def test_get_file_extracts_archives_and_refuses_escapes(tmp_path):
    from rnnkit.utils import get_file
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("inner/a.txt", "A")
    out = get_file("good.zip", origin=str(good), extract=True, cache_dir=tmp_path / "c")
    assert open(os.path.join(out, "inner", "a.txt")).read() == "A"
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as t:
        f = tmp_path / "p.txt"
        f.write_text("x")
        t.add(f, arcname="../escaped.txt")
    with pytest.raises(ValueError, match="outside"):
        get_file("bad.tar", origin=str(bad), extract=True, cache_dir=tmp_path / "c")
    assert not (tmp_path / "c" / "escaped.txt").exists()


def test_saving_module_round_trip(tmp_path):
    model = rnnkit.Sequential([layers.Input((4, 3)), layers.LSTM(2)])
    path = str(tmp_path / "m.rnnkit")
    rnnkit.saving.save_model(model, path)
    again = rnnkit.models.load_model(path)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0))
