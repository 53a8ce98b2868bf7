"""Non-recurrent layers: parity with torch, finite differences, shapes, configs, errors.

Dense, Embedding, Activation, Dropout, Masking, RepeatVector, Flatten. Gradient checks and
parity tests run in float64 with every weight and bias random and non-zero.
"""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit
from gradcheck import assert_close, check_layer_gradients, numeric_grad
from rnnkit import activations, initializers
from rnnkit.layers.activation import Activation
from rnnkit.layers.dense import Dense
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.flatten import Flatten
from rnnkit.layers.masking import Masking
from rnnkit.layers.repeat_vector import RepeatVector


def _randomize(layer, rng):
    """Every weight random and non-zero (a zero bias would hide a bias bug)."""
    for w in layer.weights:
        w.assign(rng.uniform(0.2, 1.0, w.shape) * rng.choice([-1.0, 1.0], w.shape))


def _roundtrip(layer):
    """get_config -> JSON -> from_config; the rebuilt layer must give the same config."""
    cfg = layer.get_config()
    cfg2 = json.loads(json.dumps(cfg))
    clone = type(layer).from_config(cfg2)
    assert clone.get_config() == cfg
    assert type(clone) is type(layer)
    return clone


# ---------------------------------------------------------------------------------------- Dense
TORCH_ACT = {None: lambda t: t, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
             "softmax": lambda t: F.softmax(t, dim=-1)}


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
@pytest.mark.parametrize("activation", [None, "tanh", "sigmoid", "softmax"])
def test_dense_matches_torch_linear(float64, shape, activation):
    rng = np.random.default_rng(0)
    lin = torch.nn.Linear(3, 6).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(rng.standard_normal((6, 3))))
        lin.bias.copy_(torch.tensor(rng.standard_normal(6)))
    layer = Dense(6, activation=activation)
    layer.build((None,) * (len(shape) - 1) + (3,))
    # Keras layout: kernel (I, U) is torch's weight transposed
    layer.set_weights([lin.weight.detach().numpy().T, lin.bias.detach().numpy()])
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape[:-1] + (6,))

    xt = torch.tensor(x, requires_grad=True)
    yt = TORCH_ACT[activation](lin(xt))
    yt.backward(torch.tensor(dy))
    y = layer(x)
    dx = layer.backward(dy)
    assert_close(y, yt.detach().numpy(), what="y")
    assert_close(dx, xt.grad.numpy(), what="dx")
    assert_close(layer.kernel.grad, lin.weight.grad.numpy().T, what="dkernel")
    assert_close(layer.bias.grad, lin.bias.grad.numpy(), what="dbias")


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
@pytest.mark.parametrize("activation",
                         ["linear", "sigmoid", "tanh", "relu", "softmax", "gelu", "elu", "swish"])
def test_dense_gradients_by_central_differences(float64, shape, activation):
    rng = np.random.default_rng(1)
    layer = Dense(4, activation=activation)
    layer.build((None,) * (len(shape) - 1) + (3,))
    _randomize(layer, rng)
    check_layer_gradients(layer, rng.standard_normal(shape))


def test_dense_without_bias_gradients_and_weights(float64):
    rng = np.random.default_rng(2)
    layer = Dense(4, activation="tanh", use_bias=False)
    layer.build((None, 3))
    assert [w.name for w in layer.weights] == ["kernel"]
    _randomize(layer, rng)
    check_layer_gradients(layer, rng.standard_normal((5, 3)))


def test_dense_golden_values_and_gradients_accumulate(float64):
    layer = Dense(2)
    layer.build((None, 3))
    layer.set_weights([np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([0.5, -0.5])])
    x = np.array([[1.0, 0.0, -1.0]])
    np.testing.assert_array_equal(layer(x), [[1.0 - 5.0 + 0.5, 2.0 - 6.0 - 0.5]])
    layer.backward(np.ones((1, 2)))
    layer.forward(x)
    layer.backward(np.ones((1, 2)))                   # no zero_grad in between: sums
    np.testing.assert_array_equal(layer.kernel.grad, 2 * np.array([[1, 1], [0, 0], [-1, -1]]))
    np.testing.assert_array_equal(layer.bias.grad, [2.0, 2.0])
    layer.zero_grad()
    assert not layer.kernel.grad.any() and not layer.bias.grad.any()


def test_dense_shapes_params_dtype_and_mask():
    layer = Dense(10)
    assert layer.compute_output_shape((None, 128)) == (None, 10)
    assert layer.compute_output_shape((None, None, 128)) == (None, None, 10)
    y = layer(np.ones((2, 7, 128)))                   # float64 input, float32 layer
    assert y.shape == (2, 7, 10) and y.dtype == np.float32
    assert layer.count_params() == 1290                # Keras: 128 * 10 + 10
    kernel, bias = layer.get_weights()
    assert kernel.shape == (128, 10) and bias.shape == (10,)
    mask = np.array([[True] * 5 + [False] * 2] * 2)
    assert layer.compute_mask(np.ones((2, 7, 128)), mask) is mask


def test_dense_config_roundtrip_rebuilds_the_same_weights():
    layer = Dense(4, activation="tanh", use_bias=False,
                  kernel_initializer=initializers.Orthogonal(gain=2.0, seed=3), name="out")
    clone = _roundtrip(layer)
    assert clone.name == "out" and clone.units == 4 and clone.activation is activations.tanh
    layer.build((None, 6))
    clone.build((None, 6))
    np.testing.assert_array_equal(clone.kernel.value, layer.kernel.value)
    assert Dense.from_config(Dense(3, input_shape=(5,)).get_config())._declared_input_shape \
        == (None, 5)


def test_dense_set_weights_errors():
    layer = Dense(4)
    layer.build((None, 3))
    with pytest.raises(ValueError, match=r"dense: "
                                         r"expected 2 weight arrays \(kernel, bias\), got 1"):
        layer.set_weights([np.zeros((3, 4))])
    with pytest.raises(ValueError, match=r"dense: "
                                         r"weight kernel expects shape \(3, 4\), got \(4, 3\)"):
        layer.set_weights([np.zeros((4, 3)), np.zeros(4)])
    with pytest.raises(ValueError, match=r"dense: weight bias expects shape \(4,\), got \(3,\)"):
        layer.set_weights([np.zeros((3, 4)), np.zeros(3)])


def test_dense_bad_input_and_arguments():
    with pytest.raises(ValueError, match=r"dense: expected input of rank >= 2 .*got rank 1"):
        Dense(3)(np.ones(4))
    with pytest.raises(ValueError, match=r"dense_1: the last axis of the input must be known"):
        Dense(3).build((None, None))
    layer = Dense(3)
    layer(np.ones((8, 20, 64)))
    with pytest.raises(ValueError, match=r"dense_2: expected input with 64 features, got 32 "
                                         r"\(input shape \(8, 20, 32\)\)"):
        layer(np.ones((8, 20, 32)))
    with pytest.raises(ValueError, match=r"dense_2: expected input of rank >= 2"):
        layer.compute_output_shape((64,))
    with pytest.raises(ValueError, match=r"dense_3: expected units to be a positive int, got 0"):
        Dense(0)
    with pytest.raises(ValueError, match=r"unknown activation 'tanhh'"):
        Dense(3, activation="tanhh")
    with pytest.raises(ValueError, match=r"dense_6: backward\(\) called before forward\(\)"):
        Dense(3, name="dense_6").backward(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"dense_2: "
                                         r"expected dy of shape \(8, 20, 3\), got \(8, 3\)"):
        layer.backward(np.ones((8, 3)))


# ------------------------------------------------------------------------------------ Embedding
def test_embedding_matches_torch_with_repeated_indices(float64):
    rng = np.random.default_rng(3)
    emb = torch.nn.Embedding(10, 4).double()
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(rng.standard_normal((10, 4))))
    layer = Embedding(10, 4)
    layer.build((None, None))
    layer.set_weights([emb.weight.detach().numpy()])
    idx = np.array([[1, 1, 3, 9], [3, 0, 1, 1], [7, 7, 7, 2]])    # rows 1, 3, 7 repeat
    dy = rng.standard_normal((3, 4, 4))
    yt = emb(torch.tensor(idx))
    yt.backward(torch.tensor(dy))
    y = layer(idx)
    assert layer.backward(dy) is None                 # no gradient to integer indices
    assert y.dtype == np.float64
    assert_close(y, yt.detach().numpy(), what="y")
    assert_close(layer.embeddings.grad, emb.weight.grad.numpy(), what="dembeddings")
    # golden: row 1 appears four times, rows never looked up get nothing
    assert_close(layer.embeddings.grad[1], dy[0, 0] + dy[0, 1] + dy[1, 2] + dy[1, 3], what="row 1")
    assert not layer.embeddings.grad[[4, 5, 6, 8]].any()


def test_embedding_gradient_by_central_differences(float64):
    rng = np.random.default_rng(4)
    layer = Embedding(6, 3)
    layer.build((None, None))
    _randomize(layer, rng)
    idx = np.array([[1, 1, 3], [3, 0, 1], [5, 5, 5]])
    grads = check_layer_gradients(layer, idx, check_input=False)
    assert grads == [None]


def test_embedding_default_initializer_is_keras_uniform():
    layer = Embedding(1000, 64)
    assert isinstance(layer.embeddings_initializer, initializers.RandomUniform)
    layer.build((None, None))
    w = layer.embeddings.value
    assert w.dtype == np.float32
    assert np.abs(w).max() <= 0.05 and np.abs(w).max() > 0.049
    assert abs(w.std() - 0.1 / np.sqrt(12)) < 0.001
    assert layer.count_params() == 64000


def test_embedding_shapes_mask_and_float_indices():
    layer = Embedding(1000, 64, mask_zero=True)
    assert Embedding.default_input_shape == (None, None)
    assert layer.compute_output_shape((None, None)) == (None, None, 64)
    assert layer.compute_output_shape((2, 3, 5)) == (2, 3, 5, 64)
    idx = np.array([[4, 20, 0, 0], [7, 0, 0, 0]])
    y = layer(idx)
    assert y.shape == (2, 4, 64) and y.dtype == np.float32
    np.testing.assert_array_equal(y[0, 2], layer.embeddings.value[0])
    np.testing.assert_array_equal(layer.compute_mask(idx), idx != 0)
    np.testing.assert_array_equal(layer(idx.astype(np.float64)), y)   # integral floats: cast
    np.testing.assert_array_equal(layer(np.array(5)), layer.embeddings.value[5])  # 0-d works
    assert Embedding(10, 2).compute_mask(idx) is None


def test_embedding_bad_indices_name_the_value_and_range():
    layer = Embedding(10, 4)
    with pytest.raises(ValueError, match=r"embedding: expected integers in \[0, 10\), got index "
                                         r"-1 at position \(0, 1\) \(input shape \(2, 2\)\)"):
        layer(np.array([[1, -1], [2, 3]]))
    with pytest.raises(ValueError, match=r"embedding: expected integers in \[0, 10\), got index "
                                         r"10 at position \(1, 0\)"):
        layer(np.array([[1, 2], [10, 3]]))
    with pytest.raises(ValueError, match=r"embedding: expected integers in \[0, 10\), got "
                                         r"non-integer value 1.5 at position \(0, 1\)"):
        layer(np.array([[1.0, 1.5]]))
    with pytest.raises(ValueError, match=r"non-integer value nan"):
        layer(np.array([[np.nan]]))
    with pytest.raises(ValueError, match=r"got index 12.0 at position \(0,\)"):
        layer(np.array([12.0]))
    with pytest.raises(TypeError, match=r"embedding: expected integers in \[0, 10\), got an "
                                        r"array of dtype bool"):
        layer(np.array([True, False]))
    with pytest.raises(TypeError, match=r"embedding: .* got an array of dtype <U1"):
        layer(np.array(["a"]))


def test_embedding_config_weights_and_arguments():
    layer = Embedding(20, 4, mask_zero=True, embeddings_initializer=initializers.RandomNormal(
        stddev=0.3, seed=9), name="emb")
    clone = _roundtrip(layer)
    assert clone.mask_zero and clone.input_dim == 20 and clone.output_dim == 4
    layer.build((None, None))
    clone.build((None, None))
    np.testing.assert_array_equal(clone.embeddings.value, layer.embeddings.value)
    assert _roundtrip(Embedding(5, 2)).get_config()["embeddings_initializer"]["class_name"] \
        == "random_uniform"
    with pytest.raises(ValueError, match=r"emb: weight embeddings expects shape \(20, 4\), "
                                         r"got \(4, 20\)"):
        layer.set_weights([np.zeros((4, 20))])
    with pytest.raises(ValueError, match=r"emb: expected 1 weight arrays \(embeddings\), got 2"):
        layer.set_weights([np.zeros((20, 4))] * 2)
    with pytest.raises(ValueError, match=r"embedding_1: expected input_dim to be a positive int, "
                                         r"got 0"):
        Embedding(0, 4)
    with pytest.raises(ValueError, match=r"expected output_dim to be a positive int, got 2.5"):
        Embedding(4, 2.5)
    with pytest.raises(ValueError, match=r"emb: backward\(\) called before forward\(\)"):
        Embedding(3, 2, name="emb").backward(np.ones((1, 2)))
    with pytest.warns(UserWarning, match="input_length is deprecated"):
        old = Embedding(100, 8, input_length=5)
    assert old.get_config()["batch_input_shape"] == [None, 5]


# ----------------------------------------------------------------------------------- Activation
@pytest.mark.parametrize("name,torch_fn", [("tanh", torch.tanh), ("relu", F.relu),
                                           ("softmax", lambda t: F.softmax(t, dim=-1)),
                                           ("gelu", F.gelu)])
def test_activation_layer_matches_torch_and_central_differences(float64, name, torch_fn):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 5))
    dy = rng.standard_normal((3, 4, 5))
    layer = Activation(name)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_fn(xt)
    yt.backward(torch.tensor(dy))
    assert_close(layer(x), yt.detach().numpy(), what="y")
    assert_close(layer.backward(dy), xt.grad.numpy(), what="dx")
    check_layer_gradients(layer, x)


def test_activation_layer_shapes_config_mask_and_errors():
    layer = Activation("sigmoid")
    assert layer.compute_output_shape((None, None, 3)) == (None, None, 3)
    mask = np.array([[True, False]])
    assert layer.compute_mask(np.ones((1, 2, 3)), mask) is mask
    assert layer(np.zeros((1, 2))).dtype == np.float32
    assert _roundtrip(layer).activation is activations.sigmoid
    assert layer.weights == [] and layer.get_weights() == []
    with pytest.raises(ValueError, match=r"activation: expected 0 weight arrays \(none\), got 1"):
        layer.set_weights([np.ones(1)])
    with pytest.raises(ValueError, match=r"activation: expected input of rank >= 1, got a scalar"):
        layer(np.float64(1.0))
    with pytest.raises(ValueError, match=r"activation: expected dy of shape \(1, 2\), got \(2,\)"):
        layer.backward(np.ones(2))
    with pytest.raises(ValueError, match=r"unknown activation 'nope'"):
        Activation("nope")


# -------------------------------------------------------------------------------------- Dropout
def test_dropout_is_identity_unless_training():
    layer = Dropout(0.5, seed=0)
    x = np.arange(1.0, 7.0, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    dy = np.full((2, 3), 3.0)
    np.testing.assert_array_equal(layer.backward(dy), dy)
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True), x)


def test_dropout_inverted_statistics():
    rate = 0.3
    layer = Dropout(rate, seed=1)
    x = np.ones((400, 500), dtype=np.float32)
    y = layer(x, training=True)
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / (1 - rate))}
    assert abs(np.mean(y == 0) - rate) < 0.005            # 200,000 draws: std 0.001
    assert abs(y.mean() - 1.0) < 0.01                      # E[y] = x: inverted scaling


def test_dropout_backward_reuses_the_forward_mask():
    rng = np.random.default_rng(6)
    layer = Dropout(0.4, seed=2)
    x = rng.uniform(1.0, 2.0, (6, 7))
    dy = rng.standard_normal((6, 7))
    y1 = layer(x, training=True)
    y2 = layer(x, training=True)
    assert not np.array_equal(y1 == 0, y2 == 0)            # a fresh mask each call
    scale = y2 / x                                         # 0 or 1 / (1 - rate)
    np.testing.assert_allclose(layer.backward(dy), dy * scale, rtol=1e-6)
    assert np.array_equal(layer.backward(dy) == 0, y2 == 0)


def test_dropout_seed_reproducibility():
    x = np.ones((20, 30))
    a, b, c = Dropout(0.5, seed=3), Dropout(0.5, seed=3), Dropout(0.5, seed=4)
    masks_a = [a(x, training=True) for _ in range(2)]
    masks_b = [b(x, training=True) for _ in range(2)]
    np.testing.assert_array_equal(masks_a[0], masks_b[0])
    np.testing.assert_array_equal(masks_a[1], masks_b[1])
    assert not np.array_equal(masks_a[0], c(x, training=True))
    rnnkit.random.set_random_seed(7)
    d1 = Dropout(0.5)(x, training=True)
    rnnkit.random.set_random_seed(7)
    d2 = Dropout(0.5)(x, training=True)
    np.testing.assert_array_equal(d1, d2)                  # seed=None follows set_random_seed
    g = np.random.default_rng(11)
    assert Dropout(0.5, seed=g).generator is g


def test_dropout_noise_shape_shares_the_mask_over_time():
    layer = Dropout(0.5, noise_shape=(None, 1, None), seed=5)
    y = layer(np.ones((4, 6, 8)), training=True)
    for t in range(6):
        np.testing.assert_array_equal(y[:, t], y[:, 0])
    assert 0 < np.mean(y == 0) < 1
    with pytest.raises(ValueError, match=r"dropout_1: noise_shape \(None, 1\) has rank 2, "
                                         r"expected rank 3"):
        Dropout(0.5, noise_shape=(None, 1))(np.ones((2, 3, 4)), training=True)
    with pytest.raises(ValueError, match=r"dropout_2: noise_shape \(None, 2, None\) does not "
                                         r"broadcast to the input shape \(2, 3, 4\)"):
        Dropout(0.5, noise_shape=(None, 2, None))(np.ones((2, 3, 4)), training=True)


class _ReplayDropout(Dropout):
    """Dropout that restarts its generator at every forward, so central differences see one
    mask (the gradient check calls forward many times)."""

    def forward(self, x, training=False, mask=None):
        self.generator = np.random.default_rng(self.seed)
        return super().forward(x, training=training, mask=mask)


@pytest.mark.parametrize("noise_shape", [None, (None, 1, None)])
def test_dropout_gradients_by_central_differences(float64, noise_shape):
    rng = np.random.default_rng(7)
    layer = _ReplayDropout(0.4, noise_shape=noise_shape, seed=8)
    x = rng.standard_normal((3, 4, 5))
    dx = check_layer_gradients(layer, x, forward_kwargs={"training": True})[0]
    assert (dx == 0).any() and (dx != 0).any()             # the mask really dropped some


def test_dropout_config_shapes_and_errors():
    layer = Dropout(0.25, noise_shape=(None, 1, None), seed=5, name="drop")
    clone = _roundtrip(layer)
    x = np.ones((3, 4, 5))
    np.testing.assert_array_equal(clone(x, training=True), layer(x, training=True))
    assert Dropout(0.1, seed=np.random.default_rng(0)).get_config()["seed"] is None
    assert layer.compute_output_shape((None, None, 5)) == (None, None, 5)
    mask = np.ones((3, 4), bool)
    assert layer.compute_mask(x, mask) is mask
    for bad in (1.0, -0.1, "0.5", True):
        with pytest.raises(ValueError, match=r"expected rate in \[0, 1\), got"):
            Dropout(bad)
    with pytest.raises(TypeError, match=r"expected seed to be an int, a numpy Generator or None"):
        Dropout(0.5, seed=1.5)
    with pytest.raises(ValueError, match=r"drop: expected dy of shape \(3, 4, 5\), got \(3, 4\)"):
        layer.backward(np.ones((3, 4)))


# -------------------------------------------------------------------------------------- Masking
def test_masking_golden_values_and_mask():
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]],
                  [[0.0, 0.0], [0.0, 0.0], [0.0, -1.0]]], dtype=np.float32)
    layer = Masking()
    y = layer(x)
    np.testing.assert_array_equal(y, x)                     # masked steps were already 0
    np.testing.assert_array_equal(layer.compute_mask(x), [[True, False, True],
                                                          [False, False, True]])
    layer = Masking(mask_value=-1.0)
    x2 = np.array([[[1.0, -1.0], [-1.0, -1.0], [2.0, 2.0]]])
    np.testing.assert_array_equal(layer(x2), [[[1.0, -1.0], [0.0, 0.0], [2.0, 2.0]]])
    np.testing.assert_array_equal(layer.compute_mask(x2), [[True, False, True]])
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3, 2))),
                                  [[[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]])


def test_masking_gradients_by_central_differences(float64):
    rng = np.random.default_rng(8)
    layer = Masking(mask_value=0.5)
    x = rng.standard_normal((3, 5, 4))
    x[0, 1, 2] = 0.5                                         # a single feature equal: kept
    check_layer_gradients(layer, x)
    # with padded steps: exact differences on real steps, no gradient through padded ones
    x[0, 3] = 0.5
    x[2, 0] = 0.5
    w = rng.standard_normal(x.shape)
    layer.forward(x)
    dx = layer.backward(w)
    keep = layer.compute_mask(x)
    assert keep.sum() == 13
    num = numeric_grad(lambda: float(np.sum(w * layer.forward(x))), x)
    assert_close(dx[keep], num[keep], what="masking dx on real steps")
    assert not dx[~keep].any()


def test_masking_shapes_config_and_errors():
    layer = Masking(mask_value=-2.0, name="mask")
    assert _roundtrip(layer).mask_value == -2.0
    assert layer.compute_output_shape((None, None, 3)) == (None, None, 3)
    with pytest.raises(ValueError, match=r"mask: expected input of rank >= 2 \(batch, ..., "
                                         r"features\), got rank 1 \(shape \(3,\)\)"):
        layer(np.ones(3))
    with pytest.raises(ValueError, match=r"mask: expected input of rank >= 2"):
        layer.compute_mask(np.ones(3))
    with pytest.raises(ValueError, match=r"mask: backward\(\) called before forward\(\)"):
        layer.backward(np.ones((1, 2, 3)))


# --------------------------------------------------------------------------------- RepeatVector
def test_repeat_vector_values_gradients_and_shapes(float64):
    rng = np.random.default_rng(9)
    layer = RepeatVector(3)
    x = rng.standard_normal((2, 4))
    y = layer(x)
    assert y.shape == (2, 3, 4)
    for t in range(3):
        np.testing.assert_array_equal(y[:, t], x)
    y[0, 0, 0] = 100.0                                       # a copy, not a view of x
    assert x[0, 0] != 100.0
    dy = rng.standard_normal((2, 3, 4))
    assert_close(layer.backward(dy), dy[:, 0] + dy[:, 1] + dy[:, 2], what="dx")
    check_layer_gradients(layer, x)
    assert layer.compute_output_shape((None, 5)) == (None, 3, 5)
    assert layer.compute_mask(x, np.ones((2,), bool)) is None


def test_repeat_vector_config_and_errors():
    layer = RepeatVector(7)
    assert _roundtrip(layer).n == 7
    with pytest.raises(ValueError, match=r"repeat_vector: expected input of rank 2 \(batch, "
                                         r"features\), got rank 3 \(shape \(2, 3, 4\)\)"):
        layer(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"repeat_vector: expected input of rank 2"):
        layer.compute_output_shape((None, 3, 4))
    with pytest.raises(ValueError, match=r"repeat_vector_1: "
                                         r"expected n to be a positive int, got 0"):
        RepeatVector(0)
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"repeat_vector: expected dy of shape \(2, 7, 4\)"):
        layer.backward(np.ones((2, 4)))


# -------------------------------------------------------------------------------------- Flatten
def test_flatten_matches_torch_and_central_differences(float64):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, 4, 5))
    layer = Flatten()
    y = layer(x)
    np.testing.assert_array_equal(y, torch.flatten(torch.tensor(x), 1).numpy())
    check_layer_gradients(layer, x)
    first = Flatten(data_format="channels_first")
    y = first(x)                                             # (B, C, H, W) -> (B, H, W, C) first
    np.testing.assert_array_equal(y, torch.tensor(x).permute(0, 2, 3, 1).flatten(1).numpy())
    check_layer_gradients(first, x)


def test_flatten_shapes_config_and_errors():
    layer = Flatten()
    assert layer.compute_output_shape((None, 3, 4)) == (None, 12)
    assert layer.compute_output_shape((None, None, 4)) == (None, None)
    assert layer.compute_output_shape((None,)) == (None, 1)
    assert layer(np.arange(3.0)).shape == (3, 1)               # (B,) -> (B, 1), as Keras
    assert layer(np.ones((2, 3, 4))).shape == (2, 12)
    assert layer.compute_mask(np.ones((2, 3, 4)), np.ones((2, 3), bool)) is None
    assert _roundtrip(Flatten(data_format="channels_first")).data_format == "channels_first"
    with pytest.raises(ValueError, match=r"flatten: expected input of rank >= 1 \(batch, ...\), "
                                         r"got a scalar"):
        layer(np.float64(2.0))
    with pytest.raises(ValueError, match=r"flatten: "
                                         r"expected dy of shape \(2, 12\), got \(2, 3, 4\)"):
        layer.backward(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"flatten_2: expected data_format 'channels_last' or "
                                         r"'channels_first', got 'nhwc'"):
        Flatten(data_format="nhwc")


# ---------------------------------------------------------------------------------- all of them
ALL_LAYERS = [lambda: Dense(3), lambda: Embedding(5, 3), lambda: Activation("tanh"),
              lambda: Dropout(0.5), lambda: Masking(), lambda: RepeatVector(2), lambda: Flatten()]


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_every_layer_has_keras_name_and_guards_backward(make):
    layer = make()
    expected = {Dense: "dense", Embedding: "embedding", Activation: "activation",
                Dropout: "dropout", Masking: "masking", RepeatVector: "repeat_vector",
                Flatten: "flatten"}[type(layer)]
    assert layer.name == expected and make().name == expected + "_1"
    with pytest.raises(ValueError, match=rf"^{expected}: backward\(\) called before forward\(\)"):
        layer.backward(np.ones((2, 3)))
    clone = _roundtrip(layer)
    assert clone.name == expected


def test_symbolic_calls_build_from_shapes_with_none():
    from rnnkit.layers.symbolic import SymbolicTensor

    tokens = SymbolicTensor((None, None), "int64")
    h = Embedding(1000, 64)(tokens)
    assert h.shape == (None, None, 64) and h.dtype == "float32"
    y = Dense(10, activation="softmax")(h)
    assert y.shape == (None, None, 10) and y.node.layer.kernel.shape == (64, 10)
    v = Dense(4)(SymbolicTensor((None, 8), "float32"))
    assert RepeatVector(3)(v).shape == (None, 3, 4)
    assert Flatten()(SymbolicTensor((None, 5, 6), "float32")).shape == (None, 30)
    assert Masking()(SymbolicTensor((None, None, 6), "float32")).shape == (None, None, 6)
