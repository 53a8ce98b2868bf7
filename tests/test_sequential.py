"""Sequential: building, adding and popping, forward/backward, masks, weights, configs."""

import json

import numpy as np
import pytest

from gradcheck import assert_close, numeric_grad
from rnnkit.layers import LSTM, Dense, Embedding
from rnnkit.layers.input_layer import Input
from rnnkit.models import Model, Sequential
from test_functional import Affine, MaskedMean, TwoOut, ZeroMask, check_model_gradients, rand


def test_names_add_pop_and_get_layer():
    first, second = Affine(3), Affine(2)
    model = Sequential([first])
    model.add(second)
    assert model.name == "sequential" and Sequential().name == "sequential_1"
    assert model.layers == [first, second]
    assert model.get_layer("affine_1") is second and model.get_layer(index=0) is first
    with pytest.raises(ValueError, match="no such layer"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="name or an index, not both"):
        model.get_layer("affine", 0)
    assert model.pop() is second and model.layers == [first]
    model.pop()
    with pytest.raises(TypeError, match="no layers"):
        model.pop()


def test_input_first_builds_at_once():
    model = Sequential([Input((5,)), Affine(3), Affine(2)])
    assert model.built and model.count_params() == (5 * 3 + 3) + (3 * 2 + 2)
    assert [layer.name for layer in model.layers] == ["affine", "affine_1"]
    assert model._output_shapes == [(None, 3), (None, 2)]
    with pytest.raises(ValueError, match="Input can only be the first"):
        model.add(Input((2,)))


def test_first_layer_input_shape_builds_at_once():
    model = Sequential([Affine(3, input_shape=(4,)), Affine(1)])
    assert model.built and model.count_params() == (4 * 3 + 3) + (3 + 1)
    model = Sequential([Affine(3, batch_input_shape=(8, 4))])
    assert model._output_shapes == [(8, 3)]


def test_unbuilt_model_builds_on_build_or_on_data():
    model = Sequential([Affine(3), Affine(2)])
    assert not model.built
    with pytest.raises(ValueError, match="count_params"):
        model.count_params()
    model.build((None, 4))
    assert model.count_params() == (4 * 3 + 3) + (3 * 2 + 2)
    other = Sequential([Affine(3)])
    y = other(np.ones((6, 4)))                               # built from the data
    assert y.shape == (6, 3) and other._output_shapes == [(None, 3)]


def test_forward_and_backward(float64):
    a, b = Affine(4), Affine(2)
    model = Sequential([Input((3,)), a, b])
    xv = rand(5, 3)
    want = (xv @ a.w.value + a.b.value) @ b.w.value + b.b.value
    assert_close(model.forward(xv), want)
    check_model_gradients(model, xv)


def test_masks_propagate_layer_to_layer(float64):
    aff = Affine(3)
    model = Sequential([Input((4, 2)), ZeroMask(), aff, MaskedMean()])
    xv = rand(2, 4, 2)
    xv[0, 1:] = 0.0
    hv = xv @ aff.w.value + aff.b.value
    want = np.stack([hv[0, 0], hv[1].mean(axis=0)])
    assert_close(model.forward(xv), want)
    check_model_gradients(model, xv, check_inputs=False)   # padded zeros: see test_functional
    assert model.compute_mask(xv) is None                  # MaskedMean drops the mask
    masker = Sequential([ZeroMask(), Affine(2)])
    masker.forward(xv)
    assert np.array_equal(masker.compute_mask(xv), np.any(xv != 0, axis=-1))


def test_weights_and_trainable():
    model = Sequential([Input((3,)), Affine(2), Affine(1)])
    assert [w.path for w in model.weights] == [
        "affine/kernel", "affine/bias", "affine_1/kernel", "affine_1/bias"]
    values = [np.full(w.shape, float(i)) for i, w in enumerate(model.weights)]
    model.set_weights(values)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), values))
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    model.trainable = False
    assert model.trainable_weights == []


def test_config_round_trip(float64):
    model = Sequential([Input((3,)), Affine(4), Affine(2)], name="stack")
    cfg = json.loads(json.dumps(model.get_config()))
    assert [spec["class_name"] for spec in cfg["layers"]] == ["InputLayer", "Affine", "Affine"]
    again = Sequential.from_config(cfg)
    assert again.name == "stack" and again.built
    assert json.dumps(again.get_config(), sort_keys=True) == json.dumps(cfg, sort_keys=True)
    again.set_weights(model.get_weights())
    xv = rand(2, 3)
    assert_close(again.forward(xv), model.forward(xv))
    unbuilt = Sequential([Affine(2)])
    assert "build_input_shape" not in unbuilt.get_config()
    assert not Sequential.from_config(unbuilt.get_config()).built


def test_errors():
    model = Sequential([Affine(2, name="same")])
    with pytest.raises(ValueError, match="unique names"):
        model.add(Affine(2, name="same"))
    with pytest.raises(TypeError, match="expected a Layer"):
        model.add("dense")
    with pytest.raises(ValueError, match="2 outputs"):
        Sequential([Input((3,)), TwoOut(2)])
    with pytest.raises(ValueError, match="has not yet been built"):
        Sequential([Affine(2)]).summary()
    with pytest.raises(ValueError, match="no layers"):
        Sequential().forward(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match="forward"):
        Sequential([Input((2,)), Affine(2)]).backward(np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"expected an array of shape \(None, 3\)"):
        Sequential([Input((3,)), Affine(2)]).forward(np.ones((1, 4)))


def test_a_failed_add_leaves_the_model_as_it_was():
    model = Sequential([Input((3,)), Affine(2)])
    with pytest.raises(ValueError):
        model.add(TwoOut(2))
    assert len(model.layers) == 1 and model._output_shapes == [(None, 2)]


def test_sequential_inside_a_functional_model(float64):
    x = Input((3,))
    stack = Sequential([Affine(4), Affine(3)])
    model = Model(x, stack(stack(x)))                       # one stack, called twice
    check_model_gradients(model, rand(2, 3))


# ---- with the real layers ------------------------------------------------------------------------
def test_embedding_lstm_dense_with_mask(float64):
    emb = Embedding(10, 3, mask_zero=True)
    model = Sequential([emb, LSTM(4), Dense(2)])
    assert model.count_params() == 10 * 3 + 4 * (3 * 4 + 4 * 4 + 4) + (4 * 2 + 2)
    tokens = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    y = model.forward(tokens)
    # the mask made by Embedding reaches the LSTM: padding changes nothing
    assert_close(model.forward(tokens[:, :3])[0], y[0], what="padded = unpadded")
    rng = np.random.default_rng(0)
    w = rng.standard_normal(y.shape)

    def loss():
        return float(np.sum(w * model.forward(tokens)))

    model.zero_grad()
    model.forward(tokens)
    assert model.backward(w) is None                        # integer input: no gradient
    for weight in model.trainable_weights:
        assert_close(weight.grad, numeric_grad(loss, weight.value), what=weight.path)
