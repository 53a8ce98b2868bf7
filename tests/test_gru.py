"""GRU: parity with torch.nn.GRU (float64), a step-by-step Keras reference, finite differences,
Keras counts, errors."""

import numpy as np
import pytest
import torch

from gradcheck import assert_close, check_layer_gradients
from rnnkit import activations
from rnnkit.io.torch_layout import gru_from_torch, gru_to_torch
from rnnkit.kernels.gru import gru_backward, gru_forward
from rnnkit.layers.gru import GRU
from torch_ref import ours_run, random_torch_params, torch_run

# every test here runs with the reference kernels and with the compiled fast ones
pytestmark = pytest.mark.usefixtures("kernels")

B, T, I, H = 3, 6, 5, 4


def _setup(rng, num_layers=1):
    tl = torch.nn.GRU(I, H, batch_first=True, num_layers=num_layers).double()
    random_torch_params(tl, rng)
    x = rng.standard_normal((B, T, I))
    h0 = rng.standard_normal((num_layers, B, H)) * 0.5
    return tl, x, h0


def _layer_from_torch(tl, k=0, **kw):
    layer = GRU(H, return_sequences=True, return_state=True, **kw)
    layer.build((None, None, I if k == 0 else H))
    p = {n: v.detach().numpy() for n, v in tl.named_parameters()}
    layer.set_weights(gru_from_torch(p[f"weight_ih_l{k}"], p[f"weight_hh_l{k}"],
                                     p[f"bias_ih_l{k}"], p[f"bias_hh_l{k}"]))
    return layer


def _compare_grads(ours, theirs, k=0):
    # torch.nn.GRU is reset_after=True with gate blocks r, z, n: convert its gradients like weights
    dk, drk, db = gru_from_torch(theirs[f"weight_ih_l{k}"], theirs[f"weight_hh_l{k}"],
                                 theirs[f"bias_ih_l{k}"], theirs[f"bias_hh_l{k}"])
    assert_close(ours["kernel"], dk, what="dkernel")
    assert_close(ours["recurrent_kernel"], drk, what="drecurrent_kernel")
    assert_close(ours["bias"][0], db[0], what="dbias (input row)")
    assert_close(ours["bias"][1], db[1], what="dbias (recurrent row)")
    # the candidate's recurrent bias sits inside r * (...): its gradient differs from the input one
    assert not np.allclose(db[0, 2 * H:], db[1, 2 * H:])


def test_parity_with_torch_outputs_states_and_every_gradient(float64):
    rng = np.random.default_rng(0)
    tl, x, h0 = _setup(rng)
    layer = _layer_from_torch(tl)
    w_y, w_h = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))
    ty, ts, tdx, tds, tg = torch_run(tl, x, [h0[0]], w_y, [w_h])
    y, states, dx, ds, g = ours_run(layer, x, [h0[0]], w_y, [w_h])
    assert_close(y, ty, what="h_seq")
    assert_close(states[0], ts[0], what="h_T")
    assert_close(dx, tdx, what="dx")
    assert_close(ds[0], tds[0], what="dh0")
    _compare_grads(g, tg)


def test_parity_right_padded_mask_matches_packed_sequence(float64):
    rng = np.random.default_rng(1)
    tl, x, h0 = _setup(rng)
    lengths = [6, 4, 2]
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    x[~mask] = 0.0
    layer = _layer_from_torch(tl, zero_output_for_mask=True)
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
    ws = [rng.standard_normal((I, 3 * H)), rng.standard_normal((H, 3 * H)),
          rng.standard_normal((2, 3 * H))]
    w_ih, w_hh, b_ih, b_hh = gru_to_torch(*ws)
    # torch's first block is the reset gate, our second
    np.testing.assert_array_equal(w_ih[:H], ws[0][:, H:2 * H].T)
    np.testing.assert_array_equal(w_hh[H:2 * H], ws[1][:, :H].T)
    np.testing.assert_array_equal(b_hh[2 * H:], ws[2][1, 2 * H:])
    back = gru_from_torch(w_ih, w_hh, b_ih, b_hh)
    for a, b in zip(ws, back):
        np.testing.assert_array_equal(a, b)
    assert gru_to_torch(ws[0], ws[1])[2:] == (None, None)
    assert len(gru_from_torch(w_ih, w_hh)) == 2
    with pytest.raises(ValueError, match=r"reset_after=True with a \(2, 3H\) bias, got \(12,\)"):
        gru_to_torch(ws[0], ws[1], ws[2][0])


def _keras_reference(layer, x, h0, rec_drop=None):
    """Keras 3's GRUCell.call (implementation 1) step by step, written out independently."""
    W, U = layer.kernel.value, layer.recurrent_kernel.value
    act, sig = layer.activation, layer.recurrent_activation
    n = layer.units
    d = np.ones_like(h0) if rec_drop is None else rec_drop
    if layer.bias is None:
        b_in, b_rec = np.zeros(3 * n), np.zeros(3 * n)
    elif layer.reset_after:
        b_in, b_rec = layer.bias.value
    else:
        b_in, b_rec = layer.bias.value, np.zeros(3 * n)
    h, out = h0, []
    for t in range(x.shape[1]):
        x_z, x_r, x_h = np.split(x[:, t] @ W + b_in, 3, axis=-1)
        h_tm1 = h * d
        z = sig(x_z + h_tm1 @ U[:, :n] + b_rec[:n])
        r = sig(x_r + h_tm1 @ U[:, n:2 * n] + b_rec[n:2 * n])
        if layer.reset_after:
            hh = act(x_h + r * (h_tm1 @ U[:, 2 * n:] + b_rec[2 * n:]))
        else:
            hh = act(x_h + (r * h_tm1) @ U[:, 2 * n:])
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
def test_forward_matches_keras_step_by_step(float64, reset_after, use_bias):
    rng = np.random.default_rng(8)
    layer = GRU(3, reset_after=reset_after, use_bias=use_bias, return_sequences=True,
                activation="softsign", recurrent_activation="hard_sigmoid")
    layer.build((None, None, 4))
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.weights])
    x, h0 = rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 3))
    y = layer.forward(x, initial_state=[h0])
    assert_close(y, _keras_reference(layer, x, h0), rtol=1e-12, what="h_seq")
    # recurrent dropout multiplies h_prev in the products only, never in z * h_prev
    d = rng.uniform(0.5, 2.0, (2, 3))
    xw = (x.transpose(1, 0, 2) @ layer.kernel.value + layer._input_bias() if use_bias
          else x.transpose(1, 0, 2) @ layer.kernel.value)
    h_seq, _, _ = gru_forward(xw, layer.recurrent_kernel.value, layer._recurrent_bias(), h0,
                              rec_dropout=d, reset_after=reset_after,
                              activation=layer.activation,
                              recurrent_activation=layer.recurrent_activation)
    assert_close(h_seq.transpose(1, 0, 2), _keras_reference(layer, x, h0, d), rtol=1e-12,
                 what="h_seq with recurrent dropout")


def test_kernel_without_recurrent_bias_returns_none(float64):
    rng = np.random.default_rng(9)
    xw, W_hh, h0 = rng.standard_normal((4, 2, 9)), rng.standard_normal((3, 9)), np.zeros((2, 3))
    for reset_after in (True, False):
        h_seq, _, cache = gru_forward(xw, W_hh, None, h0, reset_after=reset_after)
        dxw, dW_hh, db_hh, dh0 = gru_backward(np.ones_like(h_seq), None, cache)
        assert db_hh is None and dW_hh.shape == (3, 9) and dxw.shape == (4, 2, 9)
    with pytest.raises(ValueError, match=r"b_hh exists only with reset_after=True"):
        gru_forward(xw, W_hh, np.ones(9), h0, reset_after=False)


OPTIONS = [
    dict(),
    dict(return_sequences=True),
    dict(return_state=True),
    dict(return_sequences=True, return_state=True, go_backwards=True),
    dict(reset_after=False),
    dict(reset_after=False, use_bias=False, return_sequences=True),
    dict(use_bias=False, return_state=True),
    dict(activation="relu", recurrent_activation="hard_sigmoid"),
    dict(activation="softsign", recurrent_activation="tanh", reset_after=False),
    dict(activation="elu", recurrent_activation="softplus", return_sequences=True),
]


@pytest.mark.parametrize("opts", OPTIONS, ids=[str(o) for o in OPTIONS])
def test_finite_differences_every_option(float64, opts):
    rng = np.random.default_rng(5)
    layer = GRU(3, **opts)
    layer.build((None, None, 4))
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
    x = rng.standard_normal((2, 5, 4))
    h0 = rng.standard_normal((2, 3))
    check_layer_gradients(layer, x, {"initial_state": [h0]}, grad_args=("initial_state",))


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_finite_differences_mask_dropout_recurrent_dropout(float64, go_backwards, reset_after):
    rng = np.random.default_rng(6)
    layer = GRU(3, dropout=0.3, recurrent_dropout=0.4, return_sequences=True,
                return_state=True, go_backwards=go_backwards, reset_after=reset_after, seed=11)
    layer.build((None, None, 4))
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
    x = rng.standard_normal((3, 5, 4))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=bool)
    h0 = rng.standard_normal((3, 3))

    def reset():
        layer._rng = np.random.default_rng(11)

    check_layer_gradients(layer, x, {"training": True, "mask": mask, "initial_state": [h0]},
                          grad_args=("initial_state",), reset=reset)


@pytest.mark.parametrize("reset_after", [True, False])
def test_masked_steps_carry_the_state_through(float64, reset_after):
    rng = np.random.default_rng(7)
    layer = GRU(3, return_sequences=True, return_state=True, reset_after=reset_after,
                bias_initializer="random_normal")
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
    layer = GRU(3, dropout=0.5, recurrent_dropout=0.5, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 5, 2)).astype("float32")
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(layer(x, training=True), a)


def test_keras_parameter_counts_and_defaults():
    layer = GRU(256)
    layer.build((None, None, 64))
    assert layer.count_params() == 247_296
    assert layer.name == "gru"
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert [w.shape for w in layer.weights] == [(64, 768), (256, 768), (2, 768)]
    assert np.all(layer.bias.value == 0)
    u = layer.recurrent_kernel.value
    assert_close(u @ u.T, np.eye(256), rtol=1e-5, atol=1e-5, what="orthogonal recurrent kernel")
    v1 = GRU(256, reset_after=False)
    v1.build((None, None, 64))
    assert v1.count_params() == 246_528
    assert [w.shape for w in v1.weights] == [(64, 768), (256, 768), (768,)]
    no_bias = GRU(256, use_bias=False)
    no_bias.build((None, None, 64))
    assert [w.name for w in no_bias.weights] == ["kernel", "recurrent_kernel"]
    assert layer.compute_output_shape((None, 7, 64)) == (None, 256)


def test_config_round_trip_gives_same_layer():
    layer = GRU(5, activation="relu", recurrent_activation="hard_sigmoid", reset_after=False,
                dropout=0.1, return_sequences=True, go_backwards=True)
    cfg = layer.get_config()
    assert cfg["reset_after"] is False and cfg["recurrent_activation"] == "hard_sigmoid"
    clone = GRU.from_config(cfg)
    assert clone.get_config() == cfg
    clone.build((None, None, 2))
    assert clone.bias.shape == (15,)


def test_bad_input_messages():
    layer = GRU(4, name="gru_x")
    layer.build((None, None, 3))
    with pytest.raises(ValueError, match=r"gru_x: expected input .* rank 3.*got rank 4"):
        layer(np.zeros((2, 4, 3, 1)))
    with pytest.raises(ValueError, match=r"gru_x: expected input with 3 features, got 5"):
        layer(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"gru_x: expected 1 initial state array\(s\).*got 2"):
        layer(np.zeros((2, 4, 3)), initial_state=[np.zeros((2, 4)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"gru_x: expected initial state h of shape \(2, 4\), got \(3, 4\)"):
        layer(np.zeros((2, 4, 3)), initial_state=[np.zeros((3, 4))])
    with pytest.raises(ValueError, match=r"gru_x: expected a mask of shape \(2, 4\).*got \(2, 4, 1\)"):
        layer(np.zeros((2, 4, 3)), mask=np.ones((2, 4, 1), bool))
    with pytest.raises(ValueError, match=r"units must be a positive integer"):
        GRU(-1)
    with pytest.raises(ValueError, match=r"weight bias expects shape \(2, 12\), got \(12,\)"):
        layer.set_weights([np.zeros((3, 12)), np.zeros((4, 12)), np.zeros(12)])
