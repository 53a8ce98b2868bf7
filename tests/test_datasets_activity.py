"""The ``.ts`` reader and the BasicMotions / GunPoint loaders, on the sktime wheel's real files.

The wheel is found where rnnkit looks for it (``$RNNKIT_DATA/wheels``; ``make test`` downloads
it); the tests that need it skip with the reason when it is absent. Caches go to a temporary
folder.
"""

import zipfile

import numpy as np
import pytest

from rnnkit.datasets.activity import load_basic_motions, load_gunpoint, load_ts_problem
from rnnkit.datasets.sources import MissingDataError, find_wheel
from rnnkit.datasets.ts_format import read_ts

HEADER = ("# comment\n@problemName toy\n@dimensions 2\n@seriesLength 3\n"
          "@classLabel true a b\n@data\n")


@pytest.fixture
def sktime_wheel(tmp_path, monkeypatch):
    """The real sktime wheel (or skip); the parse cache is redirected to tmp_path."""
    try:
        wheel = find_wheel("sktime", "1.2.0")
    except MissingDataError as e:
        pytest.skip(str(e))
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "data_home"))
    return wheel


# --- read_ts ------------------------------------------------------------------------------

def test_read_ts_multichannel_with_labels_and_metadata():
    x, labels, meta = read_ts(HEADER + "1,2,3:4,5,6:a\n\n7,8,9:-1,0.5,1e1:b\n")
    assert x.shape == (2, 3, 2) and x.dtype == np.float32
    assert x[1, :, 1].tolist() == [-1.0, 0.5, 10.0] and x[0, :, 0].tolist() == [1, 2, 3]
    assert labels == ["a", "b"]
    assert meta == {"problemName": "toy", "dimensions": 2, "seriesLength": 3,
                    "classLabel": True, "classLabels": ["a", "b"]}


def test_read_ts_univariate_without_labels_case_insensitive_keys(tmp_path):
    p = tmp_path / "u.ts"
    p.write_text("@ProblemName u\n@UNIVARIATE true\n@classlabel false\n@data\n1,2\n3,4\n")
    x, labels, meta = read_ts(p)
    assert x.shape == (2, 2, 1) and labels == [] and meta["univariate"] is True
    assert meta["classLabel"] is False


@pytest.mark.parametrize("body, line, what", [
    ("1,2,3:4,5,6:c\n", 7, "class label 'c' is not one of"),
    ("1,2,3:4,5:a\n", 7, "channels of unequal length"),
    ("1,2,3:4,5,6:a\n1,2:3,4:b\n", 8, "a case of 2 steps x 2 channels, expected 3 x 2"),
    ("1,2,3:a\n", 7, "a case of 3 steps x 1 channels, expected 3 x 2"),
    ("1,?,3:4,5,6:a\n", 7, "missing values"),
    ("1,x,3:4,5,6:a\n", 7, "channel 0: not a number: 'x'"),
    ("1,2,3:4,5,6:a\n@dimensions 2\n", 8, "header @dimensions after @data"),
])
def test_read_ts_data_errors_name_the_line(body, line, what):
    with pytest.raises(ValueError) as e:
        read_ts(HEADER + body, name="bad.ts")
    assert f"bad.ts:{line}:" in str(e.value) and what in str(e.value)


@pytest.mark.parametrize("text, what", [
    ("@problemName p\n1,2:a\n", "bad.ts:2: expected an @header or @data line"),
    ("@problemName p\n@colour blue\n@data\n", "bad.ts:2: unknown header @colour"),
    ("@dimensions two\n@data\n", "bad.ts:1: @dimensions must be a positive integer"),
    ("@univariate maybe\n@data\n", "bad.ts:1: @univariate must be true or false"),
    ("@timeStamps true\n@data\n", "bad.ts:2: @timeStamps true is not supported"),
    ("@equalLength false\n@data\n", "bad.ts:2: @equalLength false"),
    ("@classLabel true\n@data\n", "bad.ts:1: @classLabel true needs the class names"),
    ("@problemName p\n", "bad.ts:1: no @data line"),
    ("@problemName p\n@data\n\n", "bad.ts:3: no cases after @data"),
])
def test_read_ts_header_errors(text, what):
    with pytest.raises(ValueError, match=what):
        read_ts(text, name="bad.ts")


# --- the loaders on the real wheel --------------------------------------------------------

def test_load_basic_motions_real_wheel(sktime_wheel, tmp_path):
    (x_train, y_train), (x_test, y_test), names = load_basic_motions(sktime_wheel)
    assert x_train.shape == x_test.shape == (40, 100, 6) and x_train.dtype == np.float32
    assert names == ["Standing", "Running", "Walking", "Badminton"]
    assert np.bincount(y_train).tolist() == np.bincount(y_test).tolist() == [10, 10, 10, 10]
    # the first training case begins 0.079106,0.079106,-0.903497 on channel 0 (a Standing case)
    np.testing.assert_allclose(x_train[0, :3, 0], [0.079106, 0.079106, -0.903497], rtol=1e-6)
    assert y_train[0] == names.index("Standing")
    # running shakes the watch more than standing: accelerometer spread per class
    spread = [x_train[y_train == k, :, :3].std() for k in range(4)]
    assert spread[names.index("Running")] > 3 * spread[names.index("Standing")]
    assert list((tmp_path / "data_home" / "cache").glob("ts_BasicMotions_*.npz"))
    (x2, _), (x3, y3), names2 = load_basic_motions(sktime_wheel)        # from the cache
    np.testing.assert_array_equal(x2, x_train)
    np.testing.assert_array_equal(y3, y_test)
    assert names2 == names


def test_load_gunpoint_real_wheel(sktime_wheel):
    (x_train, y_train), (x_test, y_test), names = load_gunpoint(sktime_wheel.parent)
    assert x_train.shape == (50, 150, 1) and x_test.shape == (150, 150, 1)
    assert names == ["Gun-Draw", "Point"]
    assert set(y_train.tolist()) == set(y_test.tolist()) == {0, 1}
    # the series are z-normalised per case in the archive (mean 0, sample std 1): float32 read
    # of the text gives |mean| <= 5e-8 and |std - 1| <= 1.2e-7
    for x in (x_train, x_test):
        np.testing.assert_allclose(x[:, :, 0].mean(axis=1), 0, atol=1e-6)
        np.testing.assert_allclose(x[:, :, 0].std(axis=1, ddof=1), 1, rtol=1e-6)


# --- missing and bad sources --------------------------------------------------------------

def test_missing_wheel_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    with pytest.raises(MissingDataError) as e:
        load_basic_motions()
    assert "pip download --no-deps sktime==1.2.0" in str(e.value) and "\n" not in str(e.value)


def test_missing_problem_and_bad_file_in_wheel(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    wheel = tmp_path / "sktime-1.2.0-py3-none-any.whl"
    folder = "sktime/datasets/data/Toy"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"{folder}/Toy_TRAIN.ts", HEADER + "1,2,3:4,5,6:a\n")
        z.writestr(f"{folder}/Toy_TEST.ts", HEADER + "1,2,3:4,5,6:a\n1,2,3:4,5,6\n")
    with pytest.raises(MissingDataError, match="BasicMotions_TRAIN.ts"):
        load_basic_motions(wheel, cache=False)
    with pytest.raises(ValueError, match=r"Toy_TEST\.ts:8: class label '4,5,6' is not one of"):
        load_ts_problem("Toy", wheel, cache=False)
