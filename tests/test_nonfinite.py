"""NaN and inf during training: TerminateOnNaN stops, names the epoch and batch, and keeps the
last good weights; compile(skip_nonfinite=True) skips such batches and trains on."""

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import Callback, TerminateOnNaN
from rnnkit.layers import LSTM, Dense, Input


def _data(bad_batch=3, batch_size=8, n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 5, 3)).astype("float32")
    y = rng.standard_normal((n, 1)).astype("float32")
    x[bad_batch * batch_size + 2, 1, 0] = np.nan            # one NaN: batch 3's loss is NaN
    return x, y


def _model(**compile_kw):
    rnnkit.random.set_random_seed(0)
    m = rnnkit.Sequential([Input((5, 3)), LSTM(4), Dense(1)])
    m.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse", **compile_kw)
    return m


class _Snapshots(Callback):
    def __init__(self):
        super().__init__()
        self.after = {}

    def on_train_batch_end(self, batch, logs=None):
        self.after[batch] = self.model.get_weights()


def test_terminate_on_nan_stops_names_the_batch_and_keeps_the_last_good_weights(capsys):
    x, y = _data()
    model = _model()
    snaps = _Snapshots()
    hist = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                     callbacks=[snaps, TerminateOnNaN()])
    out = capsys.readouterr().out
    assert "epoch 1, batch 3" in out and "last good batch" in out
    assert len(hist.history["loss"]) == 1                   # stopped in the first epoch
    assert max(snaps.after) == 3
    for w, good in zip(model.get_weights(), snaps.after[2]):
        np.testing.assert_array_equal(w, good)               # batch 3 was not applied
        assert np.isfinite(w).all()
    assert model.optimizer.iterations == 3


def test_skip_nonfinite_trains_on_and_equals_training_without_the_bad_batch():
    x, y = _data()
    guarded = _model(skip_nonfinite=True)
    guarded.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert guarded.skipped_batches == 2                     # once per epoch
    reference = _model()
    for _ in range(2):
        for b in range(8):
            if b != 3:
                reference.train_on_batch(x[b * 8:(b + 1) * 8], y[b * 8:(b + 1) * 8])
    for a, b in zip(guarded.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert guarded.optimizer.iterations == reference.optimizer.iterations == 14


def test_without_a_guard_nan_data_is_refused_before_training():
    """Keras would apply the NaN batch and turn every weight into NaN (issue 12): unguarded,
    fit refuses the data at once, naming the first bad sample, and changes nothing."""
    x, y = _data()
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"fit: x holds NaN or inf \(first in sample 26"):
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    y[5, 0] = np.inf
    with pytest.raises(ValueError, match=r"fit: y holds NaN or inf \(first in sample 5"):
        model.fit(np.nan_to_num(x), y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_skip_nonfinite_survives_save_and_load(tmp_path):
    model = _model(skip_nonfinite=True)
    model.save(str(tmp_path / "m.rnnkit"))
    assert rnnkit.load_model(str(tmp_path / "m.rnnkit")).skip_nonfinite is True
