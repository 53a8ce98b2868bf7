"""LSTM: parity with torch.nn.LSTM (float64), finite-difference checks, Keras counts, errors."""

import numpy as np
import pytest
import torch

from gradcheck import assert_close, check_layer_gradients
from rnnkit.io.torch_layout import lstm_from_torch, lstm_to_torch
from rnnkit.layers.lstm import LSTM
from torch_ref import ours_run, random_torch_params, torch_run

# every test here runs with the reference kernels and with the compiled fast ones
pytestmark = pytest.mark.usefixtures("kernels")

B, T, I, H = 3, 6, 5, 4


def _setup(rng, num_layers=1):
    tl = torch.nn.LSTM(I, H, batch_first=True, num_layers=num_layers).double()
    random_torch_params(tl, rng)
    x = rng.standard_normal((B, T, I))
    h0 = rng.standard_normal((num_layers, B, H)) * 0.5
    c0 = rng.standard_normal((num_layers, B, H)) * 0.5
    return tl, x, h0, c0


def _layer_from_torch(tl, k=0, **kw):
    layer = LSTM(H, return_sequences=True, return_state=True, **kw)
    layer.build((None, None, I if k == 0 else H))
    p = {n: v.detach().numpy() for n, v in tl.named_parameters()}
    layer.set_weights(lstm_from_torch(p[f"weight_ih_l{k}"], p[f"weight_hh_l{k}"],
                                      p[f"bias_ih_l{k}"], p[f"bias_hh_l{k}"]))
    return layer


def _compare_grads(ours, theirs, k=0):
    assert_close(ours["kernel"], theirs[f"weight_ih_l{k}"].T, what="dkernel")
    assert_close(ours["recurrent_kernel"], theirs[f"weight_hh_l{k}"].T, what="drecurrent_kernel")
    # our one bias is torch's b_ih + b_hh: its gradient equals each of theirs
    assert_close(ours["bias"], theirs[f"bias_ih_l{k}"], what="dbias")
    assert_close(theirs[f"bias_ih_l{k}"], theirs[f"bias_hh_l{k}"], what="torch bias grads")


def test_parity_with_torch_outputs_states_and_every_gradient(float64):
    rng = np.random.default_rng(0)
    tl, x, h0, c0 = _setup(rng)
    layer = _layer_from_torch(tl)
    w_y, w_h, w_c = (rng.standard_normal(s) for s in [(B, T, H), (B, H), (B, H)])
    ty, ts, tdx, tds, tg = torch_run(tl, x, [h0[0], c0[0]], w_y, [w_h, w_c])
    y, states, dx, ds, g = ours_run(layer, x, [h0[0], c0[0]], w_y, [w_h, w_c])
    assert_close(y, ty, what="h_seq")
    assert_close(states[0], ts[0], what="h_T")
    assert_close(states[1], ts[1], what="c_T")
    assert_close(dx, tdx, what="dx")
    assert_close(ds[0], tds[0], what="dh0")
    assert_close(ds[1], tds[1], what="dc0")
    _compare_grads(g, tg)


def test_parity_right_padded_mask_matches_packed_sequence(float64):
    rng = np.random.default_rng(1)
    tl, x, h0, c0 = _setup(rng)
    lengths = [6, 4, 2]
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    x[~mask] = 0.0
    layer = _layer_from_torch(tl, zero_output_for_mask=True)
    w_y = rng.standard_normal((B, T, H)) * mask[:, :, None]
    w_h, w_c = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    ty, ts, tdx, tds, tg = torch_run(tl, x, [h0[0], c0[0]], w_y, [w_h, w_c], lengths=lengths)
    y, states, dx, ds, g = ours_run(layer, x, [h0[0], c0[0]], w_y, [w_h, w_c], mask=mask)
    assert_close(y, ty, what="h_seq (zeros at padding)")
    assert_close(states[0], ts[0], what="h at each sequence's last valid step")
    assert_close(states[1], ts[1], what="c at each sequence's last valid step")
    assert_close(dx, tdx, what="dx")
    assert_close(ds[0], tds[0], what="dh0")
    assert_close(ds[1], tds[1], what="dc0")
    _compare_grads(g, tg)


def test_go_backwards_equals_torch_on_reversed_time(float64):
    rng = np.random.default_rng(2)
    tl, x, h0, c0 = _setup(rng)
    layer = _layer_from_torch(tl, go_backwards=True)
    w_y, w_h, w_c = (rng.standard_normal(s) for s in [(B, T, H), (B, H), (B, H)])
    ty, ts, tdx, tds, tg = torch_run(tl, x[:, ::-1].copy(), [h0[0], c0[0]], w_y, [w_h, w_c])
    y, states, dx, ds, g = ours_run(layer, x, [h0[0], c0[0]], w_y, [w_h, w_c])
    assert_close(y, ty, what="outputs in processing order")
    assert_close(states[0], ts[0], what="h_T")
    assert_close(dx, tdx[:, ::-1], what="dx")
    _compare_grads(g, tg)


def test_two_stacked_layers_match_num_layers_2(float64):
    rng = np.random.default_rng(3)
    tl, x, h0, c0 = _setup(rng, num_layers=2)
    l1, l2 = _layer_from_torch(tl, 0), _layer_from_torch(tl, 1)
    w_y = rng.standard_normal((B, T, H))
    xt = torch.tensor(x, requires_grad=True)
    out, _ = tl(xt, (torch.tensor(h0), torch.tensor(c0)))
    (out * torch.tensor(w_y)).sum().backward()
    y1, *_ = l1.forward(x, initial_state=[h0[0], c0[0]])
    y2, *_ = l2.forward(y1, initial_state=[h0[1], c0[1]])
    assert_close(y2, out.detach().numpy(), what="stacked output")
    for layer in (l1, l2):
        layer.zero_grad()
    dy1, *_ = l2.backward([w_y, None, None])
    dx, *_ = l1.backward([dy1, None, None])
    assert_close(dx, xt.grad.numpy(), what="dx through two layers")
    grads = {n: p.grad.numpy() for n, p in tl.named_parameters()}
    for k, layer in enumerate((l1, l2)):
        _compare_grads({w.name: w.grad for w in layer.weights}, grads, k)


def test_weight_conversion_round_trip():
    rng = np.random.default_rng(4)
    ws = [rng.standard_normal((I, 4 * H)), rng.standard_normal((H, 4 * H)),
          rng.standard_normal(4 * H)]
    back = lstm_from_torch(*lstm_to_torch(*ws))
    for a, b in zip(ws, back):
        np.testing.assert_array_equal(a, b)


OPTIONS = [
    dict(),
    dict(return_sequences=True),
    dict(return_state=True),
    dict(return_sequences=True, return_state=True, go_backwards=True),
    dict(activation="relu", recurrent_activation="hard_sigmoid"),
    dict(activation="softsign", recurrent_activation="tanh", use_bias=False),
    dict(activation="elu", return_sequences=True, unit_forget_bias=False),
]


@pytest.mark.parametrize("opts", OPTIONS, ids=[str(o) for o in OPTIONS])
def test_finite_differences_every_option(float64, opts):
    rng = np.random.default_rng(5)
    layer = LSTM(3, bias_initializer="random_normal", **opts)
    layer.build((None, None, 4))
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
    x = rng.standard_normal((2, 5, 4))
    h0, c0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check_layer_gradients(layer, x, {"initial_state": [h0, c0]}, grad_args=("initial_state",))


@pytest.mark.parametrize("go_backwards", [False, True])
def test_finite_differences_mask_dropout_recurrent_dropout(float64, go_backwards):
    rng = np.random.default_rng(6)
    layer = LSTM(3, dropout=0.3, recurrent_dropout=0.4, return_sequences=True,
                 return_state=True, go_backwards=go_backwards, seed=11)
    layer.build((None, None, 4))
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
    x = rng.standard_normal((3, 5, 4))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=bool)
    h0, c0 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))

    def reset():
        layer._rng = np.random.default_rng(11)

    check_layer_gradients(layer, x, {"training": True, "mask": mask, "initial_state": [h0, c0]},
                          grad_args=("initial_state",), reset=reset)


def test_masked_steps_carry_the_state_through(float64):
    rng = np.random.default_rng(7)
    layer = LSTM(3, return_sequences=True, return_state=True)
    x = rng.standard_normal((2, 5, 4))
    mask = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]], dtype=bool)
    y, h, c = layer.forward(x, mask=mask)
    np.testing.assert_array_equal(y[0, 2], y[0, 1])      # output carried at a masked step
    np.testing.assert_array_equal(h[0], y[0, 3])          # final state from the last valid step
    # the padded sequence gives the same result as the sequence without its padded steps
    y2, h2, c2 = layer.forward(x[:1][:, [0, 1, 3]])
    assert_close(h[0], h2[0], what="h of masked vs unpadded")
    assert_close(c[0], c2[0], what="c of masked vs unpadded")


def test_dropout_only_when_training():
    layer = LSTM(3, dropout=0.5, recurrent_dropout=0.5, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 5, 2)).astype("float32")
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(layer(x, training=True), a)


def test_keras_parameter_count_and_defaults():
    layer = LSTM(128)
    layer.build((None, None, 64))
    assert layer.count_params() == 98_816
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert [w.shape for w in layer.weights] == [(64, 512), (128, 512), (512,)]
    b = layer.bias.value
    assert np.all(b[128:256] == 1) and np.all(b[:128] == 0) and np.all(b[256:] == 0)
    u = layer.recurrent_kernel.value
    assert_close(u @ u.T, np.eye(128), rtol=1e-5, atol=1e-5, what="orthogonal recurrent kernel")


def test_config_round_trip_gives_same_layer():
    layer = LSTM(5, activation="relu", dropout=0.1, return_sequences=True, go_backwards=True)
    clone = LSTM.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_bad_input_messages():
    layer = LSTM(4, name="lstm_x")
    layer.build((None, None, 3))
    with pytest.raises(ValueError, match=r"lstm_x: expected input .* rank 3.*got rank 2"):
        layer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"lstm_x: expected input with 3 features, got 5"):
        layer(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"lstm_x: expected 2 initial state array\(s\).*got 1"):
        layer(np.zeros((2, 4, 3)), initial_state=[np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"lstm_x: expected initial state c of shape \(2, 4\), got \(2, 5\)"):
        layer(np.zeros((2, 4, 3)), initial_state=[np.zeros((2, 4)), np.zeros((2, 5))])
    with pytest.raises(ValueError, match=r"lstm_x: expected a mask of shape \(2, 4\).*got \(2, 3\)"):
        layer(np.zeros((2, 4, 3)), mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match=r"units must be a positive integer"):
        LSTM(0)
    with pytest.raises(TypeError, match=r"lstm_x: expected a numeric input array"):
        layer(np.array([[["a"] * 3] * 4] * 2))
