"""Whole ``.keras`` files both ways, against real Keras 3 (torch backend): rnnkit writes an
archive Keras's ``load_model`` opens (architecture and weights, same predictions), and
``rnnkit.load_model`` builds what a real Keras file describes. Nothing in a file runs code:
a Lambda, a custom class or an argument rnnkit does not implement is a clear error."""

import json
import os
import zipfile

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
pytest.importorskip("h5py")

import rnnkit  # noqa: E402
from rnnkit import FileFormatError  # noqa: E402
from rnnkit import layers as rl  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras",
                                        "ignore::UserWarning:keras")
X = np.random.default_rng(0).normal(size=(3, 10, 8)).astype("float32")


def _randomize(model, seed=1):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32")
                       if "variance" not in w.name else
                       rng.uniform(0.5, 2, size=w.shape).astype("float32")
                       for w in model.weights])


def _outputs(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _sequential(lib, inp):
    L = lib.layers
    return lib.Sequential([inp((10, 8)), L.LSTM(16, return_sequences=True),
                           L.BatchNormalization(), L.GRU(4, reset_after=False),
                           L.Dense(2, activation="softmax")])


def _functional(lib, inp):
    L = lib.layers
    i = inp((10, 8))
    a = L.Bidirectional(L.SimpleRNN(4, return_sequences=True))(i)
    y = L.Dense(2)(a)
    z = L.Add()([a, L.TimeDistributed(L.Dense(8))(a)])
    return lib.Model(i, [y, z])


@pytest.mark.parametrize("build", [_sequential, _functional])
def test_rnnkit_writes_what_keras_loads(build, tmp_path):
    model = build(rnnkit, rl.Input)
    _randomize(model)
    path = str(tmp_path / "m.keras")
    model.save(path)
    assert zipfile.is_zipfile(path)
    k = keras.saving.load_model(path)
    for p, q in zip(_outputs(model.predict(X, verbose=0)), _outputs(k.predict(X, verbose=0))):
        np.testing.assert_allclose(np.asarray(p), np.asarray(q), atol=1e-5)


@pytest.mark.parametrize("build", [_sequential, _functional])
def test_rnnkit_reads_what_keras_writes(build, tmp_path):
    model = build(keras, keras.Input)
    _randomize(model, 2)
    path = str(tmp_path / "k.keras")
    model.save(path)
    ours = rnnkit.load_model(path)
    for p, q in zip(_outputs(model.predict(X, verbose=0)), _outputs(ours.predict(X, verbose=0))):
        np.testing.assert_allclose(np.asarray(p), np.asarray(q), atol=1e-5)
    assert [type(lyr).__name__ for lyr in ours.layers][-1] == type(model.layers[-1]).__name__


def test_checkpoint_callback_writes_a_keras_archive(tmp_path):
    model = _sequential(rnnkit, rl.Input)
    model.compile(optimizer="adam", loss="mse")
    path = str(tmp_path / "best.keras")
    model.fit(X, np.ones((3, 2), "float32"), epochs=2, verbose=0,
              callbacks=[rnnkit.callbacks.ModelCheckpoint(path)])
    np.testing.assert_allclose(keras.saving.load_model(path).predict(X, verbose=0),
                               model.predict(X, verbose=0), atol=1e-5)


def test_legacy_h5_model_name_is_refused(tmp_path):
    model = _sequential(rnnkit, rl.Input)
    with pytest.raises(ValueError, match="legacy HDF5"):
        model.save(str(tmp_path / "m.h5"))
    assert not os.listdir(tmp_path)


def _rewrite_config(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "config.json":
                cfg = json.loads(data)
                change(cfg)
                data = json.dumps(cfg)
            zout.writestr(name, data)


@pytest.mark.parametrize("change, words", [
    (lambda c: c["config"]["layers"][1].update(class_name="Lambda"), "Lambda layer holds"),
    (lambda c: c["config"]["layers"][1].update(module="my_pkg", registered_name="Mine>LSTM"),
     "custom class"),
    (lambda c: c["config"]["layers"][1]["config"].update(activity_regularizer={
        "class_name": "L2", "config": {"l2": 0.01}}), "activity_regularizer"),
    (lambda c: c["config"]["layers"][2]["config"].update(renorm=True), "renorm=True"),
    (lambda c: c["config"]["layers"][1].update(class_name="Conv3DTranspose"),
     "'Conv3DTranspose' is not one rnnkit has"),
])
def test_what_rnnkit_will_not_build_is_named(change, words, tmp_path):
    model = _sequential(keras, keras.Input)
    src, dst = str(tmp_path / "k.keras"), str(tmp_path / "bad.keras")
    model.save(src)
    _rewrite_config(src, dst, change)
    with pytest.raises(FileFormatError, match=words):
        rnnkit.load_model(dst)


def test_corrupted_archive_is_a_file_format_error(tmp_path):
    model = _sequential(rnnkit, rl.Input)
    path = tmp_path / "m.keras"
    model.save(str(path))
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\0" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError):
        rnnkit.load_model(str(path))


def test_regularizers_travel_with_keras_files(tmp_path):
    L = keras.layers
    model = keras.Sequential([keras.Input((10, 8)),
                              L.LSTM(4, kernel_regularizer=keras.regularizers.L2(0.03),
                                     recurrent_constraint=keras.constraints.MaxNorm(2.0)),
                              L.Dense(2, bias_regularizer=keras.regularizers.L1(0.1))])
    _randomize(model, 3)
    model(X)
    keras_penalty = float(sum(np.asarray(v.detach()) for v in model.losses))
    path = str(tmp_path / "reg.keras")
    model.save(path)
    ours = rnnkit.load_model(path)
    assert sum(ours.losses) == pytest.approx(keras_penalty, rel=1e-5)
    ours.save(str(tmp_path / "back.keras"))
    back = keras.saving.load_model(str(tmp_path / "back.keras"))
    assert back.layers[0].recurrent_constraint.max_value == 2.0


def test_conv_and_pooling_models_travel_both_ways(tmp_path):
    def build(lib, inp):
        L = lib.layers
        return lib.Sequential([inp((12, 8)), L.Conv1D(6, 3, padding="causal", activation="relu"),
                               L.MaxPooling1D(2), L.SpatialDropout1D(0.2), L.GRU(5),
                               L.Reshape((5, 1)), L.Permute((2, 1)), L.Flatten(), L.ReLU(),
                               L.Dense(3), L.Softmax()])
    x = np.random.default_rng(4).normal(size=(3, 12, 8)).astype("float32")
    ours = build(rnnkit, rl.Input)
    _randomize(ours, 5)
    ours.save(str(tmp_path / "a.keras"))
    np.testing.assert_allclose(keras.saving.load_model(str(tmp_path / "a.keras")).predict(
        x, verbose=0), ours.predict(x, verbose=0), atol=1e-5)
    theirs = build(keras, keras.Input)
    _randomize(theirs, 6)
    theirs.save(str(tmp_path / "b.keras"))
    np.testing.assert_allclose(rnnkit.load_model(str(tmp_path / "b.keras")).predict(
        x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)


def test_layer_normalization_travels_both_ways(tmp_path):
    def build(lib, inp):
        L = lib.layers
        return lib.Sequential([inp((10, 8)), L.LSTM(6, return_sequences=True),
                               L.LayerNormalization(), L.GlobalAveragePooling1D(), L.Dense(2)])
    ours, theirs = build(rnnkit, rl.Input), build(keras, keras.Input)
    _randomize(ours, 7)
    _randomize(theirs, 8)
    ours.save(str(tmp_path / "a.keras"))
    theirs.save(str(tmp_path / "b.keras"))
    np.testing.assert_allclose(keras.saving.load_model(str(tmp_path / "a.keras")).predict(
        X, verbose=0), ours.predict(X, verbose=0), atol=1e-5)
    np.testing.assert_allclose(rnnkit.load_model(str(tmp_path / "b.keras")).predict(
        X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
