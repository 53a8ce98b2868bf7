"""LayerNormalization: torch nn.LayerNorm parity (outputs and every gradient), finite
differences, several axes, Keras arguments, masks, save/load and bad input."""

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import Dense, LayerNormalization, LSTM
from rnnkit.models import Sequential
from gradcheck import assert_close, check_layer_gradients

torch = pytest.importorskip("torch")


def _ln(shape, seed=0, **kwargs):
    layer = LayerNormalization(**kwargs)
    layer.build(shape)
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(1.0, 0.5, w.shape) for w in layer.get_weights()])
    return layer


@pytest.mark.parametrize("axis, shape", [(-1, (3, 5, 6)), ([1, 2], (3, 4, 5)), (2, (2, 3, 4))])
def test_parity_with_torch_layer_norm(float64, axis, shape):
    layer = _ln((None,) + shape[1:], axis=axis, epsilon=1e-3)
    rng = np.random.default_rng(1)
    x, dy = rng.normal(2.0, 3.0, shape), rng.normal(size=shape)
    y = layer.forward(x)
    layer.zero_grad()
    dx = layer.backward(dy)
    n = 2 if isinstance(axis, list) else 1          # torch normalises the trailing axes
    tln = torch.nn.LayerNorm(shape[-n:], eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        tln.weight.copy_(torch.tensor(layer.gamma.value))
        tln.bias.copy_(torch.tensor(layer.beta.value))
    tx = torch.tensor(x, requires_grad=True)
    ty = tln(tx)
    (ty * torch.tensor(dy)).sum().backward()
    for got, want, what in [(y, ty, "y"), (dx, tx.grad, "dx"),
                            (layer.gamma.grad, tln.weight.grad, "dgamma"),
                            (layer.beta.grad, tln.bias.grad, "dbeta")]:
        assert_close(got, want.detach().numpy(), 1e-10, 0, what)


@pytest.mark.parametrize("kwargs", [dict(), dict(axis=[1, 2]), dict(center=False),
                                    dict(scale=False, epsilon=0.1), dict(axis=1)])
def test_finite_differences(float64, kwargs):
    layer = _ln((None, 3, 4), seed=2, **kwargs)
    x = np.random.default_rng(3).normal(size=(2, 3, 4))
    check_layer_gradients(layer, x)


def test_keras_defaults_and_weights():
    layer = LayerNormalization()
    y = layer(np.arange(12.0).reshape(2, 6))
    assert layer.epsilon == 1e-3 and [w.name for w in layer.weights] == ["gamma", "beta"]
    np.testing.assert_array_equal(layer.gamma.value, np.ones(6))
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-6)
    var = np.var(np.arange(6.0))
    np.testing.assert_allclose(y[0], (np.arange(6.0) - 2.5) / np.sqrt(var + 1e-3), rtol=1e-6)
    assert LayerNormalization(center=False, scale=False)(np.ones((2, 3))).shape == (2, 3)


def test_in_a_model_with_mask_save_and_load(tmp_path, float64):
    model = Sequential([rnnkit.layers.Masking(0.0, input_shape=(5, 3)),
                        LSTM(4, return_sequences=True), LayerNormalization(),
                        LSTM(3), Dense(2)])
    model.build((None, 5, 3))
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])
    assert model.layers[2].count_params() == 8
    x = rng.normal(size=(2, 5, 3))
    x[0, 3:] = 0.0
    y = model.predict(x)
    np.testing.assert_allclose(model.predict(x[:1, :3])[0], y[0], rtol=1e-10)  # mask passed on
    path = str(tmp_path / "ln.rnnkit")
    model.save(path)
    loaded = rnnkit.load_model(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x), y)


def test_bad_input():
    with pytest.raises(ValueError, match="axis 0 is the batch"):
        LayerNormalization(axis=0)(np.ones((2, 3)))
    with pytest.raises(TypeError, match="axis must be an int or a list of ints"):
        LayerNormalization(axis="last")
    layer = LayerNormalization()
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"expected the normalised axes \[1\] of shape \(3,\)"):
        layer(np.ones((2, 4)))
    with pytest.raises(RuntimeError, match="backward"):
        LayerNormalization().backward(np.ones((2, 3)))
