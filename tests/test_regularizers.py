"""Weight regularizers and constraints, as Keras's: the penalty joins the loss, its gradient the
weight's gradient, constraints project after each step; arguments round-trip through configs
and files; Keras's execution options to compile() are accepted."""

import numpy as np
import pytest

import rnnkit
from rnnkit import constraints, layers, regularizers


def _model(**lstm_kw):
    rnnkit.random.set_random_seed(0)
    m = rnnkit.Sequential([layers.Input((5, 3)), layers.LSTM(4, **lstm_kw),
                           layers.Dense(2, dtype="float64")])
    m.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse")
    return m


X = np.random.default_rng(1).normal(size=(6, 5, 3))
Y = np.random.default_rng(2).normal(size=(6, 2))


@pytest.mark.parametrize("reg, grad", [
    (regularizers.L2(0.3), lambda w: 0.6 * w),
    (regularizers.L1(0.2), lambda w: 0.2 * np.sign(w)),
    (regularizers.L1L2(0.2, 0.3), lambda w: 0.2 * np.sign(w) + 0.6 * w),
])
def test_one_sgd_step_adds_the_penalty_gradient(reg, grad):
    plain, regd = _model(), _model(kernel_regularizer=reg)
    regd.set_weights(plain.get_weights())
    w0 = plain.layers[0].kernel.value.astype(np.float64)
    penalty = reg(w0)
    loss_plain = plain.train_on_batch(X, Y)
    loss_reg = regd.train_on_batch(X, Y)
    assert loss_reg == pytest.approx(loss_plain + penalty, rel=1e-6)
    step = regd.layers[0].kernel.value - plain.layers[0].kernel.value
    np.testing.assert_allclose(step, -0.1 * grad(w0), rtol=1e-4, atol=1e-6)
    # the other weights saw no penalty
    np.testing.assert_array_equal(regd.layers[1].kernel.value, plain.layers[1].kernel.value)


def test_losses_and_evaluate_include_the_penalties():
    m = _model(recurrent_regularizer="l2", bias_regularizer=regularizers.L1(0.5))
    rk = m.layers[0].recurrent_kernel.value
    b = m.layers[0].bias.value
    assert m.losses == pytest.approx([0.01 * np.sum(rk.astype(float) ** 2),
                                      0.5 * np.abs(b.astype(float)).sum()], rel=1e-6)
    plain = _model()
    plain.set_weights(m.get_weights())
    assert m.evaluate(X, Y, verbose=0) == pytest.approx(
        plain.evaluate(X, Y, verbose=0) + sum(m.losses), rel=1e-6)


@pytest.mark.parametrize("con, check", [
    (constraints.MaxNorm(0.5), lambda w: np.sqrt((w ** 2).sum(0)).max() <= 0.5 + 1e-6),
    (constraints.NonNeg(), lambda w: w.min() >= 0),
    (constraints.UnitNorm(), lambda w: np.allclose(np.sqrt((w ** 2).sum(0)), 1, atol=1e-5)),
    (constraints.MinMaxNorm(0.2, 0.3), lambda w: np.all(
        (np.sqrt((w ** 2).sum(0)) > 0.2 - 1e-5) & (np.sqrt((w ** 2).sum(0)) < 0.3 + 1e-5))),
])
def test_constraints_hold_after_each_step(con, check):
    m = _model(kernel_constraint=con)
    for _ in range(2):
        m.train_on_batch(X, Y)
        assert check(m.layers[0].kernel.value.astype(np.float64))


def test_constraint_formulas_match_keras():
    w = np.array([[3.0, 0.1], [4.0, 0.2]])
    np.testing.assert_allclose(constraints.MaxNorm(2)(w), w * np.array([2 / (5 + 1e-7),
                                                                        np.sqrt(0.05) /
                                                                        (np.sqrt(0.05) + 1e-7)]))
    np.testing.assert_allclose(constraints.UnitNorm(axis=1)(w)[0], w[0] / (np.sqrt(9.01) + 1e-7))


def test_arguments_round_trip_through_config_and_files(tmp_path):
    m = _model(kernel_regularizer=regularizers.L2(0.02),
               recurrent_constraint=constraints.MaxNorm(3.0, axis=1))
    cfg = m.layers[0].get_config()
    assert cfg["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.02}}
    assert cfg["recurrent_constraint"] == {"class_name": "MaxNorm",
                                           "config": {"max_value": 3.0, "axis": 1}}
    path = str(tmp_path / "m.rnnkit")
    m.save(path)
    again = rnnkit.load_model(path)
    assert again.losses == pytest.approx(m.losses)
    assert again.layers[0].recurrent_kernel.constraint.max_value == 3.0


@pytest.mark.parametrize("make, err, words", [
    (lambda: layers.Dense(2, recurrent_regularizer="l2"), TypeError, "unexpected arguments"),
    (lambda: layers.Dense(2, activity_regularizer="l2"), ValueError, "activity_regularizer"),
    (lambda: layers.Dense(2, kernel_regularizer="l3", name="d"), ValueError,
     "d: unknown regularizer 'l3'"),
    (lambda: regularizers.L2(-1.0), ValueError, "finite factor >= 0"),
    (lambda: layers.LSTM(2, implementation=3), ValueError, "implementation"),
])
def test_bad_arguments_are_named(make, err, words):
    with pytest.raises(err, match=words):
        make()


def test_keras_execution_options_are_accepted_and_change_nothing():
    a, b = _model(), _model(use_cudnn=False, implementation=2)
    b.set_weights(a.get_weights())
    b.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse", run_eagerly=True,
              jit_compile=False, steps_per_execution=8)
    assert a.train_on_batch(X, Y) == b.train_on_batch(X, Y)
    with pytest.raises(ValueError, match="steps_per_execution"):
        b.compile(optimizer="sgd", loss="mse", steps_per_execution=0)
