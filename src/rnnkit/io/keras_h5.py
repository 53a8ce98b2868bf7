"""Keras 3 weights: load ``.keras`` archives and ``.weights.h5`` files, write ``.weights.h5``.

``load_keras_weights(model, path)`` copies the weights a Keras 3 model saved (``model.save``
gives a ``.keras`` zip holding ``config.json``, ``metadata.json`` and ``model.weights.h5``;
``model.save_weights`` gives a bare ``.weights.h5``) into the same architecture built in rnnkit.
``save_keras_weights(model, path)`` writes a ``.weights.h5`` that Keras 3's
``model.load_weights(path)`` loads into the same architecture built in Keras. Layers are
matched as Keras matches them, by class and position, never by name: see
:mod:`rnnkit.io.keras_layout` for the file layout and the rule.

Only the weights travel: the architecture (units, activations, ``return_sequences``, GRU's
``reset_after``...) must be built the same on both sides. The optimizer variables that a
compiled Keras model adds to its files (``optimizer/vars``) are not read. ``config.json`` is
checked to be JSON but not turned into layers, so nothing in an archive decides what code runs.

Safety: the file is read as data only. h5py (the optional extra, ``pip install
'rnnkit[keras]'``) is imported inside these functions; rnnkit never imports Keras. Before a
single array is read, the file's size is checked against what the model could need, the zip's
member sizes are checked from its directory, every expected dataset must be there with the
model's own shape and a float dtype, soft and external links, external and virtual datasets
are refused, and no dataset may be left over. Only then are the arrays read (their total size
is the model's) and, once all are read, copied into the layers. Any failure is a
:class:`~rnnkit.errors.FileFormatError` naming the file, the layer, what was expected and
what came; the model is left unchanged.

>>> import numpy as np, os, tempfile, rnnkit
>>> from rnnkit.layers import Input, LSTM, Dense
>>> build = lambda: rnnkit.Sequential([Input((5, 3)), LSTM(4), Dense(2)])
>>> a, b = build(), build()
>>> path = os.path.join(tempfile.mkdtemp(), "m.weights.h5")
>>> save_keras_weights(a, path)
>>> load_keras_weights(b, path)
>>> x = np.ones((2, 5, 3), dtype="float32")
>>> bool(np.array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0)))
True
"""

import io
import json
import os
import zipfile

import numpy as np

from . import keras_layout
from ..errors import FileFormatError
from ..files import file_size, open_regular
from .safetensors_format import atomic_write

WEIGHTS_MEMBER = "model.weights.h5"          # the weights inside a .keras archive
JSON_MEMBERS = ("config.json", "metadata.json")
MAX_JSON_BYTES = 16 * 1024 * 1024
# a weights file may hold a little more than the model's values: HDF5's own structures
# (a few kB per group) and, in a .keras of a compiled model, the optimizer's variables
# (Adam: two moments per weight); anything bigger is refused before it is read
_SLACK_BYTES = 64 * 1024 * 1024
_BYTES_PER_VALUE = 4 * 8
_MAX_OBJECTS = 100_000                      # groups and datasets walked in one file
_MAX_DEPTH = 12
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Keras interop needs h5py: pip install 'rnnkit[keras]'") from None
    return h5py


def _size_limit(groups):
    n_values = sum(int(w.value.size) for g in groups for w in g.weights)
    return _SLACK_BYTES + _BYTES_PER_VALUE * n_values


# ---- bytes of the HDF5 file: from a .weights.h5 or from inside a .keras ------------------------
def _read_file(path, limit):
    try:
        with open_regular(path, "Keras file") as f:
            size = file_size(f)
            if size > limit:
                raise FileFormatError(f"{path}: {size} bytes, more than the {limit} bytes a "
                                      f"Keras file of this model's weights can need")
            return f.read(limit + 1)
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileFormatError(f"{path}: is a directory, expected a file") from None


def _read_member(zf, name, limit, path):
    infos = [i for i in zf.infolist() if i.filename == name]
    if len(infos) != 1:
        raise FileFormatError(f"{path}: a .keras archive holds one {name}, this zip holds "
                              f"{len(infos)} (members: {sorted(zf.namelist())[:10]})")
    if infos[0].file_size > limit:
        raise FileFormatError(f"{path}: {name} is {infos[0].file_size} bytes, more than the "
                              f"{limit} bytes allowed")
    with zf.open(infos[0]) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise FileFormatError(f"{path}: {name} is bigger than its directory entry says")
    return data


def _read_archive(data, path, limit):
    """The bytes of ``model.weights.h5`` from a .keras zip (JSON members checked as JSON)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            weights = _read_member(zf, WEIGHTS_MEMBER, limit, path)
            for name in JSON_MEMBERS:
                if name in zf.namelist():
                    text = _read_member(zf, name, MAX_JSON_BYTES, path)
                    if not isinstance(json.loads(text.decode("utf-8")), dict):
                        raise FileFormatError(f"{path}: {name} is not a JSON object")
            return weights
    except FileFormatError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise FileFormatError(f"{path}: a zip whose JSON members are not valid JSON "
                              f"({type(e).__name__})") from None
    except Exception as e:  # zipfile, zlib and struct errors of a corrupted archive
        raise FileFormatError(f"{path}: not a readable .keras archive "
                              f"({type(e).__name__}: {e})") from None


# ---- the HDF5 file -----------------------------------------------------------------------------
def _walk(h5py, group, prefix, found, budget, path, depth=0):
    """``found[path] = dataset`` for every dataset under ``group``; refuses links and oddities."""
    if depth > _MAX_DEPTH:
        raise FileFormatError(f"{path}: groups nested deeper than {_MAX_DEPTH} at {prefix!r}")
    for key in group.keys():
        budget[0] -= 1
        if budget[0] < 0:
            raise FileFormatError(f"{path}: more than {_MAX_OBJECTS} HDF5 objects")
        where = f"{prefix}/{key}" if prefix else key
        link = group.get(key, getlink=True)
        if not isinstance(link, h5py.HardLink):
            kind = type(link).__name__ if link is not None else "broken link"
            raise FileFormatError(f"{path}: {where!r} is a {kind}; only plain "
                                  f"groups and datasets are read")
        obj = group[key]
        if isinstance(obj, h5py.Dataset):
            found[where] = obj
        elif isinstance(obj, h5py.Group):
            _walk(h5py, obj, where, found, budget, path, depth + 1)
        else:
            raise FileFormatError(f"{path}: {where!r} is neither a group nor a dataset")


def _plan(f, h5py, groups, path):
    """The arrays for every weighted group, each checked before it is read."""
    datasets = {}
    _walk(h5py, f, "", datasets, [_MAX_OBJECTS], path)
    layer_sets = {p for p in datasets if p.startswith("layers/")}
    held = sorted({"/".join(p.split("/")[:2]) for p in layer_sets})
    planned, used = [], set()
    for g in groups:
        if not g.weights:
            continue
        names = [str(k) for k in range(len(g.weights))]
        present = sorted(p.rsplit("/", 1)[1] for p in datasets if p.rsplit("/", 1)[0] == g.path)
        if not present:
            raise FileFormatError(
                f"{path}: {g.owner} expects Keras weights at {g.path!r}, the file has none "
                f"there (it holds weights for {held or 'no layers'}); build the same "
                f"architecture as the Keras model, layers of each class in the same order")
        if sorted(present) != sorted(names):
            raise FileFormatError(
                f"{path}: {g.owner} expects {len(names)} arrays "
                f"({', '.join(w.name for w in g.weights)}) at {g.path!r}, the file has "
                f"{len(present)} ({', '.join(present)})")
        arrays = []
        for k, w in zip(names, g.weights):
            ds = datasets[f"{g.path}/{k}"]
            if ds.shape != w.shape:
                raise FileFormatError(f"{path}: {g.owner}: weight {w.name!r} ({g.path}/{k}) "
                                      f"expects shape {w.shape}, the file has {ds.shape}")
            if ds.dtype.kind != "f" or ds.dtype.itemsize not in (2, 4, 8):
                raise FileFormatError(f"{path}: {g.owner}: weight {w.name!r} ({g.path}/{k}) "
                                      f"expects float values, the file has dtype {ds.dtype}")
            if ds.external or ds.is_virtual:
                raise FileFormatError(f"{path}: {g.path}/{k} keeps its data outside the file "
                                      f"(external or virtual dataset); refused")
            arrays.append((w, ds))
            used.add(f"{g.path}/{k}")
        planned.append(arrays)
    extra = sorted(layer_sets - used)
    if extra:
        raise FileFormatError(
            f"{path}: the file holds weights the rnnkit model has no place for: {extra[:6]} "
            f"(the model's weighted layers map to "
            f"{sorted({g.top for g in groups if g.weights}) or 'nothing'}); build the same "
            f"architecture as the Keras model")
    values = []
    for arrays in planned:
        for w, ds in arrays:
            value = np.asarray(ds[()])
            if value.shape != w.shape:
                raise FileFormatError(f"{path}: {ds.name} read back as shape {value.shape}")
            values.append((w, value))
    return values


def load_keras_weights(model, path):
    """Copy the weights of a Keras 3 ``.keras`` or ``.weights.h5`` file into ``model``.

    Args:
        model: a built rnnkit Sequential or functional Model with the Keras model's
            architecture (layers of each class in the same order; names do not matter).
        path: a ``.keras`` archive or a ``.weights.h5`` file (told apart by their first bytes).

    Raises:
        FileFormatError: the file is not a readable Keras weights file, or it does not fit the
            model (a layer missing or extra, a shape or a count that differs); the message
            names the layer, what was expected and what the file has. The model is unchanged.
        ValueError: the model is not built or has a layer Keras interop does not cover.
        ImportError: h5py is not installed.
    """
    h5py = _h5py()
    path = os.fspath(path)
    groups = keras_layout.layout(model)
    limit = _size_limit(groups)
    data = _read_file(path, limit)
    if data.startswith(_ZIP_MAGIC):
        data = _read_archive(data, path, limit)
        where = f"{path} ({WEIGHTS_MEMBER})"
    else:
        where = path
    if not data.startswith(_HDF5_MAGIC):
        raise FileFormatError(f"{where}: neither a Keras .keras archive nor an HDF5 "
                              f".weights.h5 file (it starts with {data[:8]!r})")
    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            values = _plan(f, h5py, groups, where)
    except FileFormatError:
        raise
    except Exception as e:  # h5py/HDF5 errors of a corrupted file: OSError, KeyError, ...
        raise FileFormatError(f"{where}: not a readable HDF5 weights file "
                              f"({type(e).__name__}: {e})") from None
    for w, value in values:
        w.assign(value.astype(w.dtype, copy=False))


def save_keras_weights(model, path):
    """Write ``model``'s weights as a Keras 3 ``.weights.h5`` (atomically).

    Keras's ``model.load_weights(path)`` then loads them into the same architecture built in
    Keras; the groups, their ``name`` attributes and the datasets are laid out as Keras 3
    writes them. ``path`` must end in ``.weights.h5``, as Keras requires to load it.
    """
    path = os.fspath(path)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"{path}: a Keras weights file must end in .weights.h5 (Keras's "
                         f"load_weights needs that name)")
    atomic_write(path, [keras_weights_bytes(model)])


def keras_weights_bytes(model):
    """The bytes of ``model``'s Keras 3 weights file (``model.weights.h5``)."""
    h5py = _h5py()
    groups = keras_layout.layout(model)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for g in groups:
            vars_group = f.require_group(g.path)
            vars_group.attrs["name"] = g.name
            for k, w in enumerate(g.weights):
                vars_group.create_dataset(str(k), data=w.value)
        f.require_group("layers")
        f.require_group("vars").attrs["name"] = getattr(model, "name", "model")
    return buf.getvalue()
