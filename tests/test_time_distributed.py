"""TimeDistributed: equals the inner layer on every slice, torch parity for Dense (nn.Linear),
finite differences, masks, Keras counts, config and errors."""

import json

import numpy as np
import pytest
import torch

from gradcheck import assert_close, check_layer_gradients
from rnnkit.layers.dense import Dense
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.symbolic import SymbolicTensor
from rnnkit.layers.time_distributed import TimeDistributed


def _random_weights(layer, rng):
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])


def test_parity_with_torch_linear_on_every_step(float64):
    rng = np.random.default_rng(0)
    B, T, I, U = 3, 6, 5, 4
    linear = torch.nn.Linear(I, U).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(rng.standard_normal((U, I))))
        linear.bias.copy_(torch.tensor(rng.uniform(0.1, 1.0, U)))
    td = TimeDistributed(Dense(U, activation="tanh"))
    td.build((None, None, I))
    td.set_weights([linear.weight.detach().numpy().T, linear.bias.detach().numpy()])
    x = rng.standard_normal((B, T, I))
    w_y = rng.standard_normal((B, T, U))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tanh(linear(xt))
    (yt * torch.tensor(w_y)).sum().backward()
    y = td(x)
    td.zero_grad()
    dx = td.backward(w_y)
    assert_close(y, yt.detach().numpy(), what="y")
    assert_close(dx, xt.grad.numpy(), what="dx")
    assert_close(td.layer.kernel.grad, linear.weight.grad.numpy().T, what="dkernel")
    assert_close(td.layer.bias.grad, linear.bias.grad.numpy(), what="dbias")


def test_equals_the_inner_layer_slice_by_slice(float64):
    rng = np.random.default_rng(1)
    dense = Dense(3, activation="sigmoid")
    td = TimeDistributed(dense)
    x = rng.standard_normal((2, 4, 5))
    td.build(x.shape)
    _random_weights(td, rng)
    y = td(x)
    dy = rng.standard_normal(y.shape)
    td.zero_grad()
    dx = td.backward(dy)
    g_td = [w.grad.copy() for w in dense.weights]
    dense.zero_grad()
    for t in range(4):
        assert_close(y[:, t], dense.forward(x[:, t]), what=f"y[:, {t}]")
        assert_close(dx[:, t], dense.backward(dy[:, t]), what=f"dx[:, {t}]")
    for w, g in zip(dense.weights, g_td):
        assert_close(g, w.grad, what=f"d{w.name} summed over steps")


@pytest.mark.parametrize("shape", [(2, 4, 3), (2, 3, 2, 3)], ids=["rank3", "rank4"])
def test_finite_differences_dense(float64, shape):
    rng = np.random.default_rng(2)
    td = TimeDistributed(Dense(2, activation="tanh"))
    td.build((None,) + shape[1:])
    _random_weights(td, rng)
    check_layer_gradients(td, rng.standard_normal(shape), {"mask": np.ones(shape[:2], bool)})


def test_finite_differences_recurrent_inner_layer_with_an_inner_mask(float64):
    """TimeDistributed(LSTM) over (B, T, T2, F): a sequence of sequences, each its own batch row."""
    rng = np.random.default_rng(3)
    lstm = LSTM(2, return_sequences=True, return_state=True)
    td = TimeDistributed(lstm)
    x = rng.standard_normal((2, 3, 4, 3))                  # (B, T, T2, F)
    mask = rng.random((2, 3, 4)) > 0.3
    td.build(x.shape)
    _random_weights(td, rng)
    check_layer_gradients(td, x, {"mask": mask})
    y, h, c = td(x, mask=mask)
    assert y.shape == (2, 3, 4, 2) and h.shape == c.shape == (2, 3, 2)
    y1, h1, c1 = lstm.forward(x[1, 2][None], mask=mask[1, 2][None])
    assert_close(y[1, 2], y1[0], what="slice (1, 2) of the sequence output")
    assert_close(h[1, 2], h1[0], what="slice (1, 2) of h")
    assert td.compute_output_shape((None, 3, 4, 3)) == [(None, 3, 4, 2), (None, 3, 2),
                                                       (None, 3, 2)]
    np.testing.assert_array_equal(td.compute_mask(x, mask), mask)  # inner return_sequences
    last_only = TimeDistributed(LSTM(2))
    np.testing.assert_array_equal(last_only.compute_mask(x, mask), mask.any(axis=-1))


def test_mask_passes_through_and_is_checked():
    td = TimeDistributed(Dense(2), name="td")
    mask = np.array([[1, 0, 1], [1, 1, 0]], bool)
    x = np.ones((2, 3, 4), dtype="float32")
    assert td.compute_mask(x, mask) is mask
    assert td.compute_mask(x, None) is None
    np.testing.assert_array_equal(td(x, mask=mask), td(x))          # Dense ignores the mask
    with pytest.raises(ValueError,
                       match=r"td: expected a mask of shape \(2, 3, \.\.\.\), got \(2, 4\)"):
        td(x, mask=np.ones((2, 4), bool))


def test_keras_parameter_count_shapes_and_weights():
    dense = Dense(10)
    td = TimeDistributed(dense)
    assert td.compute_output_shape((None, 5, 16)) == (None, 5, 10)
    td.build((None, 5, 16))
    assert td.count_params() == dense.count_params() == 170
    assert td.weights == dense.weights                               # the very same objects
    assert [w.name for w in td.weights] == ["kernel", "bias"]
    out = td(SymbolicTensor((None, 5, 16), "float32"))
    assert out.shape == (None, 5, 10)
    assert td(np.zeros((3, 7, 16), dtype="float32")).shape == (3, 7, 10)  # any T


def test_config_round_trip_and_json():
    td = TimeDistributed(Dense(3, activation="relu", name="inner"), name="td")
    cfg = td.get_config()
    assert cfg["layer"]["class_name"] == "Dense" and cfg["layer"]["config"]["name"] == "inner"
    clone = TimeDistributed.from_config(json.loads(json.dumps(cfg)))
    assert isinstance(clone.layer, Dense) and clone.layer.units == 3
    assert clone.get_config() == cfg


def test_bad_input_messages():
    td = TimeDistributed(Dense(2), name="td_x")
    with pytest.raises(ValueError, match=r"td_x: expected input of rank >= 3 \(batch, time, "
                                         r"\.\.\.\), got rank 2 \(shape \(4, 3\)\)"):
        td(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"td_x: expected input of rank >= 3"):
        td.compute_output_shape((None, 3))
    with pytest.raises(TypeError, match=r"td_y: expected an rnnkit Layer to wrap, got 'dense'"):
        TimeDistributed("dense", name="td_y")
    with pytest.raises(RuntimeError, match=r"td_x: backward\(\) called before forward\(\)"):
        td.backward(np.zeros((4, 3, 2)))
