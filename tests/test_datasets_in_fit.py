"""Datasets in fit/evaluate/predict (Keras 3): PyDataset, timeseries_dataset_from_array (and
its .take), generators with steps_per_epoch, class_weight, validation datasets; a dataset
gives the same training as the same batches given as arrays."""

import numpy as np
import pytest

import rnnkit
from rnnkit import layers
from rnnkit.utils import PyDataset, timeseries_dataset_from_array

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 6, 3)).astype("float64")
Y = X.sum(axis=(1, 2))[:, None] / 6


def _model(seed=0):
    rnnkit.random.set_random_seed(seed)
    m = rnnkit.Sequential([layers.Input((6, 3), dtype="float64"),
                           layers.LSTM(4, dtype="float64"), layers.Dense(1, dtype="float64")])
    m.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return m


class Batches(PyDataset):
    def __init__(self, x, y, batch_size, sample_weight=None):
        super().__init__()
        self.x, self.y, self.bs, self.sw = x, y, batch_size, sample_weight
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.bs)

    def __getitem__(self, i):
        s = slice(i * self.bs, (i + 1) * self.bs)
        if self.sw is None:
            return self.x[s], self.y[s]
        return self.x[s], self.y[s], self.sw[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_py_dataset_trains_exactly_as_the_same_arrays():
    a, b = _model(), _model()
    b.set_weights(a.get_weights())
    ds = Batches(X, Y, 8)
    ha = a.fit(ds, epochs=3, verbose=0)
    hb = b.fit(X, Y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-12)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-12)
    assert ds.epochs_ended == 3
    assert a.evaluate(ds, verbose=0) == pytest.approx(a.evaluate(X, Y, batch_size=8,
                                                                 verbose=0), rel=1e-12)
    np.testing.assert_allclose(a.predict(ds, verbose=0), a.predict(X, verbose=0), rtol=1e-12)


def test_timeseries_dataset_in_fit_with_take_and_validation():
    series = np.sin(np.arange(300) / 8.0)[:, None]
    targets = np.roll(series[:, 0], -10)[:, None]
    ds = timeseries_dataset_from_array(series, targets, sequence_length=10, batch_size=16)
    val = ds.take(2)
    assert len(val) == 2 and sum(1 for _ in val) == 2
    m = rnnkit.Sequential([layers.Input((10, 1)), layers.GRU(8), layers.Dense(1)])
    m.compile(optimizer=rnnkit.optimizers.Adam(0.02), loss="mse")
    h = m.fit(ds, epochs=4, validation_data=val, verbose=0)
    assert len(h.history["val_loss"]) == 4
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_generator_with_steps_per_epoch_reads_on_across_epochs():
    seen = []

    def gen():
        i = 0
        while True:
            s = slice((i % 5) * 8, (i % 5) * 8 + 8)
            seen.append(i)
            i += 1
            yield X[s], Y[s]

    m = _model()
    h = m.fit(gen(), steps_per_epoch=3, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2 and seen == list(range(6))
    assert m.evaluate(gen(), steps=2, verbose=0)[0] > 0


def test_a_finite_generator_that_runs_out_stops_with_a_warning():
    m = _model()
    batches = ((X[i:i + 8], Y[i:i + 8]) for i in range(0, 16, 8))
    with pytest.warns(UserWarning, match="ran out of data"):
        h = m.fit(batches, epochs=3, verbose=0)
    assert len(h.history["loss"]) == 1


def test_class_weight_equals_the_sample_weights_it_means():
    y = (X[:, 0, 0] > 0).astype("float64")
    cw = {0: 0.5, 1: 3.0}
    sw = np.where(y > 0, 3.0, 0.5)

    def clf():
        rnnkit.random.set_random_seed(1)
        m = rnnkit.Sequential([layers.Input((6, 3), dtype="float64"),
                               layers.SimpleRNN(3, dtype="float64"),
                               layers.Dense(1, activation="sigmoid", dtype="float64")])
        m.compile(optimizer="sgd", loss="binary_crossentropy")
        return m
    a, b = clf(), clf()
    b.set_weights(a.get_weights())
    a.fit(X, y, class_weight=cw, batch_size=10, shuffle=False, epochs=2, verbose=0)
    b.fit(X, y, sample_weight=sw, batch_size=10, shuffle=False, epochs=2, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    with pytest.raises(ValueError, match="class 1 has no entry"):
        a.fit(X, y, class_weight={0: 1.0}, epochs=1, verbose=0)


def test_steps_per_epoch_with_arrays_caps_the_epoch():
    m = _model()
    calls = []

    class Count(rnnkit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            calls.append(batch)
    m.fit(X, Y, batch_size=8, steps_per_epoch=2, epochs=2, verbose=0, callbacks=[Count()])
    assert calls == [0, 1, 0, 1]


@pytest.mark.parametrize("kwargs, words", [
    ({"y": Y}, "must not be given"), ({"batch_size": 4}, "must not be given"),
    ({"steps_per_epoch": 0}, "steps_per_epoch"),
])
def test_dataset_misuse_is_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        _model().fit(Batches(X, Y, 8), verbose=0, **kwargs)


def test_batches_without_targets_are_refused():
    with pytest.raises(ValueError, match="no targets"):
        _model().fit(iter([X[:8]]), verbose=0)
