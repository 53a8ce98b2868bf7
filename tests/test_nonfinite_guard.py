"""The non-finite guards keep their word (issue 12, item 2).

``TerminateOnNaN`` and ``compile(skip_nonfinite=True)`` check the loss, every gradient and the
update (new weights and optimizer slots): a batch that fails any of them is not applied, the
weights and optimizer state stay those of the last good batch, and ``fit`` says what it skipped.
"""

import warnings

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import Callback, TerminateOnNaN
from rnnkit.layers import LSTM, Dense, Input
from rnnkit.training.losses import MeanSquaredError


class _NaNGradAt(MeanSquaredError):
    """MSE whose gradient (not value) is NaN at the given calls: a finite loss, a NaN gradient."""

    def __init__(self, bad_calls):
        super().__init__()
        self.bad_calls, self.calls = set(bad_calls), 0

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None):
        value, grad = super().value_and_grad(y_true, y_pred, sample_weight, mask)
        if self.calls in self.bad_calls:
            grad = grad.copy()
            grad.flat[0] = np.nan
        self.calls += 1
        return value, grad


class _Snapshots(Callback):
    def __init__(self):
        super().__init__()
        self.after = {}

    def on_train_batch_end(self, batch, logs=None):
        self.after[batch] = self.model.get_weights()


def _data(n=64):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, 5, 3)).astype("float32"),
            rng.standard_normal((n, 1)).astype("float32"))


def _model(optimizer=None, loss="mse", **kw):
    rnnkit.random.set_random_seed(0)
    m = rnnkit.Sequential([Input((5, 3)), LSTM(4), Dense(1)])
    m.compile(optimizer=optimizer or rnnkit.optimizers.Adam(0.01), loss=loss, **kw)
    return m


def _all_finite(model):
    return all(np.isfinite(w).all() for w in model.get_weights())


def test_terminate_on_nan_catches_a_finite_loss_with_a_nan_gradient(capsys):
    x, y = _data()
    model = _model(loss=_NaNGradAt({3}))
    snaps = _Snapshots()
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
              callbacks=[snaps, TerminateOnNaN()])
    out = capsys.readouterr().out
    assert "epoch 1, batch 3: non-finite gradient of" in out and "last good batch" in out
    assert max(snaps.after) == 3 and _all_finite(model)
    for w, good in zip(model.get_weights(), snaps.after[2]):
        np.testing.assert_array_equal(w, good)
    assert model.optimizer.iterations == 3


def test_terminate_on_nan_catches_a_non_finite_update(capsys):
    """A finite loss and finite gradients, but lr=1e300 pushes the weights to inf."""
    x, y = _data()
    model = _model(optimizer=rnnkit.optimizers.SGD(1e300))
    before = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
              callbacks=[TerminateOnNaN()])
    assert "batch 0: non-finite update of" in capsys.readouterr().out
    for w, good in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, good)
    assert model.optimizer.iterations == 0


def test_skip_nonfinite_refuses_an_overflowing_adam_moment_and_restores_its_state():
    """float32 Adam: a gradient of 1e20 is finite, its square overflows the second moment to inf
    (the weights move by m/sqrt(inf) = 0, so only the slot shows it)."""
    x, y = _data()
    model = _model(skip_nonfinite=True)
    model.fit(x[:8], y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
    state = model.optimizer.get_state()
    weights = model.get_weights()
    model.compiled_loss = [_Scaled(1e20)]          # the same model, a gradient scaled by 1e20
    with pytest.warns(RuntimeWarning, match=r"fit: skipped 1 of 1 batches .*first: epoch 1, "
                                            r"batch 0, non-finite optimizer slot"):
        model.fit(x[:8], y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
    for w, good in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(w, good)
    after = model.optimizer.get_state()
    assert after.keys() == state.keys()
    for k in state:
        np.testing.assert_array_equal(after[k], state[k])


class _Scaled(MeanSquaredError):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None):
        value, grad = super().value_and_grad(y_true, y_pred, sample_weight, mask)
        return value, grad * np.float32(self.factor)


def test_skip_nonfinite_first_step_restores_no_slots():
    """A skipped first step leaves the optimizer as new: no slots created, iterations 0."""
    x, y = _data()
    model = _model(optimizer=rnnkit.optimizers.SGD(1e300, momentum=0.9), skip_nonfinite=True)
    with pytest.warns(RuntimeWarning, match=r"skipped 8 of 8 batches"):
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert model.optimizer.iterations == 0 and model.optimizer.get_state().keys() == {
        "iterations", "learning_rate"}
    assert _all_finite(model) and model.skipped_batches == 8


def test_skip_nonfinite_says_nothing_when_nothing_was_skipped():
    x, y = _data()
    model = _model(skip_nonfinite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert model.skipped_batches == 0 and model.optimizer.iterations == 8
