"""model.save / rnnkit.load_model / save_weights / load_weights: exact round trips, training
that goes on identically after a reload, interoperability with the official safetensors
library, and clear FileFormatErrors for every kind of bad file (never unpickling anything)."""

import json
import os
import pathlib
import pickle
import re

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import rnnkit
from rnnkit import FileFormatError
from rnnkit.io.safetensors_format import load as st_load
from rnnkit.io.safetensors_format import save as st_save
from rnnkit.layers import (
    GRU,
    LSTM,
    Add,
    Bidirectional,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Input,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.training.optimizers import SGD, Adam

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "rnnkit"


# ---- models -----------------------------------------------------------------------------------

def seq_lstm():
    return rnnkit.Sequential([Input((5, 3)), LSTM(4, return_sequences=True), Dropout(0.2),
                              TimeDistributed(Dense(2))])


def seq_embedding_gru():
    return rnnkit.Sequential([Input((6,), dtype="int64"), Embedding(9, 4, mask_zero=True),
                              GRU(5, reset_after=False), Dense(3, activation="softmax")])


def functional_bidirectional_shared():
    a, b = Input((5, 3), name="a"), Input((5, 3), name="b")
    shared = Bidirectional(GRU(3, return_sequences=True), merge_mode="concat", name="shared")
    ha, hb = shared(a), shared(b)                             # one layer, two calls
    s = Add(name="add")([ha, hb])
    h = SimpleRNN(4, name="rnn")(s)
    out1 = Dense(2, name="out1")(h)
    out2 = TimeDistributed(Dense(1), name="out2")(Concatenate(name="cat")([ha, hb]))
    return rnnkit.Model([a, b], [out1, out2])


def inputs_for(name, n=4, seed=0):
    rng = np.random.default_rng(seed)
    if name == "seq_embedding_gru":
        tokens = rng.integers(1, 9, (n, 6))
        tokens[0, 3:] = 0                                      # padding: masked steps
        return tokens
    if name == "functional_bidirectional_shared":
        return [rng.standard_normal((n, 5, 3)), rng.standard_normal((n, 5, 3))]
    return rng.standard_normal((n, 5, 3))


MODELS = {"seq_lstm": seq_lstm, "seq_embedding_gru": seq_embedding_gru,
          "functional_bidirectional_shared": functional_bidirectional_shared}


def randomize(model, seed=0):
    """All weights random and non-zero (biases included)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.1, 0.5, w.shape) * rng.choice([-1, 1], w.shape)
                       for w in model.get_weights()])


def outputs(model, x):
    y = model.predict(x)
    return y if isinstance(y, list) else [y]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def compile_for(name, model):
    if name == "seq_embedding_gru":
        model.compile(optimizer=Adam(0.01), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    elif name == "functional_bidirectional_shared":
        model.compile(optimizer=SGD(0.05, momentum=0.9), loss=["mse", "mae"],
                      loss_weights=[1.0, 0.5], metrics=[["mae"], []])
    else:
        model.compile(optimizer=Adam(0.01), loss="mse", metrics=["mae"])


def targets_for(name, n=4, seed=1):
    rng = np.random.default_rng(seed)
    if name == "seq_embedding_gru":
        return rng.integers(0, 3, n)
    if name == "functional_bidirectional_shared":
        return [rng.standard_normal((n, 2)), rng.standard_normal((n, 5, 1))]
    return rng.standard_normal((n, 5, 2))


@pytest.fixture
def model_path(tmp_path):
    return str(tmp_path / "model.rnnkit")


# ---- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("compiled", [False, True])
def test_save_load_predicts_identically(name, compiled, model_path, float64):
    model = MODELS[name]()
    randomize(model)
    if compiled:
        compile_for(name, model)
        model.fit(inputs_for(name), targets_for(name), verbose=0, epochs=2, batch_size=2)
    model.save(model_path)
    loaded = rnnkit.load_model(model_path)
    assert type(loaded) is type(model) and loaded is not model
    assert loaded.get_config() == model.get_config()
    assert same(loaded.get_weights(), model.get_weights())
    x = inputs_for(name, n=5, seed=9)
    for a, b in zip(outputs(loaded, x), outputs(model, x)):
        assert a.dtype == np.float64 and np.array_equal(a, b)
    assert (loaded.compiled_loss is not None) == compiled
    if compiled:
        assert type(loaded.optimizer) is type(model.optimizer)
        assert loaded.optimizer.get_config() == model.optimizer.get_config()
        assert loaded.metrics_names == model.metrics_names
        assert loaded.evaluate(x, targets_for(name, n=5), verbose=0) == \
            model.evaluate(x, targets_for(name, n=5), verbose=0)
    # compile=False: the architecture and weights only
    bare = rnnkit.load_model(model_path, compile=False)
    assert bare.compiled_loss is None and same(bare.get_weights(), model.get_weights())


@pytest.mark.parametrize("name", list(MODELS))
def test_training_continues_bit_identically_after_a_reload(name, model_path, float64):
    x, y = inputs_for(name, n=6), targets_for(name, n=6)
    model = MODELS[name]()
    randomize(model)
    compile_for(name, model)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, seed=0)
    model.save(model_path)
    loaded = rnnkit.load_model(model_path)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 4
    h1 = model.fit(x, y, epochs=2, batch_size=4, verbose=0, seed=1)
    h2 = loaded.fit(x, y, epochs=2, batch_size=4, verbose=0, seed=1)
    assert same(model.get_weights(), loaded.get_weights())
    assert h1.history == h2.history
    # without the optimizer state the continuation differs (momentum/Adam moments matter)
    fresh = rnnkit.load_model(model_path, compile=False)
    compile_for(name, fresh)
    fresh.fit(x, y, epochs=2, batch_size=4, verbose=0, seed=1)
    assert not same(model.get_weights(), fresh.get_weights())


def test_dropout_generators_given_as_seeds_resume_identically(model_path):
    model = rnnkit.Sequential([Input((3, 2)), LSTM(3, dropout=0.3, recurrent_dropout=0.2,
                                                   seed=np.random.default_rng(1)),
                               Dropout(0.5, seed=np.random.default_rng(0)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x, y = np.random.default_rng(2).standard_normal((4, 3, 2)), np.ones((4, 1))
    model.fit(x, y, verbose=0, seed=0)
    model.save(model_path)
    loaded = rnnkit.load_model(model_path)
    model.fit(x, y, verbose=0, epochs=2, seed=1)
    loaded.fit(x, y, verbose=0, epochs=2, seed=1)
    assert same(model.get_weights(), loaded.get_weights())


def test_learning_rate_changes_are_saved(model_path):
    model = seq_lstm()
    model.compile(optimizer=Adam(0.01), loss="mse")
    model.optimizer.learning_rate = 0.0025            # as a scheduler callback would
    model.save(model_path)
    assert rnnkit.load_model(model_path).optimizer.learning_rate == 0.0025


def test_float64_model_stays_float64_when_loaded_under_float32(model_path):
    rnnkit.config.set_floatx("float64")
    model = seq_embedding_gru()
    randomize(model)
    x = inputs_for("seq_embedding_gru")
    expected = model.predict(x)
    model.save(model_path)
    rnnkit.config.set_floatx("float32")
    loaded = rnnkit.load_model(model_path)
    got = loaded.predict(x)
    assert got.dtype == np.float64 and np.array_equal(got, expected)
    assert all(w.dtype == np.float64 for w in loaded.get_weights())


def test_save_weights_load_weights_into_a_second_copy(tmp_path, float64):
    path = str(tmp_path / "w.weights")
    for make in MODELS.values():
        model = make()
        randomize(model, seed=3)
        model.save_weights(path)
        twin = make()                                     # other layer names (lstm_1, ...)
        assert [w.path for w in twin.weights] != [w.path for w in model.weights]
        twin.load_weights(path)
        assert same(twin.get_weights(), model.get_weights())
    # load_weights also reads a full model file
    model.save(str(tmp_path / "full.rnnkit"))
    twin = functional_bidirectional_shared()
    twin.load_weights(str(tmp_path / "full.rnnkit"))
    assert same(twin.get_weights(), model.get_weights())


# ---- interoperability with the official safetensors library ------------------------------

def test_files_written_here_load_in_official_safetensors(model_path, float64):
    model = seq_lstm()
    randomize(model)
    model.compile(optimizer=Adam(0.01), loss="mse")
    model.fit(inputs_for("seq_lstm"), targets_for("seq_lstm"), verbose=0)
    model.save(model_path)
    tensors = safetensors.numpy.load_file(model_path)
    weight_keys = sorted(k for k in tensors if k.startswith("weights/"))
    assert weight_keys == [f"weights/{i:05d}/{w.path}" for i, w in enumerate(model.weights)]
    for key, w in zip(weight_keys, model.weights):
        assert tensors[key].dtype == np.float64 and np.array_equal(tensors[key], w.value)
    state = model.optimizer.get_state()
    assert {k[len("optimizer/"):] for k in tensors if k.startswith("optimizer/")} == set(state)
    for k, v in state.items():
        assert np.array_equal(tensors[f"optimizer/{k}"], v)
    with safetensors.safe_open(model_path, framework="np") as f:
        meta = f.metadata()
    assert meta["format"] == "rnnkit.model" and meta["floatx"] == "float64"
    assert json.loads(meta["model"])["class_name"] == "Sequential"
    # a weights file too
    model.save_weights(model_path + ".w")
    assert sorted(safetensors.numpy.load_file(model_path + ".w")) == weight_keys


def test_files_written_by_official_safetensors_load_here(tmp_path, float64):
    model = seq_embedding_gru()
    rng = np.random.default_rng(5)
    arrays = {f"weights/{i:05d}/{w.path}": rng.standard_normal(w.shape)
              for i, w in enumerate(model.weights)}
    path = str(tmp_path / "from_official.safetensors")
    safetensors.numpy.save_file(arrays, path)            # no metadata at all
    model.load_weights(path)
    assert same(model.get_weights(), list(arrays.values()))
    # float32 tensors go into a float64 model exactly
    arrays32 = {k: v.astype(np.float32) for k, v in arrays.items()}
    safetensors.numpy.save_file(arrays32, path, metadata={"format": "rnnkit.weights",
                                                          "format_version": "1"})
    model.load_weights(path)
    assert same(model.get_weights(), [v.astype(np.float64) for v in arrays32.values()])
    with pytest.raises(FileFormatError, match="holds only weights"):
        rnnkit.load_model(path)
    # and our reader reads back exactly what the official writer wrote
    tensors, meta = st_load(path)
    assert meta == {"format": "rnnkit.weights", "format_version": "1"}
    assert all(np.array_equal(tensors[k], arrays32[k]) for k in arrays32)


# ---- bad files: a clear FileFormatError, and the model left untouched -----------------------

def tiny():
    return rnnkit.Sequential([Input((2,)), Dense(1)])


def test_missing_file_and_directory(tmp_path):
    model = tiny()
    missing = str(tmp_path / "nope.rnnkit")
    for call in (lambda p: rnnkit.load_model(p), lambda p: model.load_weights(p)):
        with pytest.raises(FileFormatError, match=re.escape(missing) + ": no such file"):
            call(missing)
        with pytest.raises(FileFormatError, match="is a directory"):
            call(str(tmp_path))


def test_every_truncation_of_a_small_file_is_refused(tmp_path):
    model = tiny()
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((2, 2)), np.ones((2, 1)), verbose=0)
    path = tmp_path / "m.rnnkit"
    model.save(str(path))
    weights_path = tmp_path / "m.weights"
    model.save_weights(str(weights_path))
    before = model.get_weights()
    for full in (path.read_bytes(), weights_path.read_bytes()):
        cut = tmp_path / "cut.rnnkit"
        cut.write_bytes(full)
        for n in reversed(range(len(full))):           # every length, shortest last
            os.truncate(cut, n)
            assert cut.stat().st_size == n
            with pytest.raises(FileFormatError, match="cut.rnnkit: "):
                rnnkit.load_model(str(cut))
            with pytest.raises(FileFormatError, match="cut.rnnkit: "):
                model.load_weights(str(cut))
    assert same(model.get_weights(), before)


def test_files_that_are_not_rnnkits(tmp_path):
    model = tiny()
    before = model.get_weights()
    text = tmp_path / "notes.rnnkit"
    text.write_text("hello, this is a plain text file, not a model\n" * 3)
    rnd = tmp_path / "random.rnnkit"
    rnd.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    small_len = tmp_path / "junk_header.rnnkit"
    small_len.write_bytes((40).to_bytes(8, "little") + bytes(range(200, 240)) + b"\0" * 16)
    for path in (text, rnd, small_len):
        for call in (rnnkit.load_model, model.load_weights):
            with pytest.raises(FileFormatError, match="not a valid rnnkit/safetensors file"):
                call(str(path))
    # a valid safetensors file from another program
    other = str(tmp_path / "other.safetensors")
    safetensors.numpy.save_file({"encoder.weight": np.ones((2, 1), np.float32)}, other,
                                metadata={"format": "pt"})
    with pytest.raises(FileFormatError, match="not one rnnkit wrote \\(format 'pt'\\)"):
        rnnkit.load_model(other)
    with pytest.raises(FileFormatError, match="not written by rnnkit .*unexpected "
                                              "\\['encoder.weight'\\]"):
        model.load_weights(other)
    assert same(model.get_weights(), before)


def test_header_length_larger_than_the_file(tmp_path):
    model = tiny()
    path = tmp_path / "m.rnnkit"
    model.save(str(path))
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert n + 8 < len(raw)
    for bad in (len(raw) - 7, len(raw), 2**63):
        path.write_bytes(bad.to_bytes(8, "little") + raw[8:])
        with pytest.raises(FileFormatError, match=f"header length {bad} does not fit a file"):
            rnnkit.load_model(str(path))


def _rewrite(src, dst, change):
    tensors, meta = st_load(src)
    change(tensors, meta)
    st_save(dst, tensors, meta)


def test_wrong_shape_missing_and_extra_weights(tmp_path, float64):
    model = seq_lstm()
    randomize(model)
    src = str(tmp_path / "m.rnnkit")
    model.save(src)
    dst = str(tmp_path / "bad.rnnkit")
    keys = [f"weights/{i:05d}/{w.path}" for i, w in enumerate(model.weights)]

    def reshape(t, m):
        t[keys[1]] = t[keys[1]][:, :-1].copy()

    def drop(t, m):
        del t[keys[2]]

    def add(t, m):
        t["weights/00099/lstm/extra"] = np.zeros(3)

    def rename(t, m):
        t[keys[0].replace("kernel", "bias")] = t.pop(keys[0])

    def int_weight(t, m):
        t[keys[0]] = t[keys[0]].astype(np.int32)

    cases = [(reshape, r"has shape \(4, 15\) in the file, the model's "
                       r"'lstm(_\d)?/recurrent_kernel' has shape \(4, 16\)"),
             (drop, r"missing \['weights/00002/lstm(_\d)?/bias'\], unexpected none"),
             (add, re.escape("missing none, unexpected ['weights/00099/lstm/extra']")),
             (rename, "weight 0 is 'weights/00000/lstm/bias' in the file, but the model's "
                      r"weight 0 is 'lstm(_\d)?/kernel'"),
             (int_weight, "has dtype I32, expected a float type")]
    twin = seq_lstm()
    before = twin.get_weights()
    for change, message in cases:
        _rewrite(src, dst, change)
        with pytest.raises(FileFormatError, match=message):
            rnnkit.load_model(dst)
        with pytest.raises(FileFormatError, match=message):
            twin.load_weights(dst)
        assert same(twin.get_weights(), before)
    # a model of another shape
    other = rnnkit.Sequential([Input((5, 3)), LSTM(6, return_sequences=True), Dropout(0.2),
                               TimeDistributed(Dense(2))])
    with pytest.raises(FileFormatError, match="has shape"):
        other.load_weights(src)


def test_broken_metadata_is_refused(tmp_path):
    model = tiny()
    model.compile(optimizer="adam", loss="mse")
    src = str(tmp_path / "m.rnnkit")
    model.save(src)
    dst = str(tmp_path / "bad.rnnkit")
    cases = [
        (lambda t, m: m.update(model="{not json"), "the 'model' entry is not valid JSON"),
        (lambda t, m: m.update(model='{"class_name": "Nope", "config": {}}'),
         "cannot rebuild the architecture: unknown layer class 'Nope'"),
        (lambda t, m: m.update(model="[1, 2]"), "the architecture entry is not a layer"),
        (lambda t, m: m.pop("model"), "the file has no 'model' entry"),
        (lambda t, m: m.update(format_version="99"), "format version '99'"),
        (lambda t, m: m.update(floatx="float8"), "unknown floatx 'float8'"),
        (lambda t, m: t.update({"optimizer/dense/kernel/bogus": np.zeros((2, 1))}),
         "cannot restore the compile state"),
    ]
    for change, message in cases:
        _rewrite(src, dst, change)
        with pytest.raises(FileFormatError, match=re.escape(message)):
            rnnkit.load_model(dst)


def test_load_weights_needs_a_built_model(tmp_path):
    model = tiny()
    path = str(tmp_path / "w")
    model.save_weights(path)
    unbuilt = rnnkit.Sequential([Dense(1)])
    with pytest.raises(FileFormatError, match="build the model before load_weights"):
        unbuilt.load_weights(path)


def test_weights_only_file_given_to_load_model(tmp_path):
    model = tiny()
    path = str(tmp_path / "w.rnnkit")
    model.save_weights(path)
    with pytest.raises(FileFormatError, match="holds only weights; build the model and call "
                                              r"model.load_weights\(path\) instead"):
        rnnkit.load_model(path)


# ---- no code runs while loading ---------------------------------------------------------------

class _CreatesMarker:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))                 # unpickling would create the file


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_file_is_never_unpickled(tmp_path, protocol):
    marker = tmp_path / "marker"
    payload = pickle.dumps({"weights": _CreatesMarker(str(marker))}, protocol=protocol)
    pickle.loads(payload)["weights"].close()                          # the payload really is armed...
    assert marker.exists()
    marker.unlink()                                        # ...then disarmed for the test
    model = tiny()
    for ext in (".rnnkit", ".safetensors", ".weights"):
        path = tmp_path / f"evil{ext}"
        path.write_bytes(payload)
        for call in (rnnkit.load_model, model.load_weights):
            with pytest.raises(FileFormatError):
                call(str(path))
    npy = tmp_path / "evil.npy"
    np.save(npy, np.array([_CreatesMarker(str(marker))], dtype=object), allow_pickle=True)
    os.replace(npy, tmp_path / "evil_npy.rnnkit")
    with pytest.raises(FileFormatError):
        rnnkit.load_model(str(tmp_path / "evil_npy.rnnkit"))
    assert not marker.exists()


def test_no_pickle_eval_or_exec_in_the_source():
    pattern = re.compile(r"import pickle|pickle\.load|allow_pickle\s*=\s*True|\beval\(|\bexec\(")
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20                                 # the walk found the package
    hits = [f"{f.relative_to(SRC)}:{i}: {line.strip()}"
            for f in files for i, line in enumerate(f.read_text().splitlines(), 1)
            if pattern.search(line)]
    assert hits == []


def test_saving_to_a_directory_or_with_a_callable_learning_rate(tmp_path):
    model = tiny()
    model.compile(optimizer=SGD(lambda: 0.1), loss="mse")
    with pytest.raises(ValueError, match="a callable learning rate cannot be saved"):
        model.save(str(tmp_path / "m.rnnkit"))
    model.save_weights(str(tmp_path / "w.rnnkit"))                # weights alone are fine
    model.optimizer.learning_rate = 0.1
    for save in (model.save, model.save_weights):
        with pytest.raises(IsADirectoryError, match="is a directory; give the path of a file"):
            save(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["w.rnnkit"]           # no temporary file left
    with pytest.raises(ValueError, match="invalid tensor name '__metadata__'"):
        st_save(str(tmp_path / "x"), {"__metadata__": np.zeros(1)})
