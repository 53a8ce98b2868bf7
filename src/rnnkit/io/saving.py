"""``model.save`` / ``rnnkit.load_model`` and ``save_weights`` / ``load_weights``.

One file holds everything, in the safetensors format (see :mod:`rnnkit.io.safetensors_format`):
the weights as tensors named ``weights/<index>/<weight path>``, the optimizer's state as
``optimizer/<name>``, and in the header's metadata the architecture and the compile arguments as
JSON. No pickle and no code: loading reads JSON and raw numbers, checks every name and shape
against the rebuilt model, and only then copies the values in. A loaded model predicts
bit-for-bit what the saved one did, in the float type it was saved with (the file records
``floatx``; a model saved under float64 stays float64 when loaded under float32). The state
of every layer's random generator (dropout masks) is saved too, as Keras 3 saves its seed
generators, so training resumed after ``load_model`` draws the same masks it would have drawn.

Weights are matched by position (``<index>``, the ``get_weights`` order) and by the weight's
own name (``kernel``, ``bias``...), not by layer names: layer names are made up per session
(``lstm``, ``lstm_1``...), so, as in Keras 3, ``load_weights`` works on a second copy of the
same architecture. ``load_weights`` also takes a plain safetensors file (from
``safetensors.numpy.save_file``) whose tensors use these names.

    >>> import numpy as np, os, tempfile, rnnkit
    >>> model = rnnkit.Sequential([rnnkit.layers.Input((5, 3)), rnnkit.layers.LSTM(4)])
    >>> path = os.path.join(tempfile.mkdtemp(), "m.rnnkit")
    >>> model.save(path)
    >>> x = np.ones((2, 5, 3), dtype="float32")
    >>> bool(np.array_equal(rnnkit.load_model(path).predict(x), model.predict(x)))
    True
"""

import copy
import functools
import json
import os
import operator
import re

import numpy as np

from .. import config
from ..errors import FileFormatError
from ..files import open_regular
from ..layers import registry
from ..layers.base import weight_budget
from . import keras_model
from .safetensors_format import load, read_header, save

FORMAT = "rnnkit.model"
WEIGHTS_FORMAT = "rnnkit.weights"
VERSION = "1"
_KEY = re.compile(r"weights/([0-9]{1,12})/(.+)")   # ASCII digits, never a 5000-digit int


# While load_model rebuilds an architecture, the layers may create only as many weight values
# as the file's own weight tensors hold (their sizes were checked against the file's size), plus
# a slack of 2**20 values that lets a slightly wrong architecture reach the precise
# shape-mismatch message: a Dense of 10**9 units in a 10 kB file fails before allocating.
_BUDGET_SLACK = 2**20


def _weight_key(i, w):
    return f"weights/{i:05d}/{w.path}"


def _weights_dict(model):
    return {_weight_key(i, w): w.value for i, w in enumerate(model.weights)}


def _generators(model):
    """``{"<position>/<class>/<attribute>": generator}`` for every layer's numpy Generator."""
    found, seen = {}, set()
    for i, layer in enumerate(model.iter_layers()):
        for attr, value in sorted(vars(layer).items()):
            # one entry per generator (a layer given a Generator as seed holds it twice)
            if isinstance(value, np.random.Generator) and id(value) not in seen:
                seen.add(id(value))
                found[f"{i}/{type(layer).__name__}/{attr}"] = value
    return found


def _rng_states(model):
    states = {}
    for key, gen in _generators(model).items():
        state = gen.bit_generator.state
        try:
            json.dumps(state)
        except TypeError:
            continue                      # a bit generator whose state is not plain JSON
        states[key] = state
    return json.dumps(states)


def _rng_assignments(model, path, meta):
    """``[(generator, state)]`` for the file's random generator states, every one checked on a
    scratch generator of the same kind before any is assigned."""
    if "rng_states" not in meta:
        return []
    states = _json(path, meta, "rng_states")
    gens = _generators(model)
    if not isinstance(states, dict):
        raise FileFormatError(f"{path}: the 'rng_states' entry is not a JSON object")
    pairs = []
    for key, state in states.items():
        if key not in gens:
            raise FileFormatError(f"{path}: random generator state {key!r} matches no layer "
                                  f"of the rebuilt model")
        try:
            type(gens[key].bit_generator)().state = state
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
            raise FileFormatError(f"{path}: bad random generator state {key!r}: {e}") from None
        pairs.append((gens[key], state))
    return pairs


def _restore_rng_states(model, path, meta):
    for gen, state in _rng_assignments(model, path, meta):
        gen.bit_generator.state = state


def _state(model, strict):
    """``(tensors, metadata)`` of a model file: weights, architecture, random generator states
    and, for a compiled model, the compile arguments and the optimizer's slots.

    ``strict=False`` (checkpoints of a live run) leaves out an architecture or compile arguments
    that are not JSON instead of failing: the run restores into its own live model."""
    tensors = _weights_dict(model)
    meta = {"format": FORMAT, "format_version": VERSION, "floatx": config.floatx(),
            "rng_states": _rng_states(model)}
    try:
        meta["model"] = json.dumps(registry.serialize(model))
    except (TypeError, ValueError):
        if strict:
            raise
    if getattr(model, "compiled_loss", None) is not None:
        try:
            meta["compile"] = json.dumps(model._compile_config())
        except TypeError as e:
            if strict:
                raise ValueError(f"{model.name}: cannot save the compile arguments as JSON "
                                 f"({e}); a callable learning rate cannot be saved: set a "
                                 "float first, or save_weights() only") from None
        for name, array in model.optimizer.get_state().items():
            tensors[f"optimizer/{name}"] = np.asarray(array)
    return tensors, meta


def save_model(model, path):
    """Write the architecture, the weights and (if compiled) the optimizer state to ``path``.

    The file name picks the format, as in Keras: ``.keras`` writes Keras 3's archive
    (:func:`rnnkit.io.keras_model.save_keras_model`: architecture and weights, which real Keras
    opens); any other name rnnkit's own safetensors file (``.rnnkit`` by convention). A legacy
    Keras ``.h5``/``.hdf5`` name is refused rather than given a file of another format.
    """
    name = os.fspath(path)
    if name.endswith(".keras"):
        return keras_model.save_keras_model(model, name)
    if name.endswith((".h5", ".hdf5")):
        raise ValueError(f"{name}: rnnkit does not write Keras's legacy HDF5 model format; save "
                         "as .keras (Keras 3's format) or .rnnkit (rnnkit's own), or use "
                         "save_weights('....weights.h5') for Keras weights")
    tensors, meta = _state(model, strict=True)
    save(path, tensors, meta)


def write_checkpoint(model, path, extra):
    """Write a training checkpoint of ``model`` to ``path`` atomically: what :func:`save_model`
    writes (an architecture or compile arguments that are not JSON are left out), plus the
    caller's ``extra`` metadata entries (``{name: JSON string}``)."""
    tensors, meta = _state(model, strict=False)
    meta.update(extra)
    save(path, tensors, meta)


def restore_checkpoint(model, path, tensors, meta):
    """Put a checkpoint read with ``safetensors_format.load`` back into the live ``model``:
    weights, random generator states and optimizer slots.

    Everything is checked first (names, positions, shapes, dtypes, generator states); nothing
    of the model changes unless all of it fits. Optimizer slots are keyed by weight path, and
    paths hold per-session layer names (lstm, lstm_1...): the saved paths are mapped to this
    model's, position by position.
    """
    header = {k: {"shape": list(v.shape), "dtype": _DTYPE_CODES.get(v.dtype, str(v.dtype))}
              for k, v in tensors.items()}
    pairs = _match(model, path, header)
    rng = _rng_assignments(model, path, meta)
    renamed = {key[key.index("/", len("weights/")) + 1:]: w.path for key, w in pairs}
    opt = {}
    for k, v in tensors.items():
        if k.startswith("optimizer/"):
            name = k[len("optimizer/"):]
            wpath, sep, slot = name.rpartition("/")
            opt[renamed[wpath] + sep + slot if sep and wpath in renamed else name] = v
    optimizer = getattr(model, "optimizer", None) if opt else None
    if optimizer is not None:                  # checked on a copy before anything is assigned
        try:
            copy.copy(optimizer).set_state(opt)
        except (ValueError, TypeError, KeyError, OverflowError) as e:
            raise FileFormatError(f"{path}: bad optimizer state: {e}") from None
    model.set_weights([tensors[key] for key, _ in pairs])
    for gen, state in rng:
        gen.bit_generator.state = state
    if optimizer is not None:
        optimizer.set_state(opt)


_DTYPE_CODES = {np.dtype("float16"): "F16", np.dtype("float32"): "F32",
                np.dtype("float64"): "F64"}


def save_weights(model, path):
    """Write only the weights (in ``get_weights`` order, keyed by weight path) to ``path``."""
    save(path, _weights_dict(model), {"format": WEIGHTS_FORMAT, "format_version": VERSION})


def _check_format(path, meta, expected_format):
    fmt = meta.get("format")
    if fmt not in (FORMAT, WEIGHTS_FORMAT):
        raise FileFormatError(f"{path}: a safetensors file, but not one rnnkit wrote "
                              f"(format {fmt!r})")
    if expected_format == FORMAT and fmt != FORMAT:
        raise FileFormatError(f"{path}: holds only weights; build the model and call "
                              "model.load_weights(path) instead")
    if meta.get("format_version") != VERSION:
        raise FileFormatError(f"{path}: format version {meta.get('format_version')!r}, this "
                              f"rnnkit reads version {VERSION}")


def _json(path, meta, key):
    try:
        return json.loads(meta[key])
    except KeyError:
        raise FileFormatError(f"{path}: the file has no {key!r} entry") from None
    except (json.JSONDecodeError, RecursionError):
        raise FileFormatError(f"{path}: the {key!r} entry is not valid JSON") from None


def _split(tensors):
    weights = {k: v for k, v in tensors.items() if k.startswith("weights/")}
    opt = {k[len("optimizer/"):]: v for k, v in tensors.items() if k.startswith("optimizer/")}
    other = sorted(k for k in tensors if k not in weights and not k.startswith("optimizer/"))
    return weights, opt, other


def _match(model, path, header, note=""):
    """``[(file tensor name, model weight)]`` in the model's order, from the header alone: every
    name, position and shape is checked before any tensor is read."""
    expected = list(model.weights)
    by_index, unknown = {}, []
    for key in header:
        if key == "__metadata__" or key.startswith("optimizer/"):
            continue
        m = _KEY.fullmatch(key)
        if m is None:
            unknown.append(key)
            continue
        i = int(m.group(1))
        if i in by_index:
            raise FileFormatError(f"{path}: two tensors claim weight position {i}: "
                                  f"{by_index[i]!r} and {key!r}")
        by_index[i] = key
    missing = [_weight_key(i, w) for i, w in enumerate(expected) if i not in by_index]
    extra = unknown + [by_index[i] for i in sorted(by_index) if i >= len(expected)]
    if missing or extra:
        raise FileFormatError(f"{path}: {note}the weights do not match the model "
                              f"({len(expected)} weights): missing {missing or 'none'}, "
                              f"unexpected {extra or 'none'}")
    pairs = []
    for i, w in enumerate(expected):
        key = by_index[i]
        name_in_file = key.rsplit("/", 1)[-1]
        if name_in_file != w.path.rsplit("/", 1)[-1]:
            raise FileFormatError(f"{path}: weight {i} is {key!r} in the file, but the model's "
                                  f"weight {i} is {w.path!r}")
        info = header[key]
        if tuple(info["shape"]) != w.shape:
            raise FileFormatError(f"{path}: weight {key!r} has shape {tuple(info['shape'])} in "
                                  f"the file, the model's {w.path!r} has shape {w.shape}")
        if info["dtype"] not in ("F16", "F32", "F64"):
            raise FileFormatError(f"{path}: weight {key!r} has dtype {info['dtype']}, "
                                  f"expected a float type")
        pairs.append((key, w))
    return pairs


def _assign(model, path, header, note=""):
    pairs = _match(model, path, header, note)
    tensors, _ = load(path)
    model.set_weights([tensors[key] for key, _ in pairs])
    return tensors


def load_model(path, custom_objects=None, compile=True):
    """Rebuild the model saved at ``path`` with its weights (and compiled state).

    A Keras 3 ``.keras`` archive (told by its zip signature) is read by
    :func:`rnnkit.io.keras_model.load_keras_model`; anything else must be rnnkit's own file.
    """
    if _is_zip(path):
        return keras_model.load_keras_model(path)
    header, _ = read_header(path)
    meta = header.get("__metadata__", {})
    _check_format(path, meta, FORMAT)
    spec = _json(path, meta, "model")
    if not isinstance(spec, dict) or "class_name" not in spec or "config" not in spec:
        raise FileFormatError(f"{path}: the architecture entry is not a layer description")
    saved_floatx = meta.get("floatx", config.floatx())
    if saved_floatx not in ("float16", "float32", "float64"):
        raise FileFormatError(f"{path}: unknown floatx {saved_floatx!r}")
    budget = _BUDGET_SLACK + sum(functools.reduce(operator.mul, info["shape"], 1)
                                 for key, info in header.items() if key.startswith("weights/"))
    try:
        with weight_budget(budget, path):
            model = _deserialize_model(spec, custom_objects, saved_floatx)
    except FileFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError,
            OverflowError, RecursionError) as e:
        raise FileFormatError(f"{path}: cannot rebuild the architecture: {e}") from None
    tensors = _assign(model, path, header)
    _restore_rng_states(model, path, meta)
    _, opt_state, other = _split(tensors)
    if other:
        raise FileFormatError(f"{path}: unexpected tensors {other}")
    if compile and "compile" in meta:
        try:
            model._compile_from_config(_json(path, meta, "compile"))
            if opt_state:
                model.optimizer.set_state(opt_state)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                RecursionError) as e:
            raise FileFormatError(f"{path}: cannot restore the compile state: {e}") from None
    return model


def _is_zip(path):
    """Whether ``path`` is a regular file that starts as a zip archive (a FIFO or device is
    never opened for reading here: read_header then refuses it by name)."""
    try:
        with open_regular(path, "model file") as f:
            return f.read(4) == b"PK\x03\x04"
    except (OSError, TypeError, ValueError):
        return False                  # read_header says what is wrong with the path


def _deserialize_model(spec, custom_objects, floatx):
    current = config.floatx()
    config.set_floatx(floatx)
    try:
        model = registry.deserialize(spec, custom_objects)
        if not model.built and getattr(model, "_input_batch_shape", None) is not None:
            model.build()
    finally:
        config.set_floatx(current)
    if floatx != current:
        # keep computing in the saved type once the global floatx is back to the session's
        for layer in model.iter_layers():
            if getattr(layer, "_dtype", None) is None:
                layer._dtype = floatx
    return model


def load_weights(model, path):
    """Copy the weights saved at ``path`` (by ``save_weights`` or ``save``, or a plain
    safetensors file using the same tensor names) into ``model``."""
    header, _ = read_header(path)
    meta = header.get("__metadata__", {})
    note = ""
    if meta.get("format") in (FORMAT, WEIGHTS_FORMAT):
        _check_format(path, meta, WEIGHTS_FORMAT)
    else:
        note = (f"a safetensors file not written by rnnkit (format {meta.get('format')!r}), "
                f"and ")
    if not model.built:
        raise FileFormatError(f"{model.name}: build the model before load_weights({path!r})")
    _assign(model, path, header, note)
