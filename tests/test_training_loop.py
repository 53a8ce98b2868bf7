"""The fit / evaluate / predict loop: what it returns, how it batches, splits and shuffles,
several inputs and outputs, masks, printing, and bad input refused before any update."""

import re

import numpy as np
import pytest

import rnnkit
from gradcheck import assert_close
from rnnkit.layers import (
    LSTM,
    Concatenate,
    Dense,
    Embedding,
    Input,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.training.callbacks import Callback
from rnnkit.training.losses import MeanSquaredError, SparseCategoricalCrossentropy
from rnnkit.training.optimizers import SGD

N, T, I, H, K = 10, 4, 3, 5, 2


def regression_model(lr=0.1):
    model = rnnkit.Sequential([Input((T, I)), LSTM(H), Dense(K)])
    model.compile(optimizer=SGD(learning_rate=lr), loss="mse", metrics=["mae"])
    return model


def regression_data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, T, I)), rng.standard_normal((n, K))


def mse(y, p):
    return float(np.mean((p - y) ** 2))


def mae(y, p):
    return float(np.mean(np.abs(p - y)))


def same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b))


class Recorder(Callback):
    """Remembers every hook call (name, argument, a copy of logs)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
            def hook(*args, **kwargs):
                logs = kwargs.get("logs", args[-1] if args and isinstance(args[-1], dict)
                                  else None)
                arg = args[0] if args and not isinstance(args[0], dict) else None
                self.calls.append((name, arg, dict(logs) if logs else None))
            return hook
        return super().__getattribute__(name)

    def names(self):
        return [c[0] for c in self.calls]


# ---- History and what fit returns -----------------------------------------------------------

def test_fit_returns_history_with_every_key_per_epoch(float64):
    model = regression_model()
    x, y = regression_data()
    vx, vy = regression_data(seed=1, n=6)
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, validation_data=(vx, vy))
    assert history is model.history
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(v) == 3 for v in history.history.values())
    assert all(isinstance(v, float) for vs in history.history.values() for v in vs)
    # validation runs after the epoch's last update: the last val_* are evaluate's numbers
    p = model.predict(vx)
    assert_close(history.history["val_loss"][-1], mse(vy, p), rtol=1e-12)
    assert_close(history.history["val_mae"][-1], mae(vy, p), rtol=1e-12)
    assert model.evaluate(vx, vy, verbose=0) == pytest.approx(
        [history.history["val_loss"][-1], history.history["val_mae"][-1]], rel=1e-12)
    # it learns: the training loss goes down on this easy problem
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_epoch_loss_with_partial_last_batch_equals_evaluate_when_lr_is_zero(float64):
    model = regression_model(lr=0.0)
    x, y = regression_data()
    steps = []

    class Steps(Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    before = model.get_weights()
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[Steps()],
                        shuffle=True, seed=0)
    assert steps == [0, 1, 2, 0, 1, 2]                      # 10 samples: 4 + 4 + 2
    assert same_weights(before, model.get_weights())       # lr = 0
    expected = mse(y, model.predict(x))
    for epoch in range(2):
        # batch losses weighted by batch size: the partial batch counts for 2, not 4
        assert_close(history.history["loss"][epoch], expected, rtol=1e-12)
        assert_close(history.history["mae"][epoch], mae(y, model.predict(x)), rtol=1e-12)
    assert_close(model.evaluate(x, y, batch_size=3, verbose=0)[0], expected, rtol=1e-12)
    # an unweighted mean of the three batch losses would differ
    batch_losses = [mse(y[s], model.predict(x[s])) for s in (slice(0, 4), slice(4, 8),
                                                            slice(8, 10))]
    assert abs(np.mean(batch_losses) - expected) > 1e-6


def test_batch_logs_are_running_means_and_params(float64):
    model = regression_model(lr=0.0)
    x, y = regression_data()
    rec = Recorder()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False, callbacks=[rec])
    assert rec.params["steps"] == 3 and rec.params["epochs"] == 1
    batch_logs = [c[2] for c in rec.calls if c[0] == "on_train_batch_end"]
    p = model.predict(x)
    for logs, end in zip(batch_logs, (4, 8, 10)):
        assert_close(logs["loss"], mse(y[:end], p[:end]), rtol=1e-12)
        assert_close(logs["mae"], mae(y[:end], p[:end]), rtol=1e-12)


def test_validation_split_takes_the_last_fraction_before_shuffling(float64):
    model = regression_model(lr=0.0)
    x, y = regression_data()
    history = model.fit(x, y, batch_size=3, epochs=1, verbose=0, validation_split=0.3,
                        shuffle=True, seed=1)
    p = model.predict(x)
    assert_close(history.history["val_loss"][0], mse(y[7:], p[7:]), rtol=1e-12)
    assert_close(history.history["loss"][0], mse(y[:7], p[:7]), rtol=1e-12)
    with pytest.raises(ValueError, match="validation_split must be in"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="empty training or validation set"):
        model.fit(x, y, validation_split=0.95, verbose=0)


def test_validation_data_with_sample_weights(float64):
    model = regression_model(lr=0.0)
    x, y = regression_data()
    vx, vy = regression_data(seed=2, n=5)
    sw = np.array([1.0, 0.0, 2.0, 0.5, 0.0])
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(vx, vy, sw))
    per_sample = np.mean((model.predict(vx) - vy) ** 2, axis=-1)
    assert_close(history.history["val_loss"][0], np.sum(per_sample * sw) / 5, rtol=1e-12)
    with pytest.raises(ValueError, match="validation_data must be a tuple"):
        model.fit(x, y, verbose=0, validation_data=vx)


def test_shuffle_with_seed_is_reproducible_and_shuffles():
    x, y = regression_data()
    results = {}
    for key, kwargs in {"a": dict(seed=3), "b": dict(seed=3), "c": dict(seed=4),
                        "noshuffle": dict(shuffle=False)}.items():
        rnnkit.random.set_random_seed(7)                   # the same initial weights
        model = regression_model()
        model.fit(x, y, batch_size=3, epochs=2, verbose=0, **kwargs)
        results[key] = model.get_weights()
    assert same_weights(results["a"], results["b"])
    assert not same_weights(results["a"], results["c"])
    assert not same_weights(results["a"], results["noshuffle"])


def test_initial_epoch(float64):
    model = regression_model()
    x, y = regression_data()
    seen = []

    class Epochs(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    history = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0, callbacks=[Epochs()])
    assert seen == [3, 4] and history.epoch == [3, 4] and len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 2
    history = model.fit(x, y, epochs=2, initial_epoch=2, verbose=0)
    assert history.epoch == [] and history.history == {}


# ---- evaluate / predict / *_on_batch ----------------------------------------------------------

def test_evaluate_predict_and_on_batch_methods(float64):
    model = regression_model(lr=0.2)
    x, y = regression_data()
    p = model.predict(x, batch_size=3)
    assert p.shape == (N, K) and p.dtype == np.float64
    assert_close(p, model.forward(x), rtol=1e-12, what="predict in batches")
    assert_close(model.predict_on_batch(x[:4]), p[:4], rtol=1e-12)
    assert model.predict(x[:1]).shape == (1, K)
    loss, m = model.evaluate(x, y, verbose=0)
    assert_close(loss, mse(y, p), rtol=1e-12)
    assert_close(m, mae(y, p), rtol=1e-12)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(
        {"loss": mse(y, p), "mae": mae(y, p)}, rel=1e-12)
    assert model.metrics_names == ["loss", "mae"]
    logs = model.test_on_batch(x[:4], y[:4], return_dict=True)
    assert logs == pytest.approx({"loss": mse(y[:4], p[:4]), "mae": mae(y[:4], p[:4])},
                                 rel=1e-12)
    before = model.get_weights()
    assert same_weights(before, model.get_weights())           # test_on_batch changes nothing
    loss, m = model.train_on_batch(x[:4], y[:4])
    assert_close(loss, mse(y[:4], p[:4]), rtol=1e-12)           # the loss before the update
    after = model.get_weights()
    assert not any(np.array_equal(a, b) for a, b in zip(before, after))
    assert model.optimizer.iterations == 1
    assert model.test_on_batch(x[:4], y[:4])[0] < loss          # one step downhill


def test_evaluate_without_metrics_returns_a_float_and_verbose_prints(float64, capsys):
    model = rnnkit.Sequential([Input((T, I)), SimpleRNN(H), Dense(K)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = regression_data()
    value = model.evaluate(x, y, verbose=0)
    assert isinstance(value, float)
    assert capsys.readouterr().out == ""
    model.evaluate(x, y, verbose=1)
    assert re.search(r"loss: \d+\.\d{4}", capsys.readouterr().out)


def test_several_inputs_and_outputs(float64):
    seq, static = Input((T, I), name="seq"), Input((2,), name="static")
    h = LSTM(H, name="lstm")(seq)
    both = Concatenate(name="concat")([h, static])
    reg, cls = Dense(1, name="reg")(both), Dense(3, name="cls")(both)
    model = rnnkit.Model([seq, static], [reg, cls])
    model.compile(optimizer=SGD(0.0),
                  loss=["mse", SparseCategoricalCrossentropy(from_logits=True)],
                  loss_weights=[0.5, 2.0], metrics=[["mae"], ["accuracy"]])
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((N, T, I)), rng.standard_normal((N, 2))]
    ys = [rng.standard_normal((N, 1)), rng.integers(0, 3, N)]
    history = model.fit(xs, ys, batch_size=4, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "reg_mae", "cls_accuracy"}
    p_reg, p_cls = model.predict(xs, batch_size=3)
    assert p_reg.shape == (N, 1) and p_cls.shape == (N, 3)
    log_p = p_cls - np.log(np.sum(np.exp(p_cls), axis=-1, keepdims=True))
    ce = -np.mean(log_p[np.arange(N), ys[1]])
    total = 0.5 * mse(ys[0], p_reg) + 2.0 * ce
    acc = np.mean(np.argmax(p_cls, -1) == ys[1])
    assert_close(history.history["loss"][0], total, rtol=1e-12)       # lr = 0
    assert_close(history.history["cls_accuracy"][0], acc, rtol=1e-12)
    logs = model.evaluate(xs, ys, verbose=0, return_dict=True)
    assert logs == pytest.approx({"loss": total, "reg_mae": mae(ys[0], p_reg),
                                  "cls_accuracy": acc}, rel=1e-12)
    assert model.metrics_names == ["loss", "reg_mae", "cls_accuracy"]
    assert_close(model.test_on_batch([a[:4] for a in xs], [b[:4] for b in ys])[0],
                 0.5 * mse(ys[0][:4], p_reg[:4])
                 + 2.0 * -np.mean(log_p[np.arange(4), ys[1][:4]]), rtol=1e-12)
    out = model.predict_on_batch([a[:2] for a in xs])
    assert isinstance(out, list) and [o.shape for o in out] == [(2, 1), (2, 3)]
    # a real step changes the weights of both heads and of the shared LSTM
    model.optimizer.learning_rate = 0.1
    before = model.get_weights()
    model.train_on_batch(xs, ys)
    assert not any(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(ValueError, match="the model has 2 inputs but x is a list of 3"):
        model.fit(xs + [xs[1]], ys, verbose=0)
    with pytest.raises(ValueError, match="2 outputs but 1 losses"):
        model.compile(loss=["mse"])


# ---- masks ----------------------------------------------------------------------------------

@pytest.mark.parametrize("head", ["time_distributed", "dense"])
def test_masked_per_step_loss_counts_valid_steps_only(float64, head):
    V, E = 8, 3
    top = TimeDistributed(Dense(K)) if head == "time_distributed" else Dense(K)
    model = rnnkit.Sequential([Input((6,), dtype="int64"), Embedding(V, E, mask_zero=True),
                               LSTM(H, return_sequences=True), top])
    model.compile(optimizer=SGD(0.3), loss="mse", metrics=["mae"])
    tokens = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 1, 0], [2, 2, 0, 0, 0, 0]])
    valid = tokens != 0
    rng = np.random.default_rng(5)
    y = rng.standard_normal((3, 6, K))
    p = model.predict(tokens)
    per_step = np.mean((p - y) ** 2, axis=-1)                  # (B, T)
    loss, m = model.test_on_batch(tokens, y)
    assert_close(loss, per_step[valid].mean(), rtol=1e-12)
    assert_close(m, np.mean(np.abs(p - y).mean(-1)[valid]), rtol=1e-12)
    assert abs(per_step.mean() - loss) > 1e-3                   # the padding would change it
    # targets at padded steps do not matter, neither for the loss nor for the update
    y2 = y.copy()
    y2[~valid] = 100.0
    twin = rnnkit.Sequential.from_config(model.get_config())
    twin.set_weights(model.get_weights())
    twin.compile(optimizer=SGD(0.3), loss="mse")
    assert model.train_on_batch(tokens, y)[0] == twin.train_on_batch(tokens, y2)
    assert same_weights(model.get_weights(), twin.get_weights())


# ---- printing -------------------------------------------------------------------------------

def test_verbose_zero_prints_nothing(capsys):
    model = regression_model()
    x, y = regression_data()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.2)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_verbose_one_shows_a_progress_bar_with_the_loss(capsys):
    model = regression_model()
    x, y = regression_data()
    model.fit(x, y, batch_size=4, epochs=2, verbose=1)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "3/3" in text                                        # tqdm's n/total
    assert re.search(r"loss: \d+\.\d{4}", text) and "mae:" in text


def test_verbose_two_prints_one_line_per_epoch(capsys):
    model = regression_model()
    x, y = regression_data()
    model.fit(x, y, epochs=2, verbose=2)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2") and "loss:" in lines[1]
    with pytest.raises(ValueError, match="verbose must be"):
        model.fit(x, y, verbose=3)


# ---- bad input: refused before any training step ------------------------------------------

def classifier():
    model = rnnkit.Sequential([Input((T, I)), LSTM(H), Dense(3)])
    model.compile(optimizer=SGD(0.1), loss=SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def _x(n=N, features=I):
    return np.random.default_rng(6).standard_normal((n, T, features))


_LABELS = np.arange(N) % 3
BAD_FIT = [
    ("lengths", dict(x=_x(), y=_LABELS[:9]), "x has 10 samples but y has 9 samples"),
    ("features", dict(x=_x(features=I + 1), y=_LABELS), r"expected an array of shape "
                                                         r"\(None, 4, 3\).*got shape"),
    ("label_late", dict(x=_x(), y=np.where(np.arange(N) == 9, 3, _LABELS)),
     r"label 3 outside \[0, 3\)"),
    ("label_negative", dict(x=_x(), y=np.where(np.arange(N) == 8, -1, _LABELS)),
     r"label -1 outside \[0, 3\)"),
    ("label_fraction", dict(x=_x(), y=np.where(np.arange(N) == 7, 1.5, _LABELS)),
     "labels must be integers"),
    ("label_shape", dict(x=_x(), y=np.zeros((N, 3, 2))), "do not fit outputs"),
    ("empty", dict(x=_x(n=0), y=_LABELS[:0]), r"x is empty \(0 samples\)"),
    ("ragged", dict(x=[_x()[0].tolist(), _x()[1, :2].tolist()], y=[0, 1]), "is ragged"),
    ("ragged_arrays", dict(x=[_x()[0], _x()[1, :2]], y=[0, 1]), "is ragged"),
    ("ragged_y", dict(x=_x(n=2), y=[[0, 1], [1]]), "y is ragged"),
    ("scalar_x", dict(x=np.float64(1.0), y=_LABELS), "got a scalar"),
    ("sample_weight", dict(x=_x(), y=_LABELS, sample_weight=np.ones(3)),
     "sample_weight must have 10 entries"),
    ("no_y", dict(x=_x(), y=None), "y is required"),
    ("batch_size", dict(x=_x(), y=_LABELS, batch_size=0), "batch_size must be a positive"),
    ("val_labels", dict(x=_x(), y=_LABELS, validation_data=(_x(n=4), np.array([0, 1, 2, 5]))),
     r"label 5 outside \[0, 3\)"),
]


@pytest.mark.parametrize("case,kwargs,message", BAD_FIT, ids=[c[0] for c in BAD_FIT])
def test_bad_input_is_refused_before_any_update(case, kwargs, message):
    model = classifier()
    before = model.get_weights()
    kwargs = {"batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        model.fit(**kwargs, epochs=1, verbose=0)
    assert same_weights(before, model.get_weights())
    assert model.optimizer.iterations == 0


def test_bad_labels_at_masked_steps_are_allowed_elsewhere_refused():
    model = rnnkit.Sequential([Input((5,), dtype="int64"), Embedding(6, 3, mask_zero=True),
                               LSTM(4, return_sequences=True), Dense(3)])
    model.compile(optimizer=SGD(0.1), loss=SparseCategoricalCrossentropy(from_logits=True))
    tokens = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 1, 0], [2, 0, 0, 0, 0]] * 3)
    labels = np.where(tokens == 0, -1, tokens % 3)                 # -1 at padding only
    model.fit(tokens, labels, batch_size=4, verbose=0)              # fine: padding is masked
    assert model.optimizer.iterations == 3
    labels[7, 1] = 3                                                # a real step, 2nd batch
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"label 3 outside \[0, 3\)"):
        model.fit(tokens, labels, batch_size=4, verbose=0)
    assert same_weights(before, model.get_weights()) and model.optimizer.iterations == 3


def test_a_metric_that_does_not_fit_an_output_is_refused_before_training():
    seq = Input((T, I))
    h = LSTM(H)(seq)
    model = rnnkit.Model(seq, [Dense(1, name="reg")(h), Dense(3, name="cls")(h)])
    model.compile(optimizer=SGD(0.1), loss=["mse", SparseCategoricalCrossentropy()],
                  metrics=["mae"])                                  # mae on class labels
    before = model.get_weights()
    with pytest.raises(ValueError, match="metric 'cls_mae' cannot be computed for output 'cls'"):
        model.fit(_x(), [np.zeros((N, 1)), _LABELS], verbose=0)
    assert same_weights(before, model.get_weights())


def test_compile_is_required_and_compile_errors():
    model = rnnkit.Sequential([Input((T, I)), LSTM(H), Dense(3)])
    for call in (lambda: model.fit(_x(), _LABELS), lambda: model.evaluate(_x(), _LABELS),
                 lambda: model.train_on_batch(_x(), _LABELS),
                 lambda: model.test_on_batch(_x(), _LABELS)):
        with pytest.raises(RuntimeError, match="call compile\\(\\) first"):
            call()
    assert model.predict(_x()).shape == (N, 3)                      # predict needs no compile
    with pytest.raises(ValueError, match="a loss is required"):
        model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="reduces to one number"):
        model.compile(loss=MeanSquaredError(reduction="none"))
    with pytest.raises(ValueError, match="Could not interpret loss"):
        model.compile(loss="no_such_loss")
    assert model.compiled_loss is None                              # nothing half-set


def test_train_on_batch_refuses_bad_labels_without_updating():
    model = classifier()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"label 7 outside \[0, 3\)"):
        model.train_on_batch(_x(n=3), np.array([0, 7, 1]))
    with pytest.raises(ValueError, match="do not fit outputs"):
        model.train_on_batch(_x(n=3), np.zeros((3, 2, 2)))
    assert same_weights(before, model.get_weights()) and model.optimizer.iterations == 0


# ---- stop_training --------------------------------------------------------------------------

def test_stop_training_mid_epoch_and_at_epoch_end(float64):
    model = regression_model()
    x, y = regression_data()
    vx, vy = regression_data(seed=3, n=4)
    batches = []

    class StopAfterTwoBatches(Callback):
        def on_train_batch_end(self, batch, logs=None):
            batches.append(batch)
            if batch == 1:
                self.model.stop_training = True

    history = model.fit(x, y, batch_size=3, epochs=5, verbose=0, validation_data=(vx, vy),
                        callbacks=[StopAfterTwoBatches()])
    assert batches == [0, 1] and model.optimizer.iterations == 2
    assert history.epoch == [0]
    assert all(len(v) == 1 for v in history.history.values())   # val_* too
    assert_close(history.history["val_loss"][0], mse(vy, model.predict(vx)), rtol=1e-12)

    class StopAtEpoch1(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    history = model.fit(x, y, batch_size=5, epochs=5, verbose=0, callbacks=[StopAtEpoch1()])
    assert history.epoch == [0, 1] and model.optimizer.iterations == 2 + 4
    # a new fit starts again: stop_training is reset
    history = model.fit(x, y, batch_size=5, epochs=1, verbose=0)
    assert history.epoch == [0] and not model.stop_training


def test_train_on_batch_with_a_metric_that_does_not_fit_changes_nothing():
    seq = Input((T, I))
    h = LSTM(H)(seq)
    model = rnnkit.Model(seq, [Dense(1, name="reg")(h), Dense(3, name="cls")(h)])
    model.compile(optimizer=SGD(0.1), loss=["mse", SparseCategoricalCrossentropy()],
                  metrics=["mae"])
    before = model.get_weights()
    with pytest.raises(ValueError, match="mean_absolute_error"):
        model.train_on_batch(_x(n=3), [np.zeros((3, 1)), np.array([0, 1, 2])])
    assert same_weights(before, model.get_weights()) and model.optimizer.iterations == 0
