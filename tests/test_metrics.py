"""Metrics: hand-computed examples (several from Keras's docstrings), masks on per-step
outputs, accumulation over batches, and the resolution of "accuracy" per loss and by shape."""

import numpy as np
import pytest

from gradcheck import assert_close
from rnnkit.training import losses, metrics
from rnnkit.training.metrics import (
    AutoAccuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    MeanAbsoluteError,
    MeanMetricWrapper,
    MeanSquaredError,
    SparseCategoricalAccuracy,
)


def test_mean_keras_examples():
    m = Mean()
    m.update_state([1, 3, 5, 7])
    assert m.result() == 4.0
    m.reset_state()
    assert m.result() == 0.0
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 2.0


def test_mean_of_the_loss_weighted_by_batch_size():
    m = metrics.get("loss")
    assert type(m) is Mean and m.name == "loss"
    m.update_state(2.0, sample_weight=32)       # what the fit loop does per batch
    m.update_state(5.0, sample_weight=8)        # a smaller last batch
    assert_close(m.result(), (2.0 * 32 + 5.0 * 8) / 40, rtol=1e-15)
    m.update_state(np.float64(1.0))             # unweighted scalar counts once
    assert_close(m.result(), (2.0 * 32 + 5.0 * 8 + 1.0) / 41, rtol=1e-15)


def test_mse_and_mae_accumulate_over_batches():
    mse, mae = MeanSquaredError(), MeanAbsoluteError()
    y1, p1 = np.array([[0.0, 1.0], [2.0, 2.0]]), np.array([[1.0, 1.0], [2.0, 0.0]])
    y2, p2 = np.array([[1.0, 1.0]]), np.array([[4.0, 1.0]])
    for m in (mse, mae):
        m.update_state(y1, p1)
        m.update_state(y2, p2)
    # per sample: mse 0.5, 2.0, 4.5 ; mae 0.5, 1.0, 1.5
    assert_close(mse.result(), (0.5 + 2.0 + 4.5) / 3, rtol=1e-15)
    assert_close(mae.result(), (0.5 + 1.0 + 1.5) / 3, rtol=1e-15)
    mse.reset_state()
    mse.update_state(y1, p1, sample_weight=np.array([3.0, 1.0]))
    assert_close(mse.result(), (3 * 0.5 + 2.0) / 4, rtol=1e-15)
    assert (mse.name, mae.name) == ("mean_squared_error", "mean_absolute_error")


def test_accuracy_keras_examples():
    m = BinaryAccuracy()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    assert m.result() == 0.75
    m.reset_state()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], sample_weight=[1, 0, 0, 1])
    assert m.result() == 0.5
    m = BinaryAccuracy(threshold=0.7)
    m.update_state([[1], [1], [0], [0]], [[0.98], [0.65], [0], [0.6]])
    assert m.result() == 0.75
    m = CategoricalAccuracy()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert m.result() == 0.5
    m.reset_state()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
                   sample_weight=[0.7, 0.3])
    assert_close(m.result(), 0.3, rtol=1e-15)
    m = SparseCategoricalAccuracy()
    m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    assert m.result() == 0.5
    m.reset_state()
    m.update_state([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert_close(m.result(), 0.3, rtol=1e-15)
    m.update_state(np.array([1.0, 1.0]), [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])   # float labels
    assert_close(m.result(), (0.3 + 2) / 3, rtol=1e-15)


def per_step_batch():
    # B=2, T=4, C=3; step 3 of sequence 0 and steps 2, 3 of sequence 1 are padding
    labels = np.array([[0, 1, 2, 0], [2, 2, 1, 1]])
    pred_labels = np.array([[0, 2, 2, 1], [2, 0, 1, 1]])    # correct: (0,0) (0,2) (1,0) + pads
    y_pred = np.eye(3)[pred_labels] * 0.8 + 0.1
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool)
    return labels, y_pred, mask


def test_accuracies_with_masks_count_valid_steps_only():
    labels, y_pred, mask = per_step_batch()
    sparse, cat = SparseCategoricalAccuracy(), CategoricalAccuracy()
    sparse.update_state(labels, y_pred, mask=mask)
    cat.update_state(np.eye(3)[labels], y_pred, mask=mask)
    # valid steps: (0,0) ok, (0,1) wrong, (0,2) ok, (1,0) ok, (1,1) wrong -> 3 / 5
    assert_close(sparse.result(), 3 / 5, rtol=1e-15)
    assert_close(cat.result(), 3 / 5, rtol=1e-15)
    # a second batch with every step valid: 4 more steps, 2 correct -> 5 / 9 overall
    sparse.update_state(np.array([[1, 1, 1, 1]]), np.eye(3)[[[1, 0, 1, 2]]],
                        mask=np.ones((1, 4)))
    assert_close(sparse.result(), 5 / 9, rtol=1e-15)
    # without a mask the padded steps would count
    unmasked = SparseCategoricalAccuracy()
    unmasked.update_state(labels, y_pred)
    assert_close(unmasked.result(), 5 / 8, rtol=1e-15)


def test_mask_with_per_sequence_sample_weights():
    labels, y_pred, mask = per_step_batch()
    sw = np.array([2.0, 0.5])
    m = SparseCategoricalAccuracy()
    m.update_state(labels, y_pred, sample_weight=sw, mask=mask)
    # sum(correct * sw * mask) / sum(sw * mask) = (2 * 2 + 0.5 * 1) / (2 * 3 + 0.5 * 2)
    assert_close(m.result(), 4.5 / 7.0, rtol=1e-15)


def test_binary_accuracy_and_mse_on_per_step_outputs_with_mask():
    y_true = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])          # (B, T)
    y_pred = np.array([[0.9, 0.7, 0.2], [0.1, 0.4, 0.0]])[..., None]   # (B, T, 1)
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    acc = BinaryAccuracy()
    acc.update_state(y_true, y_pred, mask=mask)
    # valid: ok, wrong, (pad), ok, ok, wrong -> 3 / 5
    assert_close(acc.result(), 3 / 5, rtol=1e-15)
    mse = MeanSquaredError()
    mse.update_state(y_true, y_pred, mask=mask)
    sq = (y_pred[..., 0] - y_true) ** 2
    assert_close(mse.result(), sq[mask == 1].mean(), rtol=1e-14)
    # the metric agrees with the masked loss (the mean over valid steps)
    assert_close(mse.result(), losses.MeanSquaredError()(y_true, y_pred, mask=mask),
                 rtol=1e-14)


@pytest.mark.parametrize("loss,cls", [
    ("sparse_categorical_crossentropy", SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(from_logits=True), SparseCategoricalAccuracy),
    ("categorical_crossentropy", CategoricalAccuracy),
    (losses.CategoricalCrossentropy, CategoricalAccuracy),
    ("binary_crossentropy", BinaryAccuracy),
    ("bce", BinaryAccuracy),
    (losses.binary_crossentropy, BinaryAccuracy),
    ("mse", AutoAccuracy),
    (None, AutoAccuracy),
])
def test_accuracy_resolved_from_the_loss(loss, cls):
    for name in ("accuracy", "acc", "Accuracy"):
        m = metrics.get(name, loss=loss)
        assert type(m) is cls and m.name == name


@pytest.mark.parametrize("y_true,y_pred,kind", [
    (np.array([[1], [0]]), np.array([[0.8], [0.3]]), BinaryAccuracy),         # one output
    (np.array([2, 1]), np.array([[0.1, 0.2, 0.7], [0.9, 0.05, 0.05]]), SparseCategoricalAccuracy),
    (np.array([[2], [1]]), np.array([[0.1, 0.2, 0.7], [0.9, 0.05, 0.05]]),
     SparseCategoricalAccuracy),
    (np.array([[0, 0, 1], [0, 1, 0]]), np.array([[0.1, 0.2, 0.7], [0.9, 0.05, 0.05]]),
     CategoricalAccuracy),
])
def test_accuracy_falls_back_to_shapes(y_true, y_pred, kind):
    m = metrics.get("accuracy", loss="mse")
    assert m.result() == 0.0
    m.update_state(y_true, y_pred)
    assert type(m.resolved) is kind and m.resolved.name == "accuracy"
    assert m.result() == (0.5 if kind is not BinaryAccuracy else 1.0)
    m.reset_state()
    assert m.result() == 0.0 and type(m.resolved) is kind
    m.update_state(y_true, y_pred)
    assert m.result() == (0.5 if kind is not BinaryAccuracy else 1.0)


def test_custom_loss_falls_back_to_shapes():
    class MyLoss(losses.Loss):
        pass

    assert type(metrics.get("accuracy", loss=MyLoss())) is AutoAccuracy
    assert type(metrics.get("accuracy", loss=lambda t, p: 0.0)) is AutoAccuracy


def test_get_names_and_objects():
    for name, cls in [("mse", MeanSquaredError), ("MSE", MeanSquaredError),
                      ("mean_squared_error", MeanSquaredError), ("mae", MeanAbsoluteError),
                      ("MeanAbsoluteError", MeanAbsoluteError),
                      ("binary_accuracy", BinaryAccuracy),
                      ("categorical_accuracy", CategoricalAccuracy),
                      ("sparse_categorical_accuracy", SparseCategoricalAccuracy)]:
        m = metrics.get(name)
        assert type(m) is cls and m.name == name          # Keras names it by the string
    m = BinaryAccuracy(threshold=0.3)
    assert metrics.get(m) is m and type(metrics.get(CategoricalAccuracy)) is CategoricalAccuracy
    with pytest.raises(ValueError, match="Could not interpret metric identifier: 'f1'"):
        metrics.get("f1")
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        metrics.get(3)
    with pytest.raises(ValueError, match="threshold"):
        BinaryAccuracy(threshold=1.5)


def test_loss_functions_as_metrics():
    m = metrics.get("sparse_categorical_crossentropy")
    assert type(m) is MeanMetricWrapper and m.name == "sparse_categorical_crossentropy"
    y_pred = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    m.update_state(np.array([1, 2]), y_pred)
    assert_close(m.result(), losses.SparseCategoricalCrossentropy()(np.array([1, 2]), y_pred),
                 rtol=1e-14)
    bce = metrics.get("bce")
    bce.update_state(np.array([[0, 1], [0, 0]]), np.array([[0.6, 0.4], [0.4, 0.6]]))
    assert abs(bce.result() - (0.916 + 0.714) / 2) < 1e-3


def test_config_round_trips():
    m = BinaryAccuracy(name="acc", threshold=0.3)
    assert m.get_config() == {"name": "acc", "dtype": None, "threshold": 0.3}
    back = metrics.get({"class_name": "BinaryAccuracy", "config": m.get_config()})
    assert type(back) is BinaryAccuracy and back.threshold == 0.3 and back.name == "acc"
    for cls in (MeanSquaredError, MeanAbsoluteError, CategoricalAccuracy,
                SparseCategoricalAccuracy, Mean):
        assert cls.from_config(cls().get_config()).get_config() == cls().get_config()
    w = metrics.get("categorical_crossentropy")
    back = metrics.deserialize({"class_name": "MeanMetricWrapper", "config": w.get_config()})
    assert back.get_config() == w.get_config() == {
        "name": "categorical_crossentropy", "dtype": None, "fn": "categorical_crossentropy"}
    with pytest.raises(ValueError, match="unknown metric class"):
        metrics.deserialize({"class_name": "AUC", "config": {}})


def test_shape_errors():
    with pytest.raises(ValueError, match="sparse_categorical_accuracy: labels of shape"):
        SparseCategoricalAccuracy().update_state(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="categorical_accuracy: y_true of shape"):
        CategoricalAccuracy().update_state(np.zeros((2,)), np.zeros((2, 4)))
    with pytest.raises(NotImplementedError):
        metrics.Metric().update_state()
    with pytest.raises(NotImplementedError):
        metrics.Metric().result()
    with pytest.raises(NotImplementedError):
        metrics.Metric().reset_state()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["mse", "mae"])
def test_error_metrics_equal_the_loss_functions_mean_bit_for_bit(name, dtype):
    """MSE/MAE metrics compute their per-sample values in a kept array; the results are those
    of the plain wrapper around the loss function, with masks and sample weights too."""
    from rnnkit.training import losses as losses_module

    fn = {"mse": losses_module.mean_squared_error, "mae": losses_module.mean_absolute_error}[name]
    rng = np.random.default_rng(5)
    fast, plain = metrics.get(name), metrics.MeanMetricWrapper(fn, name=name)
    for step in range(3):
        y_pred = rng.standard_normal((4, 6, 3)).astype(dtype)
        y_true = rng.standard_normal((4, 6, 3))
        kw = [{}, {"mask": rng.random((4, 6)) > 0.3},
              {"sample_weight": rng.random(4)}][step]
        fast.update_state(y_true, y_pred, **kw)
        plain.update_state(y_true, y_pred, **kw)
        assert fast.result() == plain.result()
    assert fast._buffer.shape == (4, 6, 3)
