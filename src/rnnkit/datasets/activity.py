"""Activity recognition series from the sktime wheel: BasicMotions and GunPoint.

Both are problems of the UEA & UCR time-series classification archive, shipped as ``.ts`` files
inside the ``sktime==1.2.0`` wheel (read as the zip file it is, never installed)::

    pip download --no-deps sktime==1.2.0 -d ~/.cache/rnnkit/wheels

* **BasicMotions** (``sktime/datasets/data/BasicMotions/``): four students wore a smart watch
  while standing, walking, running and playing badminton; 3-D accelerometer + 3-D gyroscope
  at 10 Hz for 10 s: 6 channels x 100 steps; 40 training and 40 test cases, 10 per class.
* **GunPoint** (``sktime/datasets/data/GunPoint/``): the x coordinate of an actor's right hand,
  tracked in video, while drawing a gun from a holster and pointing it ("Gun-Draw", label
  ``1``) or pointing a finger ("Point", ``2``): 1 channel x 150 steps; 50 training and 150
  test cases.

The archive's own TRAIN/TEST split is kept: the test cases are the held-out set.

>>> (x_train, y_train), (x_test, y_test), names = load_basic_motions()   # doctest: +SKIP
>>> x_train.shape, x_test.shape, names                                    # doctest: +SKIP
((40, 100, 6), (40, 100, 6), ['Standing', 'Running', 'Walking', 'Badminton'])
"""

import numpy as np

from .sources import find_wheel, load_cached_arrays, read_wheel_member, save_cached_arrays
from .ts_format import read_ts

SKTIME_VERSION = "1.2.0"
DATA_DIR = "sktime/datasets/data"
GUNPOINT_CLASS_NAMES = {"1": "Gun-Draw", "2": "Point"}


def load_ts_problem(problem, path=None, cache=True):
    """``(x_train, y_train), (x_test, y_test), class_names`` of an archive problem in the wheel.

    Args:
        problem: the folder name inside ``sktime/datasets/data`` (e.g. ``"BasicMotions"``);
            its ``PROBLEM_TRAIN.ts`` and ``PROBLEM_TEST.ts`` are read.
        path: the sktime 1.2.0 wheel, or a folder holding it (default: ``data_home()/wheels``).
        cache: keep the parsed arrays in ``data_home()/cache``.

    Returns:
        x float32 ``(N, T, C)``; y int64 ``(N,)`` indices into ``class_names``, the labels in
        the order of the ``@classLabel`` header.

    Raises:
        MissingDataError: no wheel, or no such problem in it.
        ValueError: a malformed ``.ts`` file (with its name and line), or train and test files
            whose classes or shapes disagree.
    """
    wheel = find_wheel("sktime", SKTIME_VERSION, path, what=f"{problem} data")
    key = f"ts_{problem}_{wheel.name}_{wheel.stat().st_size}.npz"
    arrays = load_cached_arrays(key) if cache else None
    if arrays is None:
        arrays = {}
        for part in ("TRAIN", "TEST"):
            member = f"{DATA_DIR}/{problem}/{problem}_{part}.ts"
            x, labels, meta = read_ts(read_wheel_member(wheel, member),
                                      name=f"{wheel.name}/{member}")
            names = meta.get("classLabels") or []
            if not labels:
                raise ValueError(f"{wheel.name}/{member}: no class labels (@classLabel false)")
            if "names" in arrays and list(arrays["names"]) != names:
                raise ValueError(f"{wheel.name}/{member}: classes {names} differ from the "
                                 f"training file's {list(arrays['names'])}")
            if "x_TRAIN" in arrays and arrays["x_TRAIN"].shape[1:] != x.shape[1:]:
                raise ValueError(f"{wheel.name}/{member}: cases of shape {x.shape[1:]}, the "
                                 f"training file's are {arrays['x_TRAIN'].shape[1:]}")
            index = {c: i for i, c in enumerate(names)}
            arrays[f"x_{part}"] = x
            arrays[f"y_{part}"] = np.array([index[c] for c in labels], dtype=np.int64)
            arrays["names"] = np.array(names)
        if cache:
            save_cached_arrays(key, **arrays)
    names = [str(n) for n in arrays["names"]]
    return ((arrays["x_TRAIN"], arrays["y_TRAIN"]), (arrays["x_TEST"], arrays["y_TEST"]), names)


def load_basic_motions(path=None, cache=True):
    """BasicMotions: 6-channel smart-watch motion, 4 activities; 40 train / 40 test cases.

    Returns ``(x_train, y_train), (x_test, y_test), class_names`` with x float32
    ``(40, 100, 6)`` (accelerometer x, y, z then gyroscope x, y, z) and class_names
    ``['Standing', 'Running', 'Walking', 'Badminton']`` (the file's order). See
    ``load_ts_problem`` for ``path`` and the errors.
    """
    return load_ts_problem("BasicMotions", path, cache)


def load_gunpoint(path=None, cache=True):
    """GunPoint: the hand's x position tracked in video, Gun-Draw vs Point; 50 / 150 cases.

    Returns ``(x_train, y_train), (x_test, y_test), class_names`` with x float32
    ``(N, 150, 1)`` and class_names ``['Gun-Draw', 'Point']`` (the file calls them 1 and 2).
    """
    train, test, names = load_ts_problem("GunPoint", path, cache)
    return train, test, [GUNPOINT_CLASS_NAMES.get(n, n) for n in names]
