"""Callbacks driven through real ``fit`` calls on tiny models.

Where a callback's decision depends on the monitored numbers, a ``Script`` callback placed before
it overwrites ``logs[monitor]`` with a fixed sequence, so the expected epochs follow from Keras's
rules by hand; the model still trains for real, so restored or saved weights are real weights.
"""

import csv
import math
import os

import numpy as np
import pytest

import rnnkit
from gradcheck import assert_close
from rnnkit.layers import LSTM, Dense, Input, SimpleRNN
from rnnkit.training.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from rnnkit.training.optimizers import SGD

N, T, I, H, K = 8, 3, 2, 4, 2


def tiny_model(lr=0.1):
    model = rnnkit.Sequential([Input((T, I)), LSTM(H), Dense(K)])
    model.compile(optimizer=SGD(learning_rate=lr), loss="mse", metrics=["mae"])
    return model


def data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, T, I)), rng.standard_normal((n, K))


class Script(Callback):
    """Overwrites ``logs[key]`` at each epoch's end with the next scripted value."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class WeightsAtEpochEnd(Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def fit(model, callbacks, epochs, **kwargs):
    x, y = data()
    return model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, callbacks=callbacks,
                     **kwargs)


# ---- History ----------------------------------------------------------------------------------

def test_history_records_each_epoch_and_is_new_for_each_fit():
    model = tiny_model()
    x, y = data()
    h1 = model.fit(x, y, epochs=2, verbose=0)
    h2 = model.fit(x, y, epochs=3, verbose=0)
    assert isinstance(h1, History) and h1 is not h2 and model.history is h2
    assert h1.epoch == [0, 1] and h2.epoch == [0, 1, 2]
    assert len(h1.history["loss"]) == 2 and len(h2.history["mae"]) == 3
    assert h1.params == {"epochs": 2, "steps": 1, "verbose": 0, "batch_size": 32}
    assert h2.history["loss"][0] < h1.history["loss"][0]          # training went on


# ---- EarlyStopping ----------------------------------------------------------------------------

def test_early_stopping_patience_and_restore_best_weights(capsys):
    model = tiny_model()
    rec = WeightsAtEpochEnd()
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True, verbose=1)
    # best at epoch 1; epochs 2 and 3 do not improve: stop after epoch 3
    history = fit(model, [Script("val_loss", [5, 3, 4, 3.5, 1, 1]), es, rec], epochs=6)
    assert history.epoch == [0, 1, 2, 3]
    assert es.stopped_epoch == 3 and es.best_epoch == 1 and es.best == 3
    assert same_weights(model.get_weights(), rec.weights[1])      # exactly epoch 1's weights
    assert not same_weights(rec.weights[1], rec.weights[3])
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_early_stopping_without_restore_keeps_the_last_weights():
    model = tiny_model()
    rec = WeightsAtEpochEnd()
    es = EarlyStopping(monitor="val_loss", patience=1)
    history = fit(model, [Script("val_loss", [2, 1, 3, 3]), es, rec], epochs=4)
    assert history.epoch == [0, 1, 2]
    assert same_weights(model.get_weights(), rec.weights[2])


def test_early_stopping_restores_the_best_weights_even_without_stopping():
    model = tiny_model()
    rec = WeightsAtEpochEnd()
    es = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    history = fit(model, [Script("val_loss", [3, 1, 2]), es, rec], epochs=3)
    assert history.epoch == [0, 1, 2] and es.stopped_epoch == 0
    assert same_weights(model.get_weights(), rec.weights[1])


@pytest.mark.parametrize("baseline,epochs_run", [(None, 3), (1.0, 2), (10.0, 3)])
def test_early_stopping_baseline(baseline, epochs_run):
    # values only get worse after the first: without a baseline (or one the first value beats)
    # wait restarts at epoch 0 and patience 2 stops after epoch 2; with a baseline never beaten
    # wait is already 1 after epoch 0, so training stops after epoch 1 (Keras's rule)
    model = tiny_model()
    es = EarlyStopping(monitor="val_loss", patience=2, baseline=baseline)
    history = fit(model, [Script("val_loss", [5, 6, 7, 8, 9]), es], epochs=5)
    assert len(history.epoch) == epochs_run


def test_early_stopping_min_delta():
    values = [5.0, 4.95, 4.9, 4.85, 4.8]
    model = tiny_model()
    history = fit(model, [Script("val_loss", values),
                          EarlyStopping(monitor="val_loss", patience=1, min_delta=0.1)], epochs=5)
    assert history.epoch == [0, 1]                       # 0.05 steps are not improvements
    history = fit(model, [Script("val_loss", values),
                          EarlyStopping(monitor="val_loss", patience=1, min_delta=0.01)],
                  epochs=5)
    assert history.epoch == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("mode,monitor,epochs_run", [
    ("max", "score", 3),          # 1 -> 2 improves, 1.5 and 1.8 do not: stops after epoch 3
    ("min", "score", 2),          # 2 is worse than 1: stops after epoch 1
    ("auto", "val_accuracy", 3),  # "acc" in the name: maximised
    ("auto", "val_loss", 2),      # anything else: minimised
])
def test_early_stopping_mode(mode, monitor, epochs_run):
    model = tiny_model()
    es = EarlyStopping(monitor=monitor, patience=1, mode=mode)
    history = fit(model, [Script(monitor, [1, 2, 1.5, 1.8, 3]), es], epochs=5)
    assert len(history.epoch) == epochs_run
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="up")


def test_early_stopping_start_from_epoch_and_missing_monitor():
    model = tiny_model()
    es = EarlyStopping(monitor="val_loss", patience=1, start_from_epoch=2)
    history = fit(model, [Script("val_loss", [1, 9, 9, 9, 9]), es], epochs=5)
    assert history.epoch == [0, 1, 2, 3]                 # epochs 0 and 1 are not watched
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs"):
        history = fit(model, [EarlyStopping(monitor="val_loss", patience=0)], epochs=2)
    assert history.epoch == [0, 1]


def test_early_stopping_on_real_validation_loss():
    # lr so large that the validation loss gets worse: stops, restores the first epoch
    model = rnnkit.Sequential([Input((T, I)), SimpleRNN(H, activation="tanh"), Dense(K)])
    model.compile(optimizer=SGD(learning_rate=0.5), loss="mse")
    x, y = data()
    rec = WeightsAtEpochEnd()
    es = EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=30, batch_size=2, verbose=0, validation_data=data(1, 4),
                        callbacks=[es, rec])
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) < 30 and es.best_epoch == best and len(val) == best + 3
    assert same_weights(model.get_weights(), rec.weights[best])


# ---- ModelCheckpoint --------------------------------------------------------------------------

def test_model_checkpoint_save_best_only_with_epoch_in_the_name(tmp_path):
    model = tiny_model()
    rec = WeightsAtEpochEnd()
    pattern = str(tmp_path / "ckpt-{epoch:02d}.rnnkit")
    ck = ModelCheckpoint(pattern, monitor="val_loss", save_best_only=True)
    fit(model, [Script("val_loss", [3, 2, 2.5, 1, 4]), ck, rec], epochs=5)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01.rnnkit", "ckpt-02.rnnkit",
                                            "ckpt-04.rnnkit"]
    x, _ = data()
    for epoch in (1, 2, 4):
        loaded = rnnkit.load_model(str(tmp_path / f"ckpt-{epoch:02d}.rnnkit"))
        assert same_weights(loaded.get_weights(), rec.weights[epoch - 1])
        assert loaded.optimizer is not None              # a full model: compiled state too
    assert ck.best == 1


def test_model_checkpoint_every_epoch_with_log_values_in_the_name(tmp_path):
    model = tiny_model()
    history = fit(model, [ModelCheckpoint(str(tmp_path / "m-{epoch}-{loss:.4f}.rnnkit"))],
                  epochs=2)
    names = sorted(os.listdir(tmp_path))
    assert names == sorted(f"m-{e + 1}-{history.history['loss'][e]:.4f}.rnnkit"
                           for e in range(2))
    with pytest.raises(KeyError, match="cannot format the filepath"):
        fit(model, [ModelCheckpoint(str(tmp_path / "m-{nope}.rnnkit"))], epochs=1)


def test_model_checkpoint_save_weights_only_and_mode_max(tmp_path):
    model = tiny_model()
    rec = WeightsAtEpochEnd()
    path = str(tmp_path / "best.weights")
    ck = ModelCheckpoint(path, monitor="score", mode="max", save_best_only=True,
                         save_weights_only=True, verbose=1)
    fit(model, [Script("score", [0.1, 0.5, 0.3]), ck, rec], epochs=3)
    twin = tiny_model()
    twin.load_weights(path)
    assert same_weights(twin.get_weights(), rec.weights[1])
    with pytest.raises(rnnkit.FileFormatError, match="holds only weights"):
        rnnkit.load_model(path)


def test_model_checkpoint_initial_value_threshold_and_missing_monitor(tmp_path):
    model = tiny_model()
    path = str(tmp_path / "m.rnnkit")
    ck = ModelCheckpoint(path, monitor="val_loss", save_best_only=True,
                         initial_value_threshold=1.0)
    fit(model, [Script("val_loss", [3, 2]), ck], epochs=2)
    assert not os.path.exists(path)                      # never better than the threshold
    with pytest.raises(ValueError, match="monitor 'val_loss' is not in the logs"):
        fit(model, [ModelCheckpoint(path, save_best_only=True)], epochs=1)
    with pytest.raises(ValueError, match="only save_freq='epoch'"):
        ModelCheckpoint(path, save_freq=3)


# ---- LearningRateScheduler --------------------------------------------------------------------

class StepSize(Callback):
    """Measures the learning rate SGD really used: (w_before - w_after) / grad, per batch."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.used = x, y, []

    def on_train_batch_begin(self, batch, logs=None):
        m = self.model
        m.zero_grad()
        out = m.forward(self.x, training=True)
        _, dy = m.compiled_loss[0].value_and_grad(self.y, out)
        m.backward(dy)
        self.before = [w.value.copy() for w in m.trainable_weights]
        self.grads = [w.grad.copy() for w in m.trainable_weights]

    def on_train_batch_end(self, batch, logs=None):
        ratios = [(b - w.value) / g for b, w, g in
                  zip(self.before, self.model.trainable_weights, self.grads)]
        flat = np.concatenate([r.ravel() for r in ratios])
        assert np.allclose(flat, flat[0], rtol=1e-6)     # one step size for every weight
        self.used.append(float(np.median(flat)))


@pytest.mark.parametrize("one_argument", [False, True])
def test_learning_rate_scheduler_sets_the_rate_sgd_uses(float64, one_argument):
    model = tiny_model(lr=0.5)
    x, y = data()
    step = StepSize(x, y)
    if one_argument:
        sched = LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    else:
        sched = LearningRateScheduler(lambda epoch, lr: lr / 2 if epoch else 0.04)
    history = model.fit(x, y, batch_size=N, epochs=3, verbose=0, callbacks=[sched, step])
    expected = [0.01, 0.02, 0.03] if one_argument else [0.04, 0.02, 0.01]
    assert_close(step.used, expected, rtol=1e-6)
    assert history.history["learning_rate"] == pytest.approx(expected, rel=1e-15)
    assert model.optimizer.learning_rate == pytest.approx(expected[-1], rel=1e-15)


def test_learning_rate_scheduler_verbose_and_bad_schedule(capsys):
    model = tiny_model()
    fit(model, [LearningRateScheduler(lambda e, lr: 0.05, verbose=1)], epochs=1)
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.05." in \
        capsys.readouterr().out
    for bad in (lambda e, lr: "fast", lambda e, lr: float("nan")):
        with pytest.raises(ValueError, match="LearningRateScheduler"):
            fit(model, [LearningRateScheduler(bad)], epochs=1)


# ---- ReduceLROnPlateau ------------------------------------------------------------------------

def keras_reduce_lr(values, lr, factor, patience, cooldown, min_lr, min_delta=1e-4):
    """Keras 3's ReduceLROnPlateau.on_epoch_end, mode min, written out: lr logged per epoch."""
    best, wait, counter, logged = math.inf, 0, 0, []
    for v in values:
        logged.append(lr)
        if counter > 0:
            counter -= 1
            wait = 0
        if v < best - min_delta:
            best, wait = v, 0
        elif not counter > 0:
            wait += 1
            if wait >= patience and lr > min_lr:
                lr = max(lr * factor, min_lr)
                counter, wait = cooldown, 0
    return logged, lr


@pytest.mark.parametrize("cooldown", [0, 2])
def test_reduce_lr_on_plateau_factor_patience_cooldown_min_lr(float64, cooldown):
    values = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    model = tiny_model(lr=0.1)
    x, y = data()
    step = StepSize(x, y)
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=cooldown,
                           min_lr=0.02)
    history = model.fit(x, y, batch_size=N, epochs=len(values), verbose=0,
                        callbacks=[Script("val_loss", values), cb, step])
    logged, final = keras_reduce_lr(values, 0.1, 0.5, 2, cooldown, 0.02)
    assert history.history["learning_rate"] == pytest.approx(logged, rel=1e-15)
    assert model.optimizer.learning_rate == pytest.approx(final, rel=1e-15)
    assert_close(step.used, logged, rtol=1e-6)           # the rate really used each epoch
    assert min(logged) == 0.02 and logged[-1] == 0.02    # floored at min_lr
    if cooldown == 0:
        assert logged == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02,
                                        0.02, 0.02])
    else:
        assert logged == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025,
                                        0.02, 0.02])


def test_reduce_lr_on_plateau_errors_and_verbose(capsys):
    with pytest.raises(ValueError, match="factor must be < 1"):
        ReduceLROnPlateau(factor=1.5)
    model = tiny_model(lr=0.1)
    fit(model, [Script("val_loss", [1, 1]), ReduceLROnPlateau(patience=1, verbose=1)], epochs=2)
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.01" in capsys.readouterr().out


# ---- CSVLogger --------------------------------------------------------------------------------

def read_csv(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def test_csv_logger_rows_header_and_append(tmp_path):
    path = str(tmp_path / "log.csv")
    model = tiny_model()
    x, y = data()
    h1 = model.fit(x, y, epochs=2, verbose=0, validation_data=data(1, 4),
                   callbacks=[CSVLogger(path)])
    rows = read_csv(path)
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert len(rows) == 3
    for epoch, row in enumerate(rows[1:]):
        assert int(row[0]) == epoch
        assert [float(v) for v in row[1:]] == [h1.history[k][epoch] for k in rows[0][1:]]
    # append: new rows, no second header
    h2 = model.fit(x, y, epochs=1, verbose=0, validation_data=data(1, 4),
                   callbacks=[CSVLogger(path, append=True)])
    rows = read_csv(path)
    assert len(rows) == 4 and rows[0][0] == "epoch" and rows[3][0] == "0"
    assert float(rows[3][1]) == h2.history["loss"][0]
    # without append the file starts again
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path, separator=";")])
    rows = read_csv(path, sep=";")
    assert rows[0] == ["epoch", "loss", "mae"] and len(rows) == 2


def test_csv_logger_append_to_a_new_file_writes_the_header(tmp_path):
    path = str(tmp_path / "new.csv")
    model = tiny_model()
    fit(model, [CSVLogger(path, append=True)], epochs=1)
    rows = read_csv(path)
    assert rows[0] == ["epoch", "loss", "mae"] and len(rows) == 2


# ---- TerminateOnNaN ---------------------------------------------------------------------------

def test_terminate_on_nan_stops_at_the_first_bad_batch(capsys):
    model = rnnkit.Sequential([Input((T, I)), SimpleRNN(H, activation="relu"), Dense(K)])
    model.compile(optimizer=SGD(learning_rate=1e6), loss="mse")
    x, y = data(n=32)
    x = 100.0 * x
    losses = []

    class Losses(Callback):
        def on_train_batch_end(self, batch, logs=None):
            losses.append(logs["loss"])

    with np.errstate(all="ignore"):
        history = model.fit(x, y, batch_size=2, epochs=3, verbose=0, shuffle=False,
                            callbacks=[Losses(), TerminateOnNaN()])
    bad = next(i for i, v in enumerate(losses) if not math.isfinite(v))
    assert bad > 0 and len(losses) == bad + 1            # no batch after the bad one
    # the bad batch is not applied: the last good weights stay (see tests/test_nonfinite.py)
    assert model.optimizer.iterations == bad and history.epoch == [0]
    assert all(np.isfinite(w).all() for w in model.get_weights())
    out = capsys.readouterr().out
    assert f"TerminateOnNaN: epoch 1, batch {bad}: invalid loss" in out


# ---- a custom callback sees every hook, in order ------------------------------------------

class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def _log(self, name, arg=None, logs=None):
        self.calls.append((name, arg, None if logs is None else dict(logs)))

    def on_train_begin(self, logs=None): self._log("train_begin", logs=logs)
    def on_train_end(self, logs=None): self._log("train_end", logs=logs)
    def on_epoch_begin(self, epoch, logs=None): self._log("epoch_begin", epoch)
    def on_epoch_end(self, epoch, logs=None): self._log("epoch_end", epoch, logs)
    def on_batch_begin(self, batch, logs=None): self._log("batch_begin", batch)
    def on_batch_end(self, batch, logs=None): self._log("batch_end", batch, logs)
    def on_test_begin(self, logs=None): self._log("test_begin")
    def on_test_end(self, logs=None): self._log("test_end", logs=logs)
    def on_test_batch_begin(self, batch, logs=None): self._log("test_batch_begin", batch)
    def on_test_batch_end(self, batch, logs=None): self._log("test_batch_end", batch, logs)
    def on_predict_begin(self, logs=None): self._log("predict_begin")
    def on_predict_end(self, logs=None): self._log("predict_end")
    def on_predict_batch_begin(self, batch, logs=None): self._log("predict_batch_begin", batch)
    def on_predict_batch_end(self, batch, logs=None): self._log("predict_batch_end", batch, logs)


def test_custom_callback_sees_every_hook_in_order():
    model = tiny_model()
    x, y = data()                                            # 8 samples
    vx, vy = data(1, 3)
    rec = Recorder()
    model.fit(x, y, batch_size=5, epochs=2, verbose=0, validation_data=(vx, vy),
              callbacks=[rec])
    epoch = ["batch_begin", "batch_end", "batch_begin", "batch_end",
             "test_begin", "test_batch_begin", "test_batch_end", "test_end"]
    names = [c[0] for c in rec.calls]
    assert names == (["train_begin"] + ["epoch_begin"] + epoch + ["epoch_end"]
                     + ["epoch_begin"] + epoch + ["epoch_end"] + ["train_end"])
    assert rec.model is model and rec.params["steps"] == 2 and rec.params["epochs"] == 2
    assert [c[1] for c in rec.calls if c[0] in ("epoch_begin", "epoch_end")] == [0, 0, 1, 1]
    assert [c[1] for c in rec.calls if c[0] == "batch_end"] == [0, 1, 0, 1]
    epoch_end = [c[2] for c in rec.calls if c[0] == "epoch_end"]
    assert set(epoch_end[0]) == {"loss", "mae", "val_loss", "val_mae"}
    test_end = [c[2] for c in rec.calls if c[0] == "test_end"]
    assert test_end[1] == {"loss": epoch_end[1]["val_loss"], "mae": epoch_end[1]["val_mae"]}
    assert rec.calls[-1][2] == epoch_end[1]                  # on_train_end gets the last logs

    rec.calls.clear()
    logs = model.evaluate(vx, vy, batch_size=2, verbose=0, callbacks=[rec], return_dict=True)
    assert [c[0] for c in rec.calls] == ["test_begin", "test_batch_begin", "test_batch_end",
                                         "test_batch_begin", "test_batch_end", "test_end"]
    assert rec.calls[-1][2] == logs
    rec.calls.clear()
    out = model.predict(vx, batch_size=2, callbacks=[rec])
    assert [c[0] for c in rec.calls] == ["predict_begin", "predict_batch_begin",
                                         "predict_batch_end", "predict_batch_begin",
                                         "predict_batch_end", "predict_end"]
    assert np.array_equal(rec.calls[2][2]["outputs"], out[:2])


def test_callback_may_override_the_new_batch_hook_names():
    seen = []

    class New(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    model = tiny_model()
    fit(model, [New()], epochs=2)
    assert seen == [0, 1, 0, 1]


def test_a_history_given_as_callback_is_the_one_returned_and_a_single_callback_works():
    model = tiny_model()
    mine = History()
    returned = fit(model, [mine], epochs=2)
    assert returned is mine and model.history is mine and len(mine.history["loss"]) == 2
    seen = []

    class One(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    fit(model, One(), epochs=2)                       # not in a list: Keras 3 accepts it
    assert seen == [0, 1]
    with pytest.raises(TypeError, match="callbacks must be Callback objects, got function"):
        fit(model, [lambda: None], epochs=1)
