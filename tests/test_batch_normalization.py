"""BatchNormalization: PyTorch parity (outputs, moving statistics, every gradient), finite
differences in training and inference, masks, Keras's weights and parameter counts."""

import numpy as np
import pytest

import rnnkit
from rnnkit import layers
from gradcheck import assert_close, check_layer_gradients

torch = pytest.importorskip("torch")


def _bn(C, rng, **kw):
    bn = layers.BatchNormalization(dtype="float64", **kw)
    bn.build((None, C))
    bn.set_weights([rng.normal(size=C), rng.normal(size=C), rng.normal(size=C),
                    rng.uniform(0.5, 2.0, size=C)])
    return bn


@pytest.mark.parametrize("shape", [(6, 3), (4, 5, 3)])
def test_training_matches_torch_outputs_moving_statistics_and_gradients(shape):
    rng = np.random.default_rng(0)
    C = shape[-1]
    bn = _bn(C, rng, momentum=0.9, epsilon=1e-3)
    gamma, beta, mm, mv = bn.get_weights()
    tbn = torch.nn.BatchNorm1d(C, eps=1e-3, momentum=0.1, dtype=torch.float64)
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(gamma))
        tbn.bias.copy_(torch.tensor(beta))
        tbn.running_mean.copy_(torch.tensor(mm))
        tbn.running_var.copy_(torch.tensor(mv))
    x = rng.normal(size=shape) * 3 + 1
    dy = rng.normal(size=shape)
    y = bn.forward(x, training=True)
    dx = bn.backward(dy)
    xt = torch.tensor(x, requires_grad=True)
    # torch normalises axis 1: put the features there
    yt = tbn(xt if len(shape) == 2 else xt.permute(0, 2, 1))
    yt = yt if len(shape) == 2 else yt.permute(0, 2, 1)
    yt.backward(torch.tensor(dy))
    assert_close(y, yt.detach().numpy(), 1e-10, what="y")
    assert_close(dx, xt.grad.numpy(), 1e-10, what="dx")
    assert_close(bn.gamma.grad, tbn.weight.grad.numpy(), 1e-10, what="dgamma")
    assert_close(bn.beta.grad, tbn.bias.grad.numpy(), 1e-10, what="dbeta")
    assert_close(bn.moving_mean.value, tbn.running_mean.numpy(), 1e-12, what="moving_mean")
    # torch keeps the unbiased batch variance in running_var, Keras the biased one
    N = int(np.prod(shape[:-1]))
    var = x.reshape(-1, C).var(axis=0)
    assert_close(bn.moving_variance.value, 0.9 * mv + 0.1 * var, 1e-12, what="moving_variance")
    assert_close(tbn.running_var.numpy(), 0.9 * mv + 0.1 * var * N / (N - 1), 1e-12)
    tbn.eval()
    x2 = rng.normal(size=shape)
    y2t = tbn(torch.tensor(x2) if len(shape) == 2 else torch.tensor(x2).permute(0, 2, 1))
    y2t = y2t if len(shape) == 2 else y2t.permute(0, 2, 1)
    bn.moving_variance.value[...] = tbn.running_var.numpy()
    assert_close(bn.forward(x2), y2t.detach().numpy(), 1e-12, what="inference y")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kw", [{}, {"center": False}, {"scale": False}, {"axis": 1}])
def test_gradients_by_finite_differences(training, kw):
    rng = np.random.default_rng(1)
    shape = (3, 4, 2)
    C = shape[kw.get("axis", -1)]
    bn = layers.BatchNormalization(dtype="float64", **kw)
    bn.build(shape)
    bn.set_weights([rng.normal(size=w.shape) if w.trainable else rng.uniform(0.5, 2, w.shape)
                    for w in bn.weights])
    x = rng.normal(size=shape)
    snapshot = [w.value.copy() for w in bn.weights if not w.trainable]

    def reset():
        for w, v in zip([w for w in bn.weights if not w.trainable], snapshot):
            w.value[...] = v
    check_layer_gradients(bn, x, {"training": training}, reset=reset)
    assert bn.moving_mean.shape == (C,)


def test_masked_moments_equal_the_unpadded_steps_and_gradients_check():
    x = np.random.default_rng(5).normal(size=(2, 5, 3))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    bn = _bn(3, np.random.default_rng(2))
    bn.forward(x, training=True, mask=mask)
    real = np.concatenate([x[0, :3], x[1]])
    mm0 = bn.moving_mean.value.copy()
    bn2 = _bn(3, np.random.default_rng(2))
    bn2.forward(real[None], training=True)
    assert_close(mm0, bn2.moving_mean.value, 1e-13, what="masked moving mean")
    snapshot = [bn.moving_mean.value.copy(), bn.moving_variance.value.copy()]

    def reset():
        bn.moving_mean.value[...], bn.moving_variance.value[...] = snapshot
    check_layer_gradients(bn, x, {"training": True, "mask": mask}, reset=reset)


def test_keras_parameter_counts_and_round_trip(tmp_path):
    model = rnnkit.Sequential([layers.Input((10, 8)), layers.LSTM(16, return_sequences=True),
                               layers.BatchNormalization(), layers.Dense(2)])
    assert [w.name for w in model.layers[1].weights] == ["gamma", "beta", "moving_mean",
                                                         "moving_variance"]
    assert model.layers[1].count_params() == 64
    assert sum(w.value.size for w in model.non_trainable_weights) == 32
    x = np.random.default_rng(3).normal(size=(4, 10, 8)).astype("float32")
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((4, 10, 2), "float32"), epochs=1, verbose=0)
    assert not np.allclose(model.layers[1].moving_mean.value, 0)   # fit trains in training mode
    path = str(tmp_path / "bn.rnnkit")
    model.save(path)
    again = rnnkit.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0))


@pytest.mark.parametrize("kw, words", [
    ({"momentum": 2.0}, "momentum"), ({"epsilon": 0}, "epsilon"), ({"axis": "x"}, "axis"),
    ({"center": "yes"}, "center"), ({"gamma_regularizer": "l3"}, "unknown regularizer"),
])
def test_bad_arguments(kw, words):
    with pytest.raises((ValueError, TypeError), match=words):
        layers.BatchNormalization(**kw)


def test_bad_input_names_the_layer():
    bn = layers.BatchNormalization(name="bn")
    bn.build((None, 3))
    with pytest.raises(ValueError, match="bn: expected input with 3 features"):
        bn.forward(np.ones((2, 4)))
    bn.forward(np.ones((2, 3)), training=True)
    with pytest.raises(ValueError, match=r"bn: expected dy of shape \(2, 3\)"):
        bn.backward(np.ones((1, 1)))
