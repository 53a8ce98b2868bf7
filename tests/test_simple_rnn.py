"""SimpleRNN: parity with torch.nn.RNN (float64), finite-difference checks, Keras counts, errors."""

import numpy as np
import pytest
import torch

from gradcheck import assert_close, check_layer_gradients
from rnnkit.io.torch_layout import simple_rnn_from_torch, simple_rnn_to_torch
from rnnkit.kernels.simple_rnn import simple_rnn_backward, simple_rnn_forward
from rnnkit.layers.simple_rnn import SimpleRNN
from torch_ref import ours_run, random_torch_params, torch_run

# every test here runs with the reference kernels and with the compiled fast ones
pytestmark = pytest.mark.usefixtures("kernels")

B, T, I, H = 3, 6, 5, 4


def _setup(rng, nonlinearity="tanh", num_layers=1):
    tl = torch.nn.RNN(I, H, batch_first=True, nonlinearity=nonlinearity,
                      num_layers=num_layers).double()
    random_torch_params(tl, rng)
    x = rng.standard_normal((B, T, I))
    h0 = rng.standard_normal((num_layers, B, H)) * 0.5
    return tl, x, h0


def _layer_from_torch(tl, k=0, **kw):
    layer = SimpleRNN(H, return_sequences=True, return_state=True, **kw)
    layer.build((None, None, I if k == 0 else H))
    p = {n: v.detach().numpy() for n, v in tl.named_parameters()}
    layer.set_weights(simple_rnn_from_torch(p[f"weight_ih_l{k}"], p[f"weight_hh_l{k}"],
                                            p[f"bias_ih_l{k}"], p[f"bias_hh_l{k}"]))
    return layer


def _compare_grads(ours, theirs, k=0):
    assert_close(ours["kernel"], theirs[f"weight_ih_l{k}"].T, what="dkernel")
    assert_close(ours["recurrent_kernel"], theirs[f"weight_hh_l{k}"].T, what="drecurrent_kernel")
    # our one bias is torch's b_ih + b_hh: its gradient equals each of theirs
    assert_close(ours["bias"], theirs[f"bias_ih_l{k}"], what="dbias")
    assert_close(theirs[f"bias_ih_l{k}"], theirs[f"bias_hh_l{k}"], what="torch bias grads")


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_parity_with_torch_outputs_states_and_every_gradient(float64, nonlinearity):
    rng = np.random.default_rng(0)
    tl, x, h0 = _setup(rng, nonlinearity)
    layer = _layer_from_torch(tl, activation=nonlinearity)
    w_y, w_h = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))
    ty, ts, tdx, tds, tg = torch_run(tl, x, [h0[0]], w_y, [w_h])
    y, states, dx, ds, g = ours_run(layer, x, [h0[0]], w_y, [w_h])
    if nonlinearity == "relu":                  # the test means something only if relu bends
        assert 0.2 < np.mean(y > 0) < 0.8
    assert_close(y, ty, what="h_seq")
    assert_close(states[0], ts[0], what="h_T")
    assert_close(dx, tdx, what="dx")
    assert_close(ds[0], tds[0], what="dh0")
    _compare_grads(g, tg)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_parity_right_padded_mask_matches_packed_sequence(float64, nonlinearity):
    rng = np.random.default_rng(1)
    tl, x, h0 = _setup(rng, nonlinearity)
    lengths = [6, 4, 2]
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    x[~mask] = 0.0
    layer = _layer_from_torch(tl, activation=nonlinearity, zero_output_for_mask=True)
    w_y = rng.standard_normal((B, T, H)) * mask[:, :, None]
    w_h = rng.standard_normal((B, H))
    ty, ts, tdx, tds, tg = torch_run(tl, x, [h0[0]], w_y, [w_h], lengths=lengths)
    y, states, dx, ds, g = ours_run(layer, x, [h0[0]], w_y, [w_h], mask=mask)
    assert_close(y, ty, what="h_seq (zeros at padding)")
    assert_close(states[0], ts[0], what="h at each sequence's last valid step")
    assert_close(dx, tdx, what="dx")
    assert_close(ds[0], tds[0], what="dh0")
    _compare_grads(g, tg)


def test_go_backwards_equals_torch_on_reversed_time(float64):
    rng = np.random.default_rng(2)
    tl, x, h0 = _setup(rng)
    layer = _layer_from_torch(tl, go_backwards=True)
    w_y, w_h = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))
    ty, ts, tdx, tds, tg = torch_run(tl, x[:, ::-1].copy(), [h0[0]], w_y, [w_h])
    y, states, dx, ds, g = ours_run(layer, x, [h0[0]], w_y, [w_h])
    assert_close(y, ty, what="outputs in processing order")
    assert_close(states[0], ts[0], what="h_T")
    assert_close(dx, tdx[:, ::-1], what="dx")
    assert_close(ds[0], tds[0], what="dh0")
    _compare_grads(g, tg)


def test_two_stacked_layers_match_num_layers_2(float64):
    rng = np.random.default_rng(3)
    tl, x, h0 = _setup(rng, num_layers=2)
    l1, l2 = _layer_from_torch(tl, 0), _layer_from_torch(tl, 1)
    w_y = rng.standard_normal((B, T, H))
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    out, _ = tl(xt, h0t)
    (out * torch.tensor(w_y)).sum().backward()
    y1, _ = l1.forward(x, initial_state=[h0[0]])
    y2, _ = l2.forward(y1, initial_state=[h0[1]])
    assert_close(y2, out.detach().numpy(), what="stacked output")
    for layer in (l1, l2):
        layer.zero_grad()
    dy1, dh0_2 = l2.backward([w_y, None])
    dx, dh0_1 = l1.backward([dy1, None])
    assert_close(dx, xt.grad.numpy(), what="dx through two layers")
    assert_close(dh0_1, h0t.grad[0].numpy(), what="dh0 of layer 1")
    assert_close(dh0_2, h0t.grad[1].numpy(), what="dh0 of layer 2")
    grads = {n: p.grad.numpy() for n, p in tl.named_parameters()}
    for k, layer in enumerate((l1, l2)):
        _compare_grads({w.name: w.grad for w in layer.weights}, grads, k)


def test_weight_conversion_round_trip():
    rng = np.random.default_rng(4)
    ws = [rng.standard_normal((I, H)), rng.standard_normal((H, H)), rng.standard_normal(H)]
    w_ih, w_hh, b_ih, b_hh = simple_rnn_to_torch(*ws)
    assert w_ih.shape == (H, I) and w_hh.shape == (H, H)
    np.testing.assert_array_equal(b_ih + b_hh, ws[2])
    back = simple_rnn_from_torch(w_ih, w_hh, b_ih, b_hh)
    for a, b in zip(ws, back):
        np.testing.assert_array_equal(a, b)
    # without a bias there is none on either side
    assert simple_rnn_to_torch(ws[0], ws[1])[2:] == (None, None)
    assert len(simple_rnn_from_torch(w_ih, w_hh)) == 2


OPTIONS = [
    dict(),
    dict(return_sequences=True),
    dict(return_state=True),
    dict(return_sequences=True, return_state=True, go_backwards=True),
    dict(activation="relu"),
    dict(activation="softsign", use_bias=False),
    dict(activation="elu", return_sequences=True),
    dict(activation="sigmoid", go_backwards=True),
    dict(activation="gelu", return_sequences=True, return_state=True),
]


@pytest.mark.parametrize("opts", OPTIONS, ids=[str(o) for o in OPTIONS])
def test_finite_differences_every_option(float64, opts):
    rng = np.random.default_rng(5)
    layer = SimpleRNN(3, **opts)
    layer.build((None, None, 4))
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
    x = rng.standard_normal((2, 5, 4))
    h0 = rng.standard_normal((2, 3))
    check_layer_gradients(layer, x, {"initial_state": [h0]}, grad_args=("initial_state",))


@pytest.mark.parametrize("go_backwards", [False, True])
def test_finite_differences_mask_dropout_recurrent_dropout(float64, go_backwards):
    rng = np.random.default_rng(6)
    layer = SimpleRNN(3, dropout=0.3, recurrent_dropout=0.4, return_sequences=True,
                      return_state=True, go_backwards=go_backwards, seed=11)
    layer.build((None, None, 4))
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
    x = rng.standard_normal((3, 5, 4))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=bool)
    h0 = rng.standard_normal((3, 3))

    def reset():
        layer._rng = np.random.default_rng(11)

    check_layer_gradients(layer, x, {"training": True, "mask": mask, "initial_state": [h0]},
                          grad_args=("initial_state",), reset=reset)


def test_golden_values_by_hand_with_recurrent_dropout(float64):
    """Two steps written out from h_t = act(x_t W + (h_prev * d) U + b); no torch needed."""
    W = np.array([[1.0, -1.0], [0.5, 2.0]])
    U = np.array([[0.5, 0.0], [-1.0, 1.0]])
    b = np.array([0.1, -0.2])
    x = np.array([[[1.0, 0.0], [0.0, 1.0]]])                 # (1, 2, 2)
    h0 = np.array([[0.2, -0.4]])
    d = np.array([[2.0, 0.0]])                               # recurrent-dropout multiplier
    h1 = np.tanh(x[0, 0] @ W + (h0[0] * d[0]) @ U + b)
    h2 = np.tanh(x[0, 1] @ W + (h1 * d[0]) @ U + b)
    xw = (x.transpose(1, 0, 2) @ W + b)                      # (T, B, H)
    h_seq, h_T, cache = simple_rnn_forward(xw, U, h0, rec_dropout=d)
    assert_close(h_seq[:, 0], np.stack([h1, h2]), rtol=1e-12, what="h_seq")
    assert_close(h_T[0], h2, rtol=1e-12, what="h_T")
    # the gradient of h2 with respect to h0 passes through h1 and the dropout mask
    _, _, dh0 = simple_rnn_backward(np.zeros_like(h_seq), np.array([[1.0, 0.0]]), cache)
    dh1 = (1 - h2[0] ** 2) * U[:, 0] * d[0]
    expected = ((1 - h1 ** 2) * dh1) @ U.T * d[0]
    assert_close(dh0[0], expected, rtol=1e-12, what="dh0")


def test_masked_steps_carry_the_state_through(float64):
    rng = np.random.default_rng(7)
    layer = SimpleRNN(3, return_sequences=True, return_state=True)
    x = rng.standard_normal((2, 5, 4))
    mask = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]], dtype=bool)
    y, h = layer.forward(x, mask=mask)
    np.testing.assert_array_equal(y[0, 2], y[0, 1])      # output carried at a masked step
    np.testing.assert_array_equal(h[0], y[0, 3])          # final state from the last valid step
    assert not np.allclose(y[1, 2], y[1, 1])              # the unmasked row moves on
    # the padded sequence gives the same result as the sequence without its padded steps
    y2, h2 = layer.forward(x[:1][:, [0, 1, 3]])
    assert_close(h[0], h2[0], what="h of masked vs unpadded")
    assert_close(y[0, [0, 1, 3]], y2[0], what="outputs of masked vs unpadded")


def test_dropout_only_when_training():
    layer = SimpleRNN(3, dropout=0.5, recurrent_dropout=0.5, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 5, 2)).astype("float32")
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(layer(x, training=True), a)


def test_keras_parameter_count_and_defaults():
    layer = SimpleRNN(128)
    layer.build((None, None, 256))
    assert layer.count_params() == 49_280
    assert layer.name == "simple_rnn"
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert [w.shape for w in layer.weights] == [(256, 128), (128, 128), (128,)]
    assert np.all(layer.bias.value == 0)
    u = layer.recurrent_kernel.value
    assert_close(u @ u.T, np.eye(128), rtol=1e-5, atol=1e-5, what="orthogonal recurrent kernel")
    no_bias = SimpleRNN(128, use_bias=False)
    no_bias.build((None, None, 256))
    assert no_bias.count_params() == 49_280 - 128
    assert layer.compute_output_shape((None, 7, 256)) == (None, 128)


def test_config_round_trip_gives_same_layer():
    layer = SimpleRNN(5, activation="relu", dropout=0.1, recurrent_dropout=0.2,
                      return_sequences=True, go_backwards=True, use_bias=False)
    cfg = layer.get_config()
    assert cfg["activation"] == "relu" and cfg["use_bias"] is False
    clone = SimpleRNN.from_config(cfg)
    assert clone.get_config() == cfg


def test_bad_input_messages():
    layer = SimpleRNN(4, name="rnn_x")
    layer.build((None, None, 3))
    with pytest.raises(ValueError, match=r"rnn_x: expected input .* rank 3.*got rank 2"):
        layer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"rnn_x: expected input with 3 features, got 5"):
        layer(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"rnn_x: expected 1 initial state array\(s\).*got 2"):
        layer(np.zeros((2, 4, 3)), initial_state=[np.zeros((2, 4)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"rnn_x: expected initial state h of shape \(2, 4\), got \(2, 5\)"):
        layer(np.zeros((2, 4, 3)), initial_state=np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"rnn_x: expected a mask of shape \(2, 4\).*got \(4, 2\)"):
        layer(np.zeros((2, 4, 3)), mask=np.ones((4, 2), bool))
    with pytest.raises(ValueError, match=r"recurrent_dropout must be in \[0, 1\)"):
        SimpleRNN(3, recurrent_dropout=1.0)
    with pytest.raises(ValueError, match=r"unknown activation 'tanhh'"):
        SimpleRNN(3, activation="tanhh")
