"""Conv1D, MaxPooling1D, GlobalAverage/MaxPooling1D, Reshape, Permute, ReLU, Softmax,
SpatialDropout1D: PyTorch parity (float64: outputs and every gradient), Keras's padding rules
(against real Keras), finite differences, masks, configs and bad input."""

import os

import numpy as np
import pytest

import rnnkit
from rnnkit import layers
from gradcheck import assert_close, check_layer_gradients

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)


def _torch_conv(x, W, b, stride, dilation, left, right):
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(W.transpose(2, 1, 0).copy(), requires_grad=True)   # (F, C, K)
    bt = torch.tensor(b, requires_grad=True)
    xp = torch.nn.functional.pad(xt.permute(0, 2, 1), (left, right))
    y = torch.nn.functional.conv1d(xp, Wt, bt, stride=stride, dilation=dilation)
    return xt, Wt, bt, y.permute(0, 2, 1)


@pytest.mark.parametrize("padding, stride, dilation, T", [
    ("valid", 1, 1, 7), ("valid", 2, 1, 8), ("same", 1, 2, 7), ("same", 3, 1, 8),
    ("causal", 1, 3, 9), ("causal", 2, 1, 6),
])
def test_conv1d_matches_torch(padding, stride, dilation, T):
    conv = layers.Conv1D(4, 3, strides=stride, padding=padding, dilation_rate=dilation,
                         dtype="float64")
    x = RNG.normal(size=(2, T, 3))
    conv.build(x.shape)
    W, b = RNG.normal(size=(3, 3, 4)), RNG.normal(size=4)
    conv.set_weights([W, b])
    from rnnkit.layers.conv1d import padding_1d
    left, right, _ = padding_1d(T, 3, stride, dilation, padding)
    xt, Wt, bt, yt = _torch_conv(x, W, b, stride, dilation, left, right)
    y = conv.forward(x)
    assert_close(y, yt.detach().numpy(), 1e-12, what="y")
    dy = RNG.normal(size=y.shape)
    yt.backward(torch.tensor(dy))
    dx = conv.backward(dy)
    assert_close(dx, xt.grad.numpy(), 1e-12, what="dx")
    assert_close(conv.kernel.grad, Wt.grad.numpy().transpose(2, 1, 0), 1e-12, what="dW")
    assert_close(conv.bias.grad, bt.grad.numpy(), 1e-12, what="db")
    assert conv.compute_output_shape((None, T, 3)) == (None,) + y.shape[1:]


@pytest.mark.parametrize("padding, stride", [("same", 1), ("same", 2), ("causal", 1),
                                             ("valid", 2)])
def test_conv1d_padding_is_keras(padding, stride):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    x = RNG.normal(size=(2, 9, 3)).astype("float32")
    k = keras.layers.Conv1D(4, 4, strides=stride, padding=padding, dilation_rate=1)
    k.build((None, 9, 3))
    weights = [RNG.normal(size=w.shape).astype("float32") for w in k.get_weights()]
    k.set_weights(weights)
    ours = layers.Conv1D(4, 4, strides=stride, padding=padding)
    ours.build((None, 9, 3))
    ours.set_weights(weights)
    np.testing.assert_allclose(ours(x), np.asarray(k(x).detach()), atol=1e-5)


@pytest.mark.parametrize("pool, stride, padding", [(2, None, "valid"), (3, 2, "valid"),
                                                   (3, 2, "same"), (2, 1, "same")])
def test_max_pooling_matches_torch(pool, stride, padding):
    x = RNG.normal(size=(2, 7, 3))
    layer = layers.MaxPooling1D(pool, stride, padding, dtype="float64")
    y = layer.forward(x)
    s = stride or pool
    from rnnkit.layers.conv1d import padding_1d
    left, right, _ = padding_1d(7, pool, s, 1, padding)
    xt = torch.tensor(x, requires_grad=True)
    xp = torch.nn.functional.pad(xt.permute(0, 2, 1), (left, right), value=-np.inf)
    yt = torch.nn.functional.max_pool1d(xp, pool, s).permute(0, 2, 1)
    assert_close(y, yt.detach().numpy(), 1e-15, what="y")
    dy = RNG.normal(size=y.shape)
    yt.backward(torch.tensor(dy))
    assert_close(layer.backward(dy), xt.grad.numpy(), 1e-15, what="dx")


def test_global_pooling_and_masks():
    x = RNG.normal(size=(2, 5, 3))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    avg = layers.GlobalAveragePooling1D(dtype="float64")
    y = avg.forward(x, mask=mask)
    assert_close(y[0], x[0, :3].mean(axis=0), 1e-15)
    assert_close(y[1], x[1].mean(axis=0), 1e-15)
    check_layer_gradients(avg, x.copy(), {"mask": mask})
    check_layer_gradients(layers.GlobalMaxPooling1D(keepdims=True, dtype="float64"), x.copy())
    check_layer_gradients(layers.GlobalAveragePooling1D(keepdims=True, dtype="float64"),
                          x.copy())


@pytest.mark.parametrize("make, shape", [
    (lambda: layers.Reshape((3, -1)), (2, 6, 2)),
    (lambda: layers.Permute((2, 1)), (2, 4, 3)),
    (lambda: layers.Permute((3, 1, 2)), (2, 4, 3, 2)),
    (lambda: layers.ReLU(max_value=0.8, negative_slope=0.2, threshold=0.1), (3, 5)),
    (lambda: layers.Softmax(axis=1), (2, 4, 3)),
    (lambda: layers.Conv1D(2, 2, padding="causal", activation="tanh"), (2, 5, 3)),
])
def test_finite_differences(make, shape):
    rnnkit.config.set_floatx("float64")
    try:
        layer = make()
        x = RNG.normal(size=shape)
        layer(x)
        check_layer_gradients(layer, x)
    finally:
        rnnkit.config.set_floatx("float32")


def test_relu_and_softmax_match_torch():
    x = RNG.normal(size=(4, 6))
    y = layers.ReLU(negative_slope=0.3, dtype="float64")(x)
    np.testing.assert_allclose(y, torch.nn.functional.leaky_relu(torch.tensor(x), 0.3).numpy())
    np.testing.assert_allclose(layers.Softmax(dtype="float64")(x),
                               torch.softmax(torch.tensor(x), -1).numpy(), rtol=1e-14)
    masked = layers.Softmax(dtype="float64")(x, mask=np.arange(6) < 4)
    assert np.all(masked[:, 4:] == 0) and np.allclose(masked.sum(-1), 1)


def test_spatial_dropout_drops_whole_channels_and_keeps_expectation():
    layer = layers.SpatialDropout1D(0.5, seed=3)
    y = layer(np.ones((64, 10, 8), "float32"), training=True)
    assert np.all(y == y[:, :1, :])
    assert abs(y.mean() - 1.0) < 0.1
    dx = layer.backward(np.ones_like(y))
    np.testing.assert_array_equal(dx, y)
    assert layers.SpatialDropout1D.from_config(layer.get_config()).rate == 0.5


def test_in_a_model_with_summary_and_save(tmp_path):
    model = rnnkit.Sequential([
        layers.Input((12, 4)), layers.Conv1D(8, 3, padding="causal", activation="relu"),
        layers.MaxPooling1D(2), layers.SpatialDropout1D(0.1), layers.LSTM(6,
                                                                          return_sequences=True),
        layers.Permute((2, 1)), layers.Reshape((-1,)), layers.ReLU(), layers.Dense(3),
        layers.Softmax()])
    x = RNG.normal(size=(5, 12, 4)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.full((5, 3), 1 / 3, "float32"), epochs=1, verbose=0)
    path = str(tmp_path / "m.rnnkit")
    model.save(path)
    np.testing.assert_array_equal(rnnkit.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    assert model.layers[0].count_params() == 3 * 4 * 8 + 8


@pytest.mark.parametrize("make, words", [
    (lambda: layers.Conv1D(0, 3), "filters"), (lambda: layers.Conv1D(2, 3, padding="full"),
                                               "padding"),
    (lambda: layers.Conv1D(2, 3, strides=2, dilation_rate=2), "strides > 1"),
    (lambda: layers.MaxPooling1D(0), "pool_size"), (lambda: layers.Reshape((0, 2)),
                                                    "target_shape"),
    (lambda: layers.Permute((1, 3)), "permutation"), (lambda: layers.ReLU(max_value=-1),
                                                      ">= 0"),
])
def test_bad_arguments(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_bad_inputs_name_the_layer():
    conv = layers.Conv1D(2, 5, name="c")
    with pytest.raises(ValueError, match="c: a sequence of 3 steps is shorter"):
        conv(np.ones((1, 3, 2)))
    with pytest.raises(ValueError, match="c: expected input"):
        conv(np.ones((1, 8, 3)))
    with pytest.raises(ValueError, match="cannot reshape"):
        layers.Reshape((4, 4))(np.ones((2, 6)))
