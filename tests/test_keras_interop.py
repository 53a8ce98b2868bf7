"""Keras 3 interop against real Keras 3 (torch backend): .keras / .weights.h5 in and out.

Every case builds the same architecture in Keras and in rnnkit from one spec, gives the Keras
model random non-zero weights (biases included), saves ``.keras`` and ``.weights.h5``, loads
each into rnnkit and compares predictions (float32, 1e-5). Then the round trip: new random
weights in rnnkit -> ``save_keras_weights`` -> Keras ``load_weights`` -> Keras predicts what
rnnkit predicts -> Keras ``save_weights`` -> rnnkit loads the very same arrays.
Bad input: wrong architectures name the layer; corrupted and foreign files give
FileFormatError and run nothing.
"""

import os
import pickle
import sys
import zipfile

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

import rnnkit  # noqa: E402
from rnnkit import FileFormatError  # noqa: E402
from rnnkit import layers as rl  # noqa: E402
from rnnkit.io import load_keras_weights, save_keras_weights  # noqa: E402

ATOL = 1e-5
# Keras's torch backend converts tensors with np.array(x) and NumPy 2 warns about it, ~900 times
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")


# ---- one spec, two libraries ---------------------------------------------------------------------
def make_layer(lib, spec):
    """``(class name, kwargs)`` or ``(wrapper, inner spec, kwargs)`` -> a layer of ``lib``."""
    if len(spec) == 3:
        wrapper, inner, kw = spec
        if isinstance(inner, list):                    # RNN([cell, cell, ...])
            return getattr(lib, wrapper)([make_layer(lib, s) for s in inner], **kw)
        return getattr(lib, wrapper)(make_layer(lib, inner), **kw)
    cls, kw = spec
    return getattr(lib, cls)(**kw)


def build(kind, input_shape, specs, dtype="float32", functional=False):
    """The architecture in Keras (``kind="keras"``) or rnnkit."""
    lib, inp = (keras.layers, keras.Input) if kind == "keras" else (rl, rl.Input)
    if kind == "keras" and dtype != "float32":
        dtype = "int32"
    x = inp(input_shape, dtype=dtype)
    if functional:
        y = x
        for spec in specs:
            y = make_layer(lib, spec)(y)
        return (keras.Model if kind == "keras" else rnnkit.Model)(x, y)
    return (keras.Sequential if kind == "keras" else rnnkit.Sequential)(
        [x] + [make_layer(lib, s) for s in specs])


def randomize(weights, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 0.5, size=np.shape(w)).astype("float32") for w in weights]


def rk_predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


def k_predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


SEQ = ((6, 3), "float32")
CASES = {
    "dense": ((5,), "float32", [("Dense", dict(units=4, activation="tanh")),
                                ("Dense", dict(units=3))]),
    "embedding_simple_rnn": ((7,), "int", [("Embedding", dict(input_dim=12, output_dim=4)),
                                           ("SimpleRNN", dict(units=5)), ("Dense", dict(units=2))]),
    "stacked_lstm": (*SEQ, [("LSTM", dict(units=4, return_sequences=True)),
                            ("LSTM", dict(units=3))]),
    "gru_reset_after": (*SEQ, [("GRU", dict(units=4, return_sequences=True)),
                               ("GRU", dict(units=3))]),
    "gru_reset_before": (*SEQ, [("GRU", dict(units=4, reset_after=False))]),
    "bidirectional_lstm_concat": (*SEQ, [("Bidirectional", ("LSTM", dict(units=3)),
                                          dict(merge_mode="concat"))]),
    "bidirectional_lstm_sum_seq": (*SEQ, [("Bidirectional", ("LSTM", dict(
        units=3, return_sequences=True)), dict(merge_mode="sum")), ("LSTM", dict(units=2))]),
    "bidirectional_gru_mul": (*SEQ, [("Bidirectional", ("GRU", dict(units=3)),
                                      dict(merge_mode="mul"))]),
    "bidirectional_gru_reset_before_ave": (*SEQ, [("Bidirectional", ("GRU", dict(
        units=3, reset_after=False)), dict(merge_mode="ave"))]),
    "time_distributed_dense": (*SEQ, [("LSTM", dict(units=4, return_sequences=True)),
                                      ("TimeDistributed", ("Dense", dict(units=2)), {})]),
    "rnn_of_cells": (*SEQ, [("RNN", ("LSTMCell", dict(units=4)), dict(return_sequences=True)),
                            ("RNN", [("GRUCell", dict(units=3)), ("SimpleRNNCell", dict(units=2)),
                                     ("GRUCell", dict(units=2, reset_after=False))], {})]),
    "weightless_layers": ((6, 3), "float32", [
        ("Masking", dict(mask_value=0.0)), ("LSTM", dict(units=4)), ("Dropout", dict(rate=0.3)),
        ("RepeatVector", dict(n=3)), ("SimpleRNN", dict(units=2, return_sequences=True)),
        ("Flatten", {}), ("Activation", dict(activation="relu")), ("Dense", dict(units=2))]),
}


def inputs(input_shape, dtype, seed=1):
    rng = np.random.default_rng(seed)
    if dtype == "int":
        return rng.integers(0, 12, size=(4,) + input_shape).astype("int32")
    x = rng.normal(size=(4,) + input_shape).astype("float32")
    if len(input_shape) == 2:
        x[0, -2:] = 0.0          # masked steps where a Masking layer is present
    return x


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """``{case: (keras model, .keras path, .weights.h5 path, x)}`` written once."""
    folder = tmp_path_factory.mktemp("keras")
    out = {}
    for i, (case, (shape, dtype, specs)) in enumerate(sorted(CASES.items())):
        km = build("keras", shape, specs, dtype)
        km.set_weights(randomize(km.get_weights(), seed=100 + i))
        full, weights = str(folder / f"{case}.keras"), str(folder / f"{case}.weights.h5")
        km.save(full)
        km.save_weights(weights)
        out[case] = (km, full, weights, inputs(shape, dtype))
    return out


def rnnkit_model(case):
    shape, dtype, specs = CASES[case]
    return build("rnnkit", shape, specs, "float32" if dtype == "float32" else "int64")


# ---- Keras -> rnnkit ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("which", ["keras", "weights.h5"])
def test_keras_files_load_and_predict_the_same(saved, case, which):
    km, full, weights, x = saved[case]
    model = rnnkit_model(case)
    load_keras_weights(model, full if which == "keras" else weights)
    for ours, theirs in zip(model.get_weights(), km.get_weights()):
        assert np.array_equal(ours, theirs)
        assert np.all(theirs != 0)                     # random values, biases included
    expected = k_predict(km, x)
    np.testing.assert_allclose(rk_predict(model, x), expected, rtol=0, atol=ATOL)
    assert np.std(expected) > 0.01                     # the outputs are not trivially flat


# ---- rnnkit -> Keras -> rnnkit -----------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_through_keras(saved, case, tmp_path):
    km, _, _, x = saved[case]
    shape, dtype, specs = CASES[case]
    model = rnnkit_model(case)
    mine = randomize(model.get_weights(), seed=7)
    model.set_weights(mine)
    path = str(tmp_path / "from_rnnkit.weights.h5")
    save_keras_weights(model, path)
    fresh = build("keras", shape, specs, dtype)
    fresh.load_weights(path)
    np.testing.assert_allclose(k_predict(fresh, x), rk_predict(model, x), rtol=0, atol=ATOL)
    back = str(tmp_path / "from_keras.weights.h5")
    fresh.save_weights(back)
    again = rnnkit_model(case)
    load_keras_weights(again, back)
    assert len(again.get_weights()) == len(mine)
    for a, b in zip(again.get_weights(), mine):
        assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_functional_model_round_trip(tmp_path):
    specs = [("LSTM", dict(units=4, return_sequences=True)), ("GRU", dict(units=3)),
             ("Dense", dict(units=2))]
    km = build("keras", (5, 3), specs, functional=True)
    km.compile(optimizer="adam", loss="mse")
    x = inputs((5, 3), "float32")
    km.fit(x, np.ones((4, 2)), epochs=1, verbose=0)       # the .keras then holds Adam's state
    km.set_weights(randomize(km.get_weights(), seed=3))
    km.save(str(tmp_path / "f.keras"))
    with zipfile.ZipFile(tmp_path / "f.keras") as zf, h5py.File(
            zf.open("model.weights.h5"), "r") as f:
        assert "input_layer" in f["layers"] and len(f["optimizer/vars"]) > 2
    model = build("rnnkit", (5, 3), specs, functional=True)
    load_keras_weights(model, str(tmp_path / "f.keras"))
    np.testing.assert_allclose(rk_predict(model, x), k_predict(km, x), rtol=0, atol=ATOL)
    model.set_weights(randomize(model.get_weights(), seed=4))
    save_keras_weights(model, str(tmp_path / "f.weights.h5"))
    km.load_weights(str(tmp_path / "f.weights.h5"))
    np.testing.assert_allclose(k_predict(km, x), rk_predict(model, x), rtol=0, atol=ATOL)


def test_float64_rnnkit_model_reads_and_writes_keras_float32(saved, tmp_path):
    km, full, _, x = saved["gru_reset_before"]
    model = rnnkit.Sequential([rl.Input((6, 3)), rl.GRU(4, reset_after=False, dtype="float64")])
    load_keras_weights(model, full)
    assert all(w.dtype == np.float64 for w in model.get_weights())
    np.testing.assert_allclose(model.predict(x.astype("float64"), verbose=0), k_predict(km, x),
                               rtol=0, atol=ATOL)
    model.set_weights(randomize(model.get_weights(), seed=9))
    save_keras_weights(model, str(tmp_path / "f64.weights.h5"))
    fresh = build("keras", (6, 3), CASES["gru_reset_before"][2])
    fresh.load_weights(str(tmp_path / "f64.weights.h5"))
    np.testing.assert_allclose(k_predict(fresh, x), model.predict(x.astype("float64"), verbose=0),
                               rtol=0, atol=ATOL)


def test_names_do_not_matter_only_class_and_order(saved):
    """Keras names its groups by class and position; rnnkit's own layer names are ignored."""
    km, full, _, x = saved["stacked_lstm"]
    shape, _, _ = CASES["stacked_lstm"]
    model = rnnkit.Sequential([rl.Input(shape), rl.LSTM(4, return_sequences=True, name="enc"),
                               rl.LSTM(3, name="zzz")])
    load_keras_weights(model, full)
    np.testing.assert_allclose(rk_predict(model, x), k_predict(km, x), rtol=0, atol=ATOL)


def test_the_written_file_is_laid_out_as_keras_writes_it(saved, tmp_path):
    _, _, keras_file, _ = saved["bidirectional_lstm_sum_seq"]
    model = rnnkit_model("bidirectional_lstm_sum_seq")
    ours = str(tmp_path / "ours.weights.h5")
    save_keras_weights(model, ours)

    def tree(path):
        items = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: items.__setitem__(
                name, getattr(obj, "shape", None)))
        return items
    assert tree(ours) == tree(keras_file)


# ---- wrong architectures name the layer --------------------------------------------------------
@pytest.mark.parametrize("specs, match", [
    ([("LSTM", dict(units=5, return_sequences=True)), ("LSTM", dict(units=3))],
     r"layer 0 '.*' \(LSTM\): weight 'kernel' \(layers/lstm/cell/vars/0\) expects shape "
     r"\(3, 20\), the file has \(3, 16\)"),
    ([("LSTM", dict(units=4, return_sequences=True)),
      ("LSTM", dict(units=3, return_sequences=True)), ("LSTM", dict(units=3))],
     r"layer 2 '.*' \(LSTM\) expects Keras weights at 'layers/lstm_2/cell/vars', the file has "
     r"none there"),
    ([("LSTM", dict(units=4))],
     r"holds weights the rnnkit model has no place for: \['layers/lstm_1/cell/vars/0'"),
    ([("GRU", dict(units=4, return_sequences=True)), ("LSTM", dict(units=3))],
     r"layer 0 '.*' \(GRU\) expects Keras weights at 'layers/gru/cell/vars', the file has none"),
    ([("LSTM", dict(units=4, return_sequences=True)), ("LSTM", dict(units=3, use_bias=False))],
     r"layer 1 '.*' \(LSTM\) expects 2 arrays \(kernel, recurrent_kernel\) at "
     r"'layers/lstm_1/cell/vars', the file has 3 \(0, 1, 2\)"),
])
def test_a_different_architecture_is_refused_naming_the_layer(saved, specs, match):
    _, full, weights, _ = saved["stacked_lstm"]
    model = build("rnnkit", (6, 3), specs)
    before = model.get_weights()
    for path in (full, weights):
        with pytest.raises(FileFormatError, match=match):
            load_keras_weights(model, path)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_gru_reset_after_mismatch_names_the_bias(saved):
    _, _, weights, _ = saved["gru_reset_before"]
    model = build("rnnkit", (6, 3), [("GRU", dict(units=4))])
    with pytest.raises(FileFormatError, match=r"weight 'bias' .* expects shape \(2, 12\), the "
                                              r"file has \(12,\)"):
        load_keras_weights(model, weights)


def test_unbuilt_model_unsupported_layer_and_bad_suffix(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        load_keras_weights(rnnkit.Sequential([rl.LSTM(3)]), str(tmp_path / "x.weights.h5"))
    model = rnnkit.Sequential([rl.Input((4,)), rl.Dense(2)])
    with pytest.raises(ValueError, match=r"must end in \.weights\.h5"):
        save_keras_weights(model, str(tmp_path / "x.h5"))
    assert os.listdir(tmp_path) == []


def test_layers_without_a_keras_layout_are_refused_by_name(tmp_path):
    q, v = rl.Input((4, 3)), rl.Input((5, 3))
    attention = rnnkit.Model([q, v], rl.Attention(use_scale=True, name="att")([q, v]))
    nested = rnnkit.Sequential([rl.Input((4, 3)), rnnkit.Sequential([rl.Dense(2)],
                                                                    name="inner")])
    for model, match in [(attention, r"layer 2 'att' \(Attention\): no Keras weight layout is "
                                     r"known for Attention"),
                         (nested, r"layer 0 'inner' \(Sequential\): a model nested in a model "
                                  r"is not supported")]:
        for call in (load_keras_weights, save_keras_weights):
            with pytest.raises(ValueError, match=match):
                call(model, str(tmp_path / "x.weights.h5"))
    assert os.listdir(tmp_path) == []


def test_without_h5py_the_message_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "h5py", None)
    model = rnnkit.Sequential([rl.Input((4,)), rl.Dense(2)])
    for call in (load_keras_weights, save_keras_weights):
        with pytest.raises(ImportError, match=r"pip install 'rnnkit\[keras\]'"):
            call(model, str(tmp_path / "x.weights.h5"))


# ---- corrupted and foreign files ---------------------------------------------------------------
class _CreatesMarker:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))                 # unpickling would create the file


def _expect_format_error(model, path, match=None):
    before = model.get_weights()
    with pytest.raises(FileFormatError, match=match):
        load_keras_weights(model, path)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_truncated_files_random_bytes_and_pickles(saved, tmp_path):
    _, full, weights, _ = saved["stacked_lstm"]
    model = rnnkit_model("stacked_lstm")
    for src in (full, weights):
        data = open(src, "rb").read()
        for n in (0, 7, 100, 1000, len(data) // 2, len(data) - 1):
            bad = tmp_path / ("t" + os.path.basename(src))
            bad.write_bytes(data[:n])
            _expect_format_error(model, str(bad))
    junk = tmp_path / "junk.weights.h5"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    _expect_format_error(model, str(junk), match="neither a Keras .keras archive nor an HDF5")
    marker = tmp_path / "marker"
    payload = pickle.dumps({"weights": _CreatesMarker(str(marker))})
    for name in ("evil.keras", "evil.weights.h5"):
        (tmp_path / name).write_bytes(payload)
        _expect_format_error(model, str(tmp_path / name))
    _expect_format_error(model, str(tmp_path / "missing.keras"), match="no such file")
    assert not marker.exists()


def test_zip_problems(saved, tmp_path):
    _, full, _, _ = saved["stacked_lstm"]
    model = rnnkit_model("stacked_lstm")
    with zipfile.ZipFile(full) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    cases = {
        "no_weights": ({k: v for k, v in members.items() if k != "model.weights.h5"},
                       "holds one model.weights.h5, this zip holds 0"),
        "bad_config": ({**members, "config.json": b"{not json"}, "not valid JSON"),
        "pickle_inside": ({**members, "model.weights.h5": pickle.dumps([1, 2])},
                          "neither a Keras .keras archive nor an HDF5"),
    }
    for name, (content, match) in cases.items():
        path = tmp_path / f"{name}.keras"
        with zipfile.ZipFile(path, "w") as zf:
            for k, v in content.items():
                zf.writestr(k, v)
        _expect_format_error(model, str(path), match=match)
    # a member whose directory entry claims 3 GB: refused from the directory, before reading
    data = bytearray(open(full, "rb").read())
    start = data.find(b"PK\x01\x02")                     # the central directory's entries
    while data[start + 46:start + 46 + int.from_bytes(data[start + 28:start + 30], "little")] \
            != b"model.weights.h5":
        start = data.find(b"PK\x01\x02", start + 4)
        assert start > 0
    data[start + 24:start + 28] = (3 * 10**9).to_bytes(4, "little")   # uncompressed size
    path = tmp_path / "huge.keras"
    path.write_bytes(bytes(data))
    _expect_format_error(model, str(path), match="model.weights.h5 is 3000000000 bytes, more "
                                                  "than the")


def test_links_and_non_float_datasets_are_refused(saved, tmp_path):
    _, _, weights, _ = saved["stacked_lstm"]
    model = rnnkit_model("stacked_lstm")
    edits = {
        "soft": (lambda f: f.__setitem__("layers/lstm/cell/vars/extra",
                                         h5py.SoftLink("/layers/lstm/cell/vars/0")),
                 "is a SoftLink"),
        "external": (lambda f: f.__setitem__("layers/lstm/cell/vars/extra",
                                             h5py.ExternalLink("/etc/passwd", "/x")),
                     "is a ExternalLink"),
        "int": (lambda f: (f["layers/lstm_1/cell/vars"].__delitem__("2"),
                           f["layers/lstm_1/cell/vars"].create_dataset(
                               "2", data=np.zeros(12, dtype="int32"))),
                r"weight 'bias' \(layers/lstm_1/cell/vars/2\) expects float values, the file "
                r"has dtype int32"),
    }
    data = open(weights, "rb").read()
    for name, (edit, match) in edits.items():
        path = tmp_path / f"{name}.weights.h5"
        path.write_bytes(data)
        with h5py.File(path, "r+") as f:
            edit(f)
        _expect_format_error(model, str(path), match=match)


# ---- the Keras spelling: model.load_weights / model.save_weights by file name ----------------
def test_model_load_and_save_weights_dispatch_on_the_keras_suffixes(saved, tmp_path):
    case = "stacked_lstm"
    km, full, weights, x = saved[case]
    for path in (full, weights):
        model = rnnkit_model(case)
        model.load_weights(path)                       # as a Keras user writes it
        np.testing.assert_allclose(rk_predict(model, x), k_predict(km, x), rtol=0, atol=ATOL)
    out = str(tmp_path / "mine.weights.h5")
    model.save_weights(out)
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"      # Keras's format, not safetensors
    fresh = rnnkit_model(case)
    fresh.load_weights(out)
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)
