"""Losses: values and hand-written gradients vs PyTorch (float64), Keras's reduction with masks
and sample weights, central differences, golden values from Keras's docs, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradcheck import assert_close, numeric_grad
from rnnkit import config
from rnnkit.training import losses
from rnnkit.training.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)

# (B, C) per-sequence and (B, T, C) per-step outputs
SHAPES = [(5, 4), (3, 6, 4)]
KINDS = ["mse", "mae", "bce", "bce_logits", "cce", "cce_logits", "scce", "scce_logits"]


def make_loss(kind, **kw):
    return {
        "mse": lambda: MeanSquaredError(**kw),
        "mae": lambda: MeanAbsoluteError(**kw),
        "bce": lambda: BinaryCrossentropy(**kw),
        "bce_logits": lambda: BinaryCrossentropy(from_logits=True, **kw),
        "cce": lambda: CategoricalCrossentropy(**kw),
        "cce_logits": lambda: CategoricalCrossentropy(from_logits=True, **kw),
        "scce": lambda: SparseCategoricalCrossentropy(**kw),
        "scce_logits": lambda: SparseCategoricalCrossentropy(from_logits=True, **kw),
    }[kind]()


def make_data(kind, shape, rng):
    """y_true, y_pred with every probability strictly inside the clip range (no clip active)."""
    C = shape[-1]
    if kind in ("mse", "mae"):
        return rng.standard_normal(shape), rng.standard_normal(shape)
    if kind == "bce":
        return rng.uniform(0, 1, shape), rng.uniform(0.05, 0.95, shape)   # soft targets too
    if kind == "bce_logits":
        return rng.integers(0, 2, shape).astype(float), 3 * rng.standard_normal(shape)
    labels = rng.integers(0, C, shape[:-1])
    if kind.startswith("scce"):
        y_true = labels
    else:
        y_true = np.eye(C)[labels]
    if kind.endswith("logits"):
        return y_true, 2 * rng.standard_normal(shape)
    return y_true, rng.uniform(0.1, 1.0, shape)          # unnormalised: the loss divides by sum


def torch_values(kind, y_true, y_pred_t):
    """Per-sample losses (shape y_pred.shape[:-1]) from torch.nn.functional, differentiable."""
    C = y_pred_t.shape[-1]
    lead = y_pred_t.shape[:-1]
    yt = torch.tensor(y_true)
    if kind == "mse":
        return F.mse_loss(y_pred_t, yt, reduction="none").mean(-1)
    if kind == "mae":
        return F.l1_loss(y_pred_t, yt, reduction="none").mean(-1)
    if kind == "bce":
        return F.binary_cross_entropy(y_pred_t, yt, reduction="none").mean(-1)
    if kind == "bce_logits":
        return F.binary_cross_entropy_with_logits(y_pred_t, yt, reduction="none").mean(-1)
    labels = torch.tensor(y_true if kind.startswith("scce") else np.argmax(y_true, -1))
    labels = labels.reshape(-1)
    if kind.endswith("logits"):
        out = F.cross_entropy(y_pred_t.reshape(-1, C), labels, reduction="none")
    else:
        log_p = torch.log(y_pred_t / y_pred_t.sum(-1, keepdim=True))
        out = F.nll_loss(log_p.reshape(-1, C), labels, reduction="none")
    return out.reshape(lead)


def torch_loss_and_grad(kind, y_true, y_pred, sample_weight=None, mask=None):
    """Keras's "sum_over_batch_size" written in torch: sum(values * sw * mask) / n_valid."""
    yp = torch.tensor(y_pred, requires_grad=True)
    values = torch_values(kind, y_true, yp)
    w = torch.ones_like(values)
    if sample_weight is not None:
        sw = torch.tensor(sample_weight)
        w = w * (sw.reshape(sw.shape + (1,) * (values.ndim - sw.ndim)))
    if mask is not None:
        m = torch.tensor(mask, dtype=torch.float64)
        loss = (values * w * m).sum() / m.sum()
    else:
        loss = (values * w).sum() / values.numel()
    loss.backward()
    return loss.item(), yp.grad.numpy()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
def test_value_and_grad_match_torch(kind, shape, float64):
    rng = np.random.default_rng(0)
    y_true, y_pred = make_data(kind, shape, rng)
    loss = make_loss(kind)
    value, grad = loss.value_and_grad(y_true, y_pred)
    ref_value, ref_grad = torch_loss_and_grad(kind, y_true, y_pred)
    assert_close(value, ref_value, what=f"{kind} value")
    assert_close(grad, ref_grad, what=f"{kind} grad")
    assert grad.dtype == y_pred.dtype and grad.shape == y_pred.shape
    assert_close(loss(y_true, y_pred), ref_value, what=f"{kind} __call__")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
def test_sample_weights_and_mask_match_torch(kind, shape, float64):
    rng = np.random.default_rng(1)
    y_true, y_pred = make_data(kind, shape, rng)
    B = shape[0]
    sw = rng.uniform(0.2, 2.0, B)                                 # per sequence
    loss = make_loss(kind)
    value, grad = loss.value_and_grad(y_true, y_pred, sample_weight=sw)
    ref_value, ref_grad = torch_loss_and_grad(kind, y_true, y_pred, sample_weight=sw)
    assert_close(value, ref_value, what=f"{kind} weighted value")
    assert_close(grad, ref_grad, what=f"{kind} weighted grad")
    if len(shape) == 3:
        T = shape[1]
        mask = np.ones((B, T), dtype=bool)
        mask[0, 4:] = False
        mask[2, 1:] = False
        sw_steps = rng.uniform(0.2, 2.0, (B, T))                 # per step
        for weights in (None, sw, sw_steps):
            value, grad = loss.value_and_grad(y_true, y_pred, sample_weight=weights, mask=mask)
            ref_value, ref_grad = torch_loss_and_grad(kind, y_true, y_pred, weights, mask)
            assert_close(value, ref_value, what=f"{kind} masked value")
            assert_close(grad, ref_grad, what=f"{kind} masked grad")
            assert np.all(grad[~mask] == 0)


@pytest.mark.parametrize("kind", KINDS)
def test_masked_loss_equals_loss_on_valid_steps_only(kind, float64):
    rng = np.random.default_rng(2)
    B, T, C = 4, 5, 3
    y_true, y_pred = make_data(kind, (B, T, C), rng)
    mask = rng.uniform(size=(B, T)) < 0.6
    mask[0, 0] = True
    y_pred[~mask] = 1e3 if kind in ("mse", "mae") else y_pred[~mask]   # padding must not count
    loss = make_loss(kind)
    value, grad = loss.value_and_grad(y_true, y_pred, mask=mask)
    compact_value, compact_grad = loss.value_and_grad(y_true[mask], y_pred[mask])   # (N, C)
    assert_close(value, compact_value, rtol=1e-12, what=f"{kind} masked value")
    assert_close(grad[mask], compact_grad, rtol=1e-12, what=f"{kind} masked grad")
    assert np.all(grad[~mask] == 0)


def test_all_steps_masked_gives_zero(float64):
    y = np.ones((2, 3, 1))
    value, grad = MeanSquaredError().value_and_grad(y, 2 * y, mask=np.zeros((2, 3)))
    assert value == 0.0 and np.all(grad == 0)
    # divide_no_nan: zero total weight gives 0, not nan
    loss = MeanSquaredError(reduction="mean_with_sample_weight")
    value, grad = loss.value_and_grad(y, 2 * y, sample_weight=np.zeros(2))
    assert value == 0.0 and np.all(grad == 0) and loss(y, 2 * y, sample_weight=np.zeros(2)) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_central_differences(kind, float64):
    rng = np.random.default_rng(3)
    B, T, C = 3, 4, 3
    y_true, y_pred = make_data(kind, (B, T, C), rng)
    if kind == "mae":
        y_pred = y_true + np.where(rng.uniform(size=y_true.shape) < 0.5, -1, 1) * \
            rng.uniform(0.1, 1.0, y_true.shape)                  # away from the kink at 0
    mask = np.ones((B, T))
    mask[1, 2:] = 0
    sw = rng.uniform(0.5, 1.5, B)
    loss = make_loss(kind, label_smoothing=0.1) if kind[:3] in ("bce", "cce") else make_loss(kind)
    _, grad = loss.value_and_grad(y_true, y_pred, sample_weight=sw, mask=mask)
    num = numeric_grad(lambda: loss(y_true, y_pred, sample_weight=sw, mask=mask), y_pred)
    assert_close(grad, num, rtol=1e-6, atol=1e-9, what=f"{kind} central differences")


@pytest.mark.parametrize("from_logits", [False, True])
def test_label_smoothing_matches_torch(from_logits, float64):
    rng = np.random.default_rng(4)
    ls = 0.2
    labels = rng.integers(0, 4, 6)
    logits = rng.standard_normal((6, 4))
    # categorical: torch's cross_entropy(label_smoothing) uses the same t (1 - ls) + ls / C
    cce = CategoricalCrossentropy(from_logits=from_logits, label_smoothing=ls)
    x = torch.tensor(logits if from_logits else np.exp(logits), requires_grad=True)
    ref = F.cross_entropy(x if from_logits else torch.log(x / x.sum(-1, keepdim=True)),
                          torch.tensor(labels), label_smoothing=ls)
    ref.backward()
    value, grad = cce.value_and_grad(np.eye(4)[labels], x.detach().numpy())
    assert_close(value, ref.item(), what="cce smoothed")
    assert_close(grad, x.grad.numpy(), what="cce smoothed grad")
    # binary: targets squeezed towards 0.5
    t = rng.integers(0, 2, (6, 4)).astype(float)
    p = rng.uniform(0.05, 0.95, (6, 4))
    y = torch.tensor(np.log(p / (1 - p)) if from_logits else p, requires_grad=True)
    t_s = torch.tensor(t * (1 - ls) + 0.5 * ls)
    ref = (F.binary_cross_entropy_with_logits(y, t_s) if from_logits
           else F.binary_cross_entropy(y, t_s))
    ref.backward()
    value, grad = BinaryCrossentropy(from_logits, ls).value_and_grad(t, y.detach().numpy())
    assert_close(value, ref.item(), what="bce smoothed")
    assert_close(grad, y.grad.numpy(), what="bce smoothed grad")


def test_probabilities_are_clipped_like_keras(float64):
    eps = config.epsilon()
    y_true = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]])
    y_pred = np.array([[0.0, 1.0, 0.5, 0.3], [1e-9, 1.0 - 1e-9, 1.0, 0.0]])
    yp = torch.tensor(y_pred, requires_grad=True)
    # torch.clamp passes no gradient outside [eps, 1 - eps], as the Keras clip
    ref = F.binary_cross_entropy(torch.clamp(yp, eps, 1 - eps), torch.tensor(y_true))
    ref.backward()
    value, grad = BinaryCrossentropy().value_and_grad(y_true, y_pred)
    assert_close(value, ref.item(), what="bce clipped")
    assert_close(grad, yp.grad.numpy(), what="bce clipped grad")
    assert grad[0, 0] == 0 and grad[0, 1] == 0 and grad[0, 2] != 0
    # by hand: two entries cost -log(eps), four (almost right) cost -log(1 - eps)
    expected = (-2 * np.log(eps) - np.log(0.5) - np.log(0.7) - 4 * np.log(1 - eps)) / 8
    assert_close(value, expected, rtol=1e-6, what="bce clipped by hand")
    # categorical: p = y / sum(y) is clipped; a zero probability on the target costs -log(eps)
    y_true = np.array([[0.0, 1.0, 0.0]])
    y_pred = np.array([[0.5, 0.0, 0.5]])
    assert_close(CategoricalCrossentropy()(y_true, y_pred), -np.log(eps), rtol=1e-12)
    assert_close(SparseCategoricalCrossentropy()(np.array([1]), y_pred), -np.log(eps),
                 rtol=1e-12)
    _, grad = CategoricalCrossentropy().value_and_grad(y_true, y_pred)
    assert np.all(grad == 0)                                # the clip is active on the target


def test_golden_values_from_keras_docs():
    # keras.losses.categorical_crossentropy / sparse_categorical_crossentropy docstrings
    y_pred = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    per = losses.categorical_crossentropy(np.array([[0, 1, 0], [0, 0, 1]]), y_pred)
    assert_close(per, [0.0513, 2.303], rtol=0, atol=5e-4)
    assert_close(losses.sparse_categorical_crossentropy(np.array([1, 2]), y_pred),
                 [0.0513, 2.303], rtol=0, atol=5e-4)
    cce = CategoricalCrossentropy()
    assert abs(cce(np.array([[0, 1, 0], [0, 0, 1]]), y_pred) - 1.177) < 5e-4
    assert abs(cce(np.array([[0, 1, 0], [0, 0, 1]]), y_pred,
                   sample_weight=np.array([0.3, 0.7])) - 0.814) < 5e-4
    assert abs(CategoricalCrossentropy(reduction="sum")(np.array([[0, 1, 0], [0, 0, 1]]),
                                                       y_pred) - 2.354) < 5e-4
    # keras.losses.binary_crossentropy docstring
    per = losses.binary_crossentropy(np.array([[0, 1], [0, 0]]), np.array([[0.6, 0.4], [0.4, 0.6]]))
    assert_close(per, [0.916, 0.714], rtol=0, atol=5e-4)
    # plain functions: per-sample values, no reduction
    assert_close(losses.mean_squared_error(np.zeros((2, 2)), np.array([[1.0, 3.0], [2.0, 0.0]])),
                 [5.0, 2.0], rtol=1e-12)
    assert_close(losses.mean_absolute_error(np.zeros((2, 2)), np.array([[1.0, -3.0], [2.0, 0.0]])),
                 [2.0, 1.0], rtol=1e-12)


def test_reductions(float64):
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    sw = rng.uniform(0.5, 2.0, 4)
    mask = np.ones((4, 3))
    mask[1, 1:] = 0
    values = np.mean((y_pred - y_true) ** 2, -1)                 # (4, 3)
    w = sw[:, None] * mask
    assert_close(MeanSquaredError(reduction="sum")(y_true, y_pred, sw, mask),
                 np.sum(values * w), rtol=1e-12)
    assert_close(MeanSquaredError(reduction="mean_with_sample_weight")(y_true, y_pred, sw, mask),
                 np.sum(values * w) / np.sum(w), rtol=1e-12)
    assert_close(MeanSquaredError(reduction="mean")(y_true, y_pred, sw, mask),
                 np.sum(values * w) / mask.sum(), rtol=1e-12)
    assert_close(MeanSquaredError(reduction=None)(y_true, y_pred, sw), values * sw[:, None],
                 rtol=1e-12)
    for reduction in ("sum", "mean_with_sample_weight"):
        loss = MeanSquaredError(reduction=reduction)
        _, grad = loss.value_and_grad(y_true, y_pred, sw, mask)
        num = numeric_grad(lambda: loss(y_true, y_pred, sw, mask), y_pred)
        assert_close(grad, num, what=reduction)
    with pytest.raises(ValueError, match="needs a reduction"):
        MeanSquaredError(reduction="none").value_and_grad(y_true, y_pred)
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
        MeanSquaredError(reduction="average")


def test_target_ranks_are_aligned(float64):
    rng = np.random.default_rng(6)
    y_pred = rng.uniform(0.1, 0.9, (4, 5, 1))                    # per-step single output
    y_true = rng.integers(0, 2, (4, 5)).astype(float)
    mask = np.ones((4, 5))
    mask[2, 3:] = 0
    for loss in (MeanSquaredError(), BinaryCrossentropy()):
        a, ga = loss.value_and_grad(y_true, y_pred, mask=mask)
        b, gb = loss.value_and_grad(y_true[..., None], y_pred, mask=mask)
        assert a == b and np.array_equal(ga, gb) and ga.shape == y_pred.shape
    # sparse labels with a trailing axis of 1
    logits = rng.standard_normal((4, 5, 3))
    labels = rng.integers(0, 3, (4, 5))
    scce = SparseCategoricalCrossentropy(from_logits=True)
    assert scce(labels[..., None], logits) == scce(labels, logits)


def test_float32_in_float32_out():
    rng = np.random.default_rng(7)
    y_pred = rng.standard_normal((3, 4)).astype(np.float32)
    for kind in ("mse", "bce_logits", "cce_logits", "scce_logits"):
        y_true = make_data(kind, (3, 4), rng)[0]
        value, grad = make_loss(kind).value_and_grad(y_true, y_pred)
        assert grad.dtype == np.float32 and isinstance(value, float)


def test_sparse_label_errors():
    logits = np.zeros((2, 5))
    scce = SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(ValueError) as err:
        scce(np.array([1, 7]), logits)
    assert str(err.value) == "sparse_categorical_crossentropy: label 7 outside [0, 5)"
    with pytest.raises(ValueError, match=r"label -1 outside \[0, 5\)"):
        scce.value_and_grad(np.array([-1, 2]), logits)
    with pytest.raises(ValueError, match="labels must be integers, got 1.5"):
        scce(np.array([1.5, 2.0]), logits)
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) do not match y_pred"):
        scce(np.array([1, 2, 3]), logits)
    # float labels holding integers are fine, as in Keras (labels often come as floats)
    assert scce(np.array([1.0, 4.0]), logits) == scce(np.array([1, 4]), logits)


def test_sparse_labels_at_masked_steps_are_not_checked(float64):
    rng = np.random.default_rng(8)
    logits = rng.standard_normal((2, 3, 4))
    labels = np.array([[1, 2, -1], [3, 0, 0]])                   # -1 is padding
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    scce = SparseCategoricalCrossentropy(from_logits=True)
    value, grad = scce.value_and_grad(labels, logits, mask=mask)
    filled = np.where(mask == 1, labels, 0)
    ref, ref_grad = scce.value_and_grad(filled, logits, mask=mask)
    assert value == ref and np.array_equal(grad, ref_grad)
    with pytest.raises(ValueError, match="label -1 outside"):
        scce(labels, logits)                                     # unmasked: checked


def test_shape_errors():
    with pytest.raises(ValueError, match=r"mean_squared_error: y_true of shape \(2, 3\) does "
                                         r"not match y_pred of shape \(2, 4\)"):
        MeanSquaredError()(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="one-hot targets expected"):
        CategoricalCrossentropy()(np.array([0, 1]), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 4\) does not fit"):
        MeanSquaredError()(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), mask=np.ones((2, 4)))
    with pytest.raises(ValueError, match="sample_weight of shape"):
        MeanSquaredError()(np.zeros((2, 3)), np.zeros((2, 3)), sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="only axis=-1"):
        BinaryCrossentropy(axis=1)


def test_check_targets():
    MeanSquaredError().check_targets(np.zeros((100, 7)), (1, 7, 1))
    CategoricalCrossentropy().check_targets(np.zeros((100, 3)), (1, 3))
    SparseCategoricalCrossentropy().check_targets(np.zeros((100, 7)), (1, 7, 5))
    SparseCategoricalCrossentropy().check_targets(np.zeros((100, 1)), (1, 5))
    with pytest.raises(ValueError, match=r"targets of shape \(100, 7\) do not fit outputs of "
                                         r"shape \(None,\) \+ \(5,\)"):
        SparseCategoricalCrossentropy().check_targets(np.zeros((100, 7)), (1, 5))
    with pytest.raises(ValueError, match="expected targets of shape"):
        CategoricalCrossentropy().check_targets(np.zeros((100,)), (1, 3))
    with pytest.raises(ValueError, match="do not fit"):
        MeanSquaredError().check_targets(np.zeros((100, 4)), (1, 3))


def test_get_serialize_deserialize():
    for name, cls in [("mse", MeanSquaredError), ("MSE", MeanSquaredError),
                      ("mean_squared_error", MeanSquaredError),
                      ("MeanSquaredError", MeanSquaredError), ("mae", MeanAbsoluteError),
                      ("mean_absolute_error", MeanAbsoluteError), ("bce", BinaryCrossentropy),
                      ("binary_crossentropy", BinaryCrossentropy),
                      ("categorical_crossentropy", CategoricalCrossentropy),
                      ("CategoricalCrossentropy", CategoricalCrossentropy),
                      ("sparse_categorical_crossentropy", SparseCategoricalCrossentropy)]:
        assert type(losses.get(name)) is cls, name
    assert type(losses.get(losses.sparse_categorical_crossentropy)) is \
        SparseCategoricalCrossentropy
    assert type(losses.get(MeanAbsoluteError)) is MeanAbsoluteError
    obj = CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, name="cce")
    assert losses.get(obj) is obj and losses.get(None) is None
    config_dict = losses.serialize(obj)
    assert config_dict == {"class_name": "CategoricalCrossentropy",
                           "config": {"name": "cce", "reduction": "sum_over_batch_size",
                                      "from_logits": True, "label_smoothing": 0.1, "axis": -1}}
    back = losses.get(config_dict)
    assert type(back) is CategoricalCrossentropy and back.get_config() == obj.get_config()
    assert losses.deserialize(losses.serialize(SparseCategoricalCrossentropy(True))).from_logits
    assert MeanSquaredError().name == "mean_squared_error"
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 'msee'"):
        losses.get("msee")
    with pytest.raises(ValueError, match="subclass rnnkit.training.losses.Loss"):
        losses.get(lambda y_true, y_pred: 0.0)
    with pytest.raises(ValueError, match="unknown loss class"):
        losses.deserialize({"class_name": "Huber", "config": {}})
    with pytest.raises(ValueError, match="expected a Loss"):
        losses.serialize("mse")


def test_custom_loss_subclass(float64):
    class Cubed(Loss):
        def forward(self, y_true, y_pred, mask=None):
            d = y_pred - y_true
            return np.sum(d ** 3, -1), d

        def backward(self, dvalues, d):
            return dvalues[..., None] * 3 * d ** 2

    rng = np.random.default_rng(9)
    y_true, y_pred = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    loss = Cubed()
    assert loss.name == "cubed" and losses.get(loss) is loss
    _, grad = loss.value_and_grad(y_true, y_pred)
    assert_close(grad, numeric_grad(lambda: loss(y_true, y_pred), y_pred))
    assert_close(loss.call(y_true, y_pred), np.sum((y_pred - y_true) ** 3, -1), rtol=1e-12)
    with pytest.raises(NotImplementedError):
        Loss()(y_true, y_pred)
    with pytest.raises(NotImplementedError):
        Loss().backward(None, None)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,t_shape", [((4, 7, 3), (4, 7, 3)), ((4, 7, 1), (4, 7)),
                                           ((5, 3), (5, 3)), ((6, 1), (6,))])
@pytest.mark.parametrize("cls", [MeanSquaredError, MeanAbsoluteError])
def test_fused_path_equals_forward_backward_bit_for_bit(cls, shape, t_shape, dtype, reduction):
    """Without mask and weights MSE and MAE take a fused path (into ``out`` when given); with
    weights of one they run forward + backward: the same loss and gradient, bit for bit."""
    rng = np.random.default_rng(3)
    y_pred = rng.standard_normal(shape).astype(dtype)
    y_true = rng.standard_normal(t_shape)                  # float64 targets, cast as before
    y_true.flat[0] = y_pred.flat[0]                        # one zero difference (MAE's sign)
    loss = cls(reduction=reduction)
    assert loss.fused_value_and_grad(y_true, y_pred, dtype(1.0), 1.0) is not None
    ref_value, ref_grad = loss.value_and_grad(y_true, y_pred, sample_weight=np.ones(shape[0]))
    value, grad = loss.value_and_grad(y_true, y_pred)
    out = np.full(shape, np.nan, dtype)
    value_out, grad_out = loss.value_and_grad(y_true, y_pred, out=out)
    assert grad_out is out and grad.dtype == dtype and value == value_out == ref_value
    assert np.array_equal(grad, ref_grad) and np.array_equal(out, ref_grad)
    # an out of another shape or dtype is not used
    other = np.zeros(shape, np.float16)
    assert np.array_equal(loss.value_and_grad(y_true, y_pred, out=other)[1], ref_grad)
    assert not other.any()


def test_training_step_reuses_one_gradient_array():
    """The training step keeps dL/dy_pred's array between batches (no new array per step)."""
    from rnnkit.layers.dense import Dense
    from rnnkit.layers.input_layer import Input
    from rnnkit.models.sequential import Sequential

    model = Sequential([Input((5, 3)), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 5, 2))
    model.train_on_batch(x, y)
    first = model._dy_buffers[0]
    model.train_on_batch(x, y)
    assert model._dy_buffers[0] is first and first.shape == (4, 5, 2)
    model.train_on_batch(x[:3], y[:3])                    # a smaller batch: a new array
    assert model._dy_buffers[0].shape == (3, 5, 2)


def test_a_loss_with_its_own_value_and_grad_still_trains():
    """A subclass that overrides value_and_grad with the old signature (no ``out``) works."""
    from rnnkit.layers.dense import Dense
    from rnnkit.layers.input_layer import Input
    from rnnkit.models.sequential import Sequential

    class Halved(MeanSquaredError):
        def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None):
            value, grad = super().value_and_grad(y_true, y_pred, sample_weight, mask)
            return value / 2, grad / 2

    model = Sequential([Input((3,)), Dense(2)])
    model.compile(optimizer="sgd", loss=Halved())
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    assert model.train_on_batch(x, y) > 0 and not getattr(model, "_dy_buffers", None)
