"""Fuzzing every loader with hypothesis: corrupted files give FileFormatError, nothing else.

Starting from valid files written by rnnkit itself (a compiled and trained Embedding+LSTM+Dense
model saved with ``save`` and ``save_weights``, a CharVocab and a WordVocab), the strategies below
truncate them, flip bits, overwrite bytes, rewrite the 8-byte header length, replace or mutate
the JSON header (tensor entries, ``__metadata__``, the architecture JSON) and write random bytes.
Loading must either succeed (the bytes happened to stay valid: the model then predicts) or raise
:class:`rnnkit.FileFormatError` (a vocabulary may also raise the documented ValueError subclass
FileFormatError only: the loader converts the rest). Any other exception is a bug in a loader.

Keras 3 weights (``rnnkit.io.load_keras_weights``, needs h5py) are fuzzed the same way from a
valid ``.weights.h5`` written by ``save_keras_weights`` and a ``.keras`` zip holding it: truncation,
bit flips, overwrites of the HDF5 superblock and object headers and of the zip's directory, and
zip members replaced. And a pickle that would create a marker file, renamed to every extension
rnnkit loads, is given to every loader: the marker never appears.

The runs are derandomized (the same examples on every machine) and bounded so that the whole
file runs in a few seconds per thousand examples.
"""

import functools
import importlib.util
import io
import json
import os
import pickle
import tempfile
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit import FileFormatError
from rnnkit.data.vocab import CharVocab, WordVocab, load_vocab
from rnnkit.io import load_keras_weights, save_keras_weights
from rnnkit.io import safetensors_format as stf
from rnnkit.layers import LSTM, Dense, Embedding, Input
from rnnkit.training.optimizers import Adam

FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def examples(n):
    return settings(FUZZ, max_examples=n)


_DIR = tempfile.mkdtemp(prefix="rnnkit-fuzz-")


def _build():
    return rnnkit.Sequential([Input((5,), dtype="int64"), Embedding(7, 3),
                              LSTM(4), Dense(2, activation="softmax")])


@functools.lru_cache(maxsize=None)
def valid_files():
    """``{kind: bytes}`` of the valid files the fuzzers start from (written once)."""
    model = _build()
    model.compile(optimizer=Adam(0.01), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 7, size=(8, 5)), rng.integers(0, 2, size=(8,))
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)          # the optimizer has a state
    out = {}
    for kind, write in [("model", model.save), ("weights", model.save_weights),
                        ("char", CharVocab.from_text("hello world, hello fuzz").save),
                        ("word", WordVocab.from_text("the cat sat on the mat").save)]:
        path = os.path.join(_DIR, f"valid-{kind}")
        write(path)
        with open(path, "rb") as f:
            out[kind] = f.read()
    return out


def _path(data, name):
    path = os.path.join(_DIR, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


_X = np.array([[1, 2, 3, 4, 5], [0, 6, 6, 1, 0]], dtype="int64")


def check_model_file(data):
    """``load_model`` succeeds (and the model computes) or raises FileFormatError."""
    path = _path(data, "m.rnnkit")
    try:
        model = rnnkit.load_model(path)
    except FileFormatError as e:
        assert str(e)
    else:
        try:
            model.predict(_X, verbose=0)
        except ValueError as e:
            # a mutated but consistent architecture (another input shape or layer stack) loads
            # fine; the model then refuses our input with its own clear error, not a crash
            assert "expected" in str(e) or "shape" in str(e), e


def check_weights_file(data):
    """``load_weights`` into the original architecture succeeds or raises FileFormatError."""
    path = _path(data, "w.safetensors")
    model = _build()
    try:
        model.load_weights(path)
    except FileFormatError as e:
        assert str(e)
    else:
        model.predict(_X, verbose=0)


def check_safetensors(data):
    """The raw reader: ``read_header`` and ``load`` succeed or raise FileFormatError."""
    path = _path(data, "t.safetensors")
    try:
        stf.read_header(path)
        tensors, meta = stf.load(path)
    except FileFormatError as e:
        assert str(e)
    else:
        assert all(isinstance(v, np.ndarray) for v in tensors.values())
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())


def check_vocab(data, loader):
    path = _path(data, "v.json")
    try:
        vocab = loader(path)
    except FileFormatError as e:        # FileFormatError is the documented ValueError
        assert str(e)
    else:
        ids = vocab.encode("a b c")
        vocab.decode(ids)


def check_any(kind, data):
    if kind == "model":
        check_model_file(data)
        check_safetensors(data)
    elif kind == "weights":
        check_weights_file(data)
        check_safetensors(data)
    else:
        check_vocab(data, load_vocab)
        check_vocab(data, CharVocab.load if kind == "char" else WordVocab.load)


def split(data):
    """``(header dict, data bytes)`` of a valid safetensors file."""
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header, blob, raw=None):
    head = raw if raw is not None else json.dumps(header).encode("utf-8")
    return len(head).to_bytes(8, "little") + head + blob


KINDS = st.sampled_from(["model", "weights", "char", "word"])
ST_KINDS = st.sampled_from(["model", "weights"])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=5),
    max_leaves=20)

bad_ints = st.sampled_from([-1, -2**63, 0, 1, 2**31, 2**40, 2**63, 2**64 + 5, 10**12, 10**30])
bad_values = (bad_ints | json_values | st.just([]) | st.just([1.5, 2])
              | st.lists(bad_ints, min_size=1, max_size=4) | st.sampled_from(
                  ["F32", "F64", "F16", "I64", "BOOL", "f32", "float32", "F128", "", "<f4"]))


# ---- (a) truncation ------------------------------------------------------------------------------

@examples(600)
@given(kind=KINDS, data=st.data())
def test_truncated_files(kind, data):
    valid = valid_files()[kind]
    n = data.draw(st.integers(0, len(valid) - 1))
    check_any(kind, valid[:n])


# ---- (b) bit flips and byte overwrites -----------------------------------------------------------

@examples(600)
@given(kind=KINDS, data=st.data())
def test_bit_flips_anywhere(kind, data):
    buf = bytearray(valid_files()[kind])
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] ^= 1 << data.draw(st.integers(0, 7))
    check_any(kind, bytes(buf))


@examples(700)
@given(kind=ST_KINDS, data=st.data())
def test_byte_overwrites_in_the_header(kind, data):
    buf = bytearray(valid_files()[kind])
    end = 8 + int.from_bytes(buf[:8], "little")
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, end - 1))
        buf[i] = data.draw(st.integers(0, 255) | st.sampled_from(list(b'{}[]",:0123456789-e')))
    check_any(kind, bytes(buf))


# ---- (c) the 8-byte header length ----------------------------------------------------------------

@examples(300)
@given(kind=ST_KINDS, n=st.integers(0, 2**64 - 1) | st.integers(0, 4096)
       | st.sampled_from([0, 1, 2, 7, 8, 2**63, 2**64 - 1, 64 * 1024 * 1024 + 1]))
def test_header_length_overwritten(kind, n):
    valid = valid_files()[kind]
    check_any(kind, n.to_bytes(8, "little") + valid[8:])


# ---- (d) the JSON header replaced or mutated ------------------------------------------------------

@examples(400)
@given(kind=ST_KINDS, header=json_values)
def test_header_replaced_by_arbitrary_json(kind, header):
    _, blob = split(valid_files()[kind])
    check_any(kind, join(None, blob, raw=json.dumps(header).encode("utf-8")))


@examples(700)
@given(kind=ST_KINDS, data=st.data())
def test_tensor_entries_mutated(kind, data):
    header, blob = split(valid_files()[kind])
    names = sorted(k for k in header if k != "__metadata__")
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(names))
        what = data.draw(st.sampled_from(
            ["dtype", "shape", "data_offsets", "drop_field", "extra_field", "entry", "rename",
             "duplicate", "swap_offsets", "overlap", "shift"]))
        entry = header.get(name)
        if not isinstance(entry, dict):
            continue
        if what in ("dtype", "shape", "data_offsets"):
            entry[what] = data.draw(bad_values)
        elif what == "drop_field":
            entry.pop(data.draw(st.sampled_from(["dtype", "shape", "data_offsets"])), None)
        elif what == "extra_field":
            entry[data.draw(st.text(max_size=5))] = data.draw(json_values)
        elif what == "entry":
            header[name] = data.draw(json_values)
        elif what == "rename":
            header[data.draw(st.text(max_size=20) | st.sampled_from(
                ["weights/00000/kernel", "weights/99999/kernel", "optimizer/x",
                 "weights/00001/bias", "__metadata__"]))] = header.pop(name)
        elif what == "duplicate":
            header[name + data.draw(st.sampled_from(["x", "/kernel", "0"]))] = dict(entry)
        elif what == "swap_offsets" and isinstance(entry.get("data_offsets"), list):
            entry["data_offsets"] = entry["data_offsets"][::-1]
        elif what == "overlap":
            other = header.get(data.draw(st.sampled_from(names)))
            if isinstance(other, dict):
                entry["data_offsets"] = other.get("data_offsets")
        elif what == "shift" and isinstance(entry.get("data_offsets"), list):
            d = data.draw(st.integers(-64, 64) | bad_ints)
            entry["data_offsets"] = [o + d if isinstance(o, int) else o
                                     for o in entry["data_offsets"]]
    check_any(kind, join(header, blob))


@examples(500)
@given(kind=ST_KINDS, data=st.data())
def test_metadata_mutated(kind, data):
    header, blob = split(valid_files()[kind])
    meta = header["__metadata__"]
    what = data.draw(st.sampled_from(["value", "replace", "drop", "nonstring", "compile",
                                      "rng"]))
    key = data.draw(st.sampled_from(sorted(meta) + ["compile", "floatx", "rng_states"]))
    if what == "value":
        meta[key] = data.draw(st.text(max_size=20) | st.sampled_from(
            ["rnnkit.model", "rnnkit.weights", "1", "2", "float16", "float64", "int8", "{}",
             "[]", "null", "[[[[[[[[[[[[", "[" * 5000 + "]" * 5000]))
    elif what == "replace":
        header["__metadata__"] = data.draw(json_values)
    elif what == "drop":
        meta.pop(key, None)
    elif what == "nonstring":
        meta[key] = data.draw(json_values.filter(lambda v: not isinstance(v, str)))
    else:  # a JSON-valued entry replaced by arbitrary JSON
        meta[{"compile": "compile", "rng": "rng_states"}[what] if kind == "model" else key] = \
            json.dumps(data.draw(json_values))
    check_any(kind, join(header, blob))


def _paths(obj, prefix=()):
    """Every path (tuple of keys/indices) to a value inside a JSON object, containers included."""
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_paths(v, prefix + (i,)))
    return out


def _set(obj, path, value):
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


@examples(500)
@given(data=st.data())
def test_compile_rng_and_optimizer_state_mutated(data):
    """The saved training state: compile arguments, generator states, optimizer tensors."""
    header, blob = split(valid_files()["model"])
    meta = header["__metadata__"]
    what = data.draw(st.sampled_from(["compile", "rng_states", "optimizer", "weight_name"]))
    if what in ("compile", "rng_states"):
        obj = json.loads(meta[what])
        path = data.draw(st.sampled_from(_paths(obj)))
        _set(obj, path, data.draw(bad_values | st.sampled_from(
            ["PCG64", "MT19937", "Adam", "SGD", "mse", "Nope", 2**128, -(2**70), 0.5])))
        meta[what] = json.dumps(obj)
    elif what == "optimizer":                      # same bytes, another shape or dtype
        name = data.draw(st.sampled_from(sorted(k for k in header if k.startswith("opt"))))
        entry = header[name]
        size = int(np.prod(entry["shape"]))
        entry["shape"] = data.draw(st.sampled_from([[size], [size, 1], [1, size], [], [0]]))
        if entry["shape"] == [] and size != 1 or entry["shape"] == [0]:
            entry["data_offsets"] = [entry["data_offsets"][0]] * 2
            entry["shape"] = [0]
        if data.draw(st.booleans()):
            entry["dtype"] = data.draw(st.sampled_from(["I64", "U8", "BOOL", "F16"]))
    else:                                          # weight position with odd digits
        name = data.draw(st.sampled_from(sorted(k for k in header if k.startswith("weights/"))))
        digits = data.draw(st.sampled_from(["1" * 5000, "\u0661", "-1", "00000000000000000000",
                                            "99999999999999", " 1", ""]))
        header["weights/" + digits + "/" + name.split("/", 2)[2]] = header.pop(name)
    check_model_file(join(header, blob))


def _layer_configs(spec):
    """Every ``config`` dict inside the architecture JSON (the model's and its layers')."""
    found = []
    if isinstance(spec, dict):
        if isinstance(spec.get("config"), dict):
            found.append(spec["config"])
        for v in spec.values():
            found.extend(_layer_configs(v))
    elif isinstance(spec, list):
        for v in spec:
            found.extend(_layer_configs(v))
    return found


def _class_entries(spec):
    found = []
    if isinstance(spec, dict):
        if "class_name" in spec:
            found.append(spec)
        for v in spec.values():
            found.extend(_class_entries(v))
    elif isinstance(spec, list):
        for v in spec:
            found.extend(_class_entries(v))
    return found


@examples(200)
@given(arch=json_values)
def test_architecture_replaced_by_arbitrary_json(arch):
    header, blob = split(valid_files()["model"])
    header["__metadata__"]["model"] = json.dumps(arch)
    check_model_file(join(header, blob))


@examples(700)
@given(data=st.data())
def test_architecture_mutated(data):
    header, blob = split(valid_files()["model"])
    spec = json.loads(header["__metadata__"]["model"])
    for _ in range(data.draw(st.integers(1, 3))):
        what = data.draw(st.sampled_from(["field", "class", "drop", "huge", "layers"]))
        if not _layer_configs(spec) or not _class_entries(spec):
            break                       # an earlier mutation emptied the architecture
        if what == "class":
            entry = data.draw(st.sampled_from(_class_entries(spec)))
            entry["class_name"] = data.draw(st.sampled_from(
                ["Nope", "", "Sequential", "Model", "Dense", "LSTM", "Embedding", "Input",
                 "InputLayer", "os.system", "__import__", "Layer", "GRU", "Bidirectional"])
                | json_values)
            continue
        cfg = data.draw(st.sampled_from(_layer_configs(spec)))
        keys = sorted(cfg)
        if not keys:
            continue
        key = data.draw(st.sampled_from(keys))
        if what == "field":
            cfg[key] = data.draw(bad_values)
        elif what == "drop":
            del cfg[key]
        elif what == "huge":
            for k in ("units", "input_dim", "output_dim"):
                if k in cfg:
                    cfg[k] = data.draw(st.sampled_from([10**6, 10**9, 10**12, 2**62, -5, 0]))
        elif what == "layers" and isinstance(cfg.get("layers"), list) and cfg["layers"]:
            cfg["layers"] = data.draw(st.lists(st.sampled_from(cfg["layers"]) | json_values,
                                               max_size=6))
    header["__metadata__"]["model"] = json.dumps(spec)
    check_model_file(join(header, blob))


# ---- (e) random bytes and files of other formats -------------------------------------------------

@examples(400)
@given(kind=KINDS, blob=st.binary(max_size=2048), prefix=st.sampled_from(
    [b"", b"\x80\x04\x95", b"PK\x03\x04", b"\x89HDF\r\n\x1a\n", b"\x93NUMPY", b"{", b"[",
     b"\x10\x00\x00\x00\x00\x00\x00\x00{}"]))
def test_random_bytes(kind, blob, prefix):
    check_any(kind, prefix + blob)


# ---- vocabularies: JSON-level mutations ----------------------------------------------------------

@examples(500)
@given(kind=st.sampled_from(["char", "word"]), data=st.data())
def test_vocab_json_mutated(kind, data):
    cfg = json.loads(valid_files()[kind])
    what = data.draw(st.sampled_from(["replace", "field", "token", "drop", "raw"]))
    if what == "replace":
        text = json.dumps(data.draw(json_values))
    elif what == "raw":
        text = data.draw(st.text(max_size=200))
    else:
        if what == "field":
            cfg[data.draw(st.sampled_from(sorted(cfg)))] = data.draw(bad_values)
        elif what == "drop":
            cfg.pop(data.draw(st.sampled_from(sorted(cfg))))
        elif what == "token" and cfg["tokens"]:
            i = data.draw(st.integers(0, len(cfg["tokens"]) - 1))
            cfg["tokens"][i] = data.draw(json_values)
        text = json.dumps(cfg)
    check_any(kind, text.encode("utf-8", "surrogatepass"))


# ---- pointed cases the fuzzers must not miss -----------------------------------------------------

def test_a_huge_tensor_claim_fails_before_allocating():
    header, blob = split(valid_files()["weights"])
    name = sorted(k for k in header if k != "__metadata__")[0]
    header[name] = {"dtype": "F64", "shape": [10**6, 10**6], "data_offsets": [0, 8 * 10**12]}
    with pytest.raises(FileFormatError, match="do not hold"):
        stf.read_header(_path(join(header, blob), "huge.safetensors"))


def test_a_huge_layer_in_the_architecture_fails_before_allocating():
    header, blob = split(valid_files()["model"])
    spec = json.loads(header["__metadata__"]["model"])
    for cfg in _layer_configs(spec):
        if "units" in cfg:
            cfg["units"] = 10**9           # would be tens of gigabytes of weights
    header["__metadata__"]["model"] = json.dumps(spec)
    with pytest.raises(FileFormatError):
        rnnkit.load_model(_path(join(header, blob), "huge.rnnkit"))


@pytest.mark.parametrize("where, value", [
    ("rng", {"state": 2**200, "inc": 1}),       # OverflowError in numpy before the fix
    ("rng_uint", -5),                           # OverflowError (negative uint32)
    ("compile", "junk"),                        # AttributeError ('str' has no .get)
    ("name", "1" * 5000),                       # ValueError from int() digit limit
])
def test_regressions_found_by_the_fuzzers(where, value):
    header, blob = split(valid_files()["model"])
    meta = header["__metadata__"]
    if where.startswith("rng"):
        states = json.loads(meta["rng_states"])
        key = sorted(states)[0]
        states[key]["state" if where == "rng" else "uinteger"] = value
        meta["rng_states"] = json.dumps(states)
    elif where == "compile":
        meta["compile"] = json.dumps({**json.loads(meta["compile"]), "optimizer": value})
    else:
        name = sorted(k for k in header if k.startswith("weights/"))[0]
        header["weights/" + value + "/" + name.split("/", 2)[2]] = header.pop(name)
    with pytest.raises(FileFormatError):
        rnnkit.load_model(_path(join(header, blob), "regression.rnnkit"))


def test_the_valid_files_load():
    for kind, data in valid_files().items():
        check_any(kind, data)


# ---- Keras 3 weights: .weights.h5 and .keras -----------------------------------------------------

def _keras_zip(h5, members=None, compress_type=zipfile.ZIP_STORED, duplicate=None):
    """A .keras archive (as Keras 3 writes it: stored, not deflated) around the bytes ``h5``."""
    if members is None:
        members = {"metadata.json": json.dumps({"keras_version": "3.15.1"}).encode(),
                   "config.json": json.dumps({"class_name": "Sequential", "config": {}}).encode(),
                   "model.weights.h5": h5}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)        # zipfile warns of duplicate names
        with zipfile.ZipFile(buf, "w") as zf:
            for name, content in members.items():
                zf.writestr(name, content, compress_type=compress_type)
                if name == duplicate:
                    zf.writestr(name, content)
    return buf.getvalue()


@functools.lru_cache(maxsize=None)
def keras_files():
    """``{"h5": bytes, "keras": bytes}``: a .weights.h5 written by rnnkit and a .keras zip of it."""
    pytest.importorskip("h5py")
    model = _build()
    model.set_weights([np.random.default_rng(1).normal(size=w.shape) for w in model.weights])
    path = os.path.join(_DIR, "valid.weights.h5")
    save_keras_weights(model, path)
    with open(path, "rb") as f:
        h5 = f.read()
    return {"h5": h5, "keras": _keras_zip(h5)}


def check_keras_file(data, kind):
    """``load_keras_weights`` succeeds (the model then predicts) or raises FileFormatError.

    ``kind`` "h5": ``data`` is a .weights.h5; "keras": a whole .keras archive; "inner": the
    HDF5 member of a .keras, zipped here with a valid CRC so that the corruption reaches h5py.
    """
    if kind == "inner":
        data = _keras_zip(data)
    path = _path(data, "k.weights.h5" if kind == "h5" else "k.keras")
    model = _build()
    before = model.get_weights()
    try:
        load_keras_weights(model, path)
    except FileFormatError as e:
        assert str(e)
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
    else:
        model.predict(_X, verbose=0)


def _keras_valid(kind):
    return keras_files()["keras" if kind == "keras" else "h5"]


KERAS_KINDS = st.sampled_from(["h5", "keras", "inner"])


@examples(200)
@given(kind=KERAS_KINDS, data=st.data())
def test_keras_truncated(kind, data):
    valid = _keras_valid(kind)
    check_keras_file(valid[:data.draw(st.integers(0, len(valid) - 1))], kind)


@examples(300)
@given(kind=KERAS_KINDS, data=st.data())
def test_keras_bit_flips(kind, data):
    buf = bytearray(_keras_valid(kind))
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] ^= 1 << data.draw(st.integers(0, 7))
    check_keras_file(bytes(buf), kind)


def _h5_start(kind):
    """Where the HDF5 bytes begin inside the file (after the zip's local header for .keras)."""
    return _keras_valid(kind).find(b"\x89HDF\r\n\x1a\n")


@examples(300)
@given(kind=KERAS_KINDS, data=st.data())
def test_keras_header_overwrites(kind, data):
    """Bytes of the HDF5 superblock and first object headers, or of the zip's directory."""
    buf = bytearray(_keras_valid(kind))
    start = _h5_start(kind)
    where = data.draw(st.sampled_from(["hdf5", "zip"] if kind == "keras" else ["hdf5"]))
    lo, hi = ((start, min(start + 1024, len(buf))) if where == "hdf5"
              else (buf.rfind(b"PK\x01\x02", 0, len(buf) - 22) - 200, len(buf)))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(max(lo, 0), hi - 1))
        buf[i] = data.draw(st.integers(0, 255) | st.sampled_from([0, 0xFF, 0x7F, 0x80]))
    check_keras_file(bytes(buf), kind)


@examples(150)
@given(data=st.data())
def test_keras_zip_members_replaced(data):
    h5 = keras_files()["h5"]
    members = {"metadata.json": b"{}", "config.json": b"{}", "model.weights.h5": h5}
    name = data.draw(st.sampled_from(sorted(members)))
    what = data.draw(st.sampled_from(["drop", "random", "pickle", "duplicate", "deflate",
                                      "json"]))
    if what == "drop":
        del members[name]
    elif what == "random":
        members[name] = data.draw(st.binary(max_size=512))
    elif what == "pickle":
        members[name] = pickle.dumps({"x": [1, 2, 3]})
    elif what == "json":
        members[name] = json.dumps(data.draw(json_values)).encode()
    check_keras_file(_keras_zip(h5, members, duplicate=name if what == "duplicate" else None,
                                compress_type=zipfile.ZIP_DEFLATED if what == "deflate"
                                else zipfile.ZIP_STORED), "keras")


@examples(100)
@given(kind=KERAS_KINDS, blob=st.binary(max_size=2048), prefix=st.sampled_from(
    [b"", b"\x89HDF\r\n\x1a\n", b"PK\x03\x04", b"\x80\x04\x95"]))
def test_keras_random_bytes(kind, blob, prefix):
    check_keras_file(prefix + blob, kind)


def test_the_valid_keras_files_load():
    for kind, data in keras_files().items():
        model = _build()
        load_keras_weights(model, _path(data, "ok.weights.h5" if kind == "h5" else "ok.keras"))
        assert all(np.array_equal(a, b.astype(a.dtype)) for a, b in zip(
            model.get_weights(), [np.random.default_rng(1).normal(size=w.shape)
                                  for w in model.weights]))


# ---- a pickle under every extension rnnkit loads -------------------------------------------------

class _CreatesMarker:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))                 # unpickling would create the file


def test_a_pickle_under_every_extension_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    payload = pickle.dumps({"weights": _CreatesMarker(str(marker))})
    pickle.loads(payload)["weights"].close()                   # the payload really is armed...
    assert marker.exists()
    marker.unlink()                                            # ...then disarmed for the test
    loaders = [rnnkit.load_model, lambda p: _build().load_weights(p), load_vocab]
    if importlib.util.find_spec("h5py") is not None:      # Keras weights need the extra
        loaders.append(lambda p: load_keras_weights(_build(), p))
    for ext in (".rnnkit", ".safetensors", ".weights", ".json", ".keras", ".weights.h5", ".h5"):
        path = tmp_path / f"evil{ext}"
        path.write_bytes(payload)
        for load in loaders:
            with pytest.raises(FileFormatError) as e:
                load(str(path))
            assert str(path) in str(e.value)
    assert not marker.exists()
