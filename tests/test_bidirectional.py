"""Bidirectional: parity with torch's bidirectional=True (float64, packed right-padded batches
included), finite differences for every merge mode, Keras counts and layout, config, errors."""

import json

import numpy as np
import pytest
import torch

from gradcheck import assert_close, check_layer_gradients
from rnnkit.io.torch_layout import gru_from_torch, lstm_from_torch, simple_rnn_from_torch
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.dense import Dense
from rnnkit.layers.gru import GRU
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.simple_rnn import SimpleRNN
from rnnkit.layers.symbolic import SymbolicTensor
from torch_ref import random_torch_params

# every test here runs with the reference kernels and with the compiled fast ones
pytestmark = pytest.mark.usefixtures("kernels")

B, T, I, H = 3, 6, 5, 4

# ours, torch module, weight conversion, number of states, whether torch's two biases are one
CELLS = {
    "lstm": (LSTM, torch.nn.LSTM, lstm_from_torch, 2, True),
    "gru": (GRU, torch.nn.GRU, gru_from_torch, 1, False),
    "simple_rnn": (SimpleRNN, torch.nn.RNN, simple_rnn_from_torch, 1, True),
}


def _setup(cell, rng, **layer_kw):
    ours_cls, torch_cls, from_torch, n_states, _ = CELLS[cell]
    tm = torch_cls(I, H, batch_first=True, bidirectional=True).double()
    random_torch_params(tm, rng)
    p = {n: v.detach().numpy() for n, v in tm.named_parameters()}
    bi = Bidirectional(ours_cls(H, **layer_kw))
    bi.build((None, None, I))
    for sub, sfx in ((bi.forward_layer, ""), (bi.backward_layer, "_reverse")):
        sub.set_weights(from_torch(*(p[f"{k}_l0{sfx}"] for k in
                                     ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))))
    x = rng.standard_normal((B, T, I))
    hx = [rng.standard_normal((2, B, H)) * 0.5 for _ in range(n_states)]  # (direction, B, H)
    return bi, tm, x, hx


def _torch_bi_run(tm, x, hx, w_out, w_states, return_sequences, lengths=None):
    """torch forward + autograd with the loss sum(w_out * out) + sum_k sum(w_k * state_k),
    where ``out`` is (B, T, 2H) or, without return_sequences, concat(h_n fwd, h_n bwd)."""
    xt = torch.tensor(x, requires_grad=True)
    hxt = [torch.tensor(h, requires_grad=True) for h in hx]
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=True,
                                                      enforce_sorted=False)
    out, states = tm(inp, tuple(hxt) if len(hxt) > 1 else hxt[0])
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    states = list(states) if isinstance(states, tuple) else [states]
    if not return_sequences:
        out = torch.cat([states[0][0], states[0][1]], dim=-1)              # (B, 2H)
    # ours: [h_f, (c_f), h_b, (c_b)] = [state_k[0] for k] + [state_k[1] for k]
    flat = [s[0] for s in states] + [s[1] for s in states]
    loss = (out * torch.tensor(w_out)).sum()
    for s, w in zip(flat, w_states):
        loss = loss + (s * torch.tensor(w)).sum()
    loss.backward()
    d_states0 = [h.grad[0].numpy() for h in hxt] + [h.grad[1].numpy() for h in hxt]
    grads = {n: p.grad.numpy().copy() for n, p in tm.named_parameters()}
    return (out.detach().numpy(), [s.detach().numpy() for s in flat], xt.grad.numpy(),
            d_states0, grads)


def _compare_weight_grads(cell, bi, tgrads):
    _, _, from_torch, _, single_bias = CELLS[cell]
    for sub, sfx in ((bi.forward_layer, ""), (bi.backward_layer, "_reverse")):
        g = [tgrads[f"{k}_l0{sfx}"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if single_bias:  # our bias is b_ih + b_hh: its gradient equals each of theirs
            assert_close(g[2], g[3], what="torch bias grads")
            g[3] = None
        for w, expected in zip(sub.weights, from_torch(*g)):
            assert_close(w.grad, expected, what=f"{sub.name} d{w.name}")


def _run_parity(cell, return_sequences, seed, lengths=None):
    rng = np.random.default_rng(seed)
    bi, tm, x, hx = _setup(cell, rng, return_sequences=return_sequences, return_state=True)
    n_states = CELLS[cell][3]
    mask = None
    if lengths is not None:
        mask = np.arange(T)[None, :] < np.array(lengths)[:, None]        # (B, T) right padding
        x[~mask] = 10.0 * rng.standard_normal(x[~mask].shape)           # padding must not count
    out_shape = (B, T, 2 * H) if return_sequences else (B, 2 * H)
    w_out = rng.standard_normal(out_shape)
    w_states = [rng.standard_normal((B, H)) for _ in range(2 * n_states)]
    t_out, t_states, t_dx, t_ds0, t_grads = _torch_bi_run(tm, x, hx, w_out, w_states,
                                                          return_sequences, lengths)
    init = [h[0] for h in hx] + [h[1] for h in hx]
    out, *states = bi.forward(x, mask=mask, initial_state=init)
    bi.zero_grad()
    dx, *ds0 = bi.backward([w_out] + w_states)
    assert_close(out, t_out, what="merged output")
    assert len(states) == len(t_states) == 2 * n_states
    for k, (s, ts) in enumerate(zip(states, t_states)):
        assert_close(s, ts, what=f"final state {k}")
    assert_close(dx, t_dx, what="dx")
    for k, (d, td) in enumerate(zip(ds0, t_ds0)):
        assert_close(d, td, what=f"d initial state {k}")
    _compare_weight_grads(cell, bi, t_grads)
    return out, dx, mask


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_parity_with_torch_bidirectional(float64, cell, return_sequences):
    _run_parity(cell, return_sequences, seed=0)


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_parity_right_padded_mask_matches_packed_sequence(float64, cell, return_sequences):
    out, dx, mask = _run_parity(cell, return_sequences, seed=1, lengths=[4, 6, 2])
    if return_sequences:  # zeros at padding in both halves (torch's pad_packed_sequence too)
        assert np.all(out[~mask] == 0.0)
    assert np.all(dx[~mask] == 0.0)


MODES = ["concat", "sum", "mul", "ave", None]
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], dtype=bool)


def _random_bi(rng, layer, **kw):
    bi = Bidirectional(layer, **kw)
    bi.build((None, None, 3))
    bi.set_weights([rng.standard_normal(w.shape) * 0.5 for w in bi.weights])
    return bi


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("merge_mode", MODES, ids=str)
def test_finite_differences_every_merge_mode_with_mask_and_states(float64, merge_mode,
                                                                   return_sequences):
    rng = np.random.default_rng(2)
    bi = _random_bi(rng, LSTM(2, return_sequences=return_sequences, return_state=True),
                    merge_mode=merge_mode)
    x = rng.standard_normal((3, 5, 3))
    states = [rng.standard_normal((3, 2)) for _ in range(4)]
    check_layer_gradients(bi, x, {"mask": MASK, "initial_state": states},
                          grad_args=("initial_state",))


@pytest.mark.parametrize("merge_mode", MODES, ids=str)
def test_finite_differences_plain_output(float64, merge_mode):
    rng = np.random.default_rng(3)
    bi = _random_bi(rng, LSTM(2), merge_mode=merge_mode)
    check_layer_gradients(bi, rng.standard_normal((2, 5, 3)))


@pytest.mark.parametrize("cell", [GRU, SimpleRNN], ids=["gru", "simple_rnn"])
def test_finite_differences_gru_and_simple_rnn(float64, cell):
    rng = np.random.default_rng(4)
    bi = _random_bi(rng, cell(2, return_sequences=True, return_state=True), merge_mode="mul")
    x = rng.standard_normal((3, 5, 3))
    states = [rng.standard_normal((3, 2)) for _ in range(2)]
    check_layer_gradients(bi, x, {"mask": MASK, "initial_state": states},
                          grad_args=("initial_state",))


def test_finite_differences_dropout_and_a_custom_backward_layer(float64):
    rng = np.random.default_rng(5)
    fwd = LSTM(2, return_sequences=True, dropout=0.3, recurrent_dropout=0.3, seed=1)
    bwd = GRU(3, return_sequences=True, go_backwards=True, recurrent_dropout=0.4, seed=2)
    bi = _random_bi(rng, fwd, backward_layer=bwd)
    assert bi.backward_layer is bwd

    def reset():
        bi.forward_layer._rng = np.random.default_rng(1)
        bi.backward_layer._rng = np.random.default_rng(2)

    x = rng.standard_normal((3, 5, 3))
    check_layer_gradients(bi, x, {"training": True, "mask": MASK}, reset=reset)
    assert bi(x).shape == (3, 5, 5)                                  # concat of 2 and 3 units


def test_outputs_line_up_with_the_input_in_every_merge_mode(float64):
    """merge_mode None gives the two directions in input order; the others merge those."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 3))
    bi = _random_bi(rng, SimpleRNN(2, return_sequences=True), merge_mode=None)
    y_f, y_b = bi(x)
    ref_b = bi.backward_layer.forward(x)                 # processing order: x_4 .. x_0
    np.testing.assert_array_equal(y_b, ref_b[:, ::-1])
    np.testing.assert_array_equal(y_f, bi.forward_layer.forward(x))
    # y_b[:, 0] has read the whole sequence backwards: equals the forward layer on reversed x
    ws = bi.backward_layer.get_weights()
    plain = SimpleRNN(2, return_sequences=True)
    plain.build((None, None, 3))
    plain.set_weights(ws)
    assert_close(y_b[:, 0], plain.forward(x[:, ::-1])[:, -1], what="backward direction")
    expected = {"concat": np.concatenate([y_f, y_b], -1), "sum": y_f + y_b,
                "mul": y_f * y_b, "ave": (y_f + y_b) / 2}
    for mode, value in expected.items():
        bi.merge_mode = mode
        assert_close(bi(x), value, what=mode)


def test_padded_steps_carry_the_initial_state_in_the_backward_direction(float64):
    rng = np.random.default_rng(7)
    bi = _random_bi(rng, LSTM(2, return_sequences=True, return_state=True), merge_mode=None)
    x = rng.standard_normal((1, 5, 3))
    states = [rng.standard_normal((1, 2)) for _ in range(4)]
    mask = np.array([[1, 1, 1, 0, 0]], dtype=bool)
    y_f, y_b, h_f, c_f, h_b, c_b = bi(x, mask=mask, initial_state=states)
    y_f3, y_b3, h_f3, c_f3, h_b3, c_b3 = bi(x[:, :3], initial_state=states)
    for a, b, what in [(y_f[:, :3], y_f3, "y_f"), (y_b[:, :3], y_b3, "y_b"), (h_f, h_f3, "h_f"),
                       (c_f, c_f3, "c_f"), (h_b, h_b3, "h_b"), (c_b, c_b3, "c_b")]:
        assert_close(a, b, what=what + " of padded vs unpadded")
    assert np.all(y_f[:, 3:] == 0) and np.all(y_b[:, 3:] == 0)
    assert bi.forward_layer.zero_output_for_mask and bi.backward_layer.zero_output_for_mask
    no_seq = Bidirectional(LSTM(2, zero_output_for_mask=True))
    assert not no_seq.forward_layer.zero_output_for_mask     # Keras: = return_sequences


def test_cache_of_an_earlier_call_can_be_restored(float64):
    rng = np.random.default_rng(8)
    bi = _random_bi(rng, LSTM(2, return_sequences=True), merge_mode="mul")
    x1, x2 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3))
    dy = rng.standard_normal((2, 4, 2))
    bi(x1)
    bi.zero_grad()
    dx1 = bi.backward(dy)
    g1 = [w.grad.copy() for w in bi.weights]
    bi(x1)
    cache1 = bi._cache
    bi(x2)
    bi._cache = cache1
    bi.zero_grad()
    np.testing.assert_array_equal(bi.backward(dy), dx1)
    for w, g in zip(bi.weights, g1):
        np.testing.assert_array_equal(w.grad, g)


def test_none_gradients_are_allowed(float64):
    rng = np.random.default_rng(9)
    bi = _random_bi(rng, LSTM(2, return_sequences=True, return_state=True))
    x = rng.standard_normal((2, 4, 3))
    out, h_f, c_f, h_b, c_b = bi(x)
    dh_b = rng.standard_normal(h_b.shape)
    bi.zero_grad()
    dx = bi.backward([None, None, None, dh_b, None])
    g_fwd = [w.grad.copy() for w in bi.forward_layer.weights]
    bi.backward_layer.forward(x)
    bi.backward_layer.zero_grad()
    assert_close(dx, bi.backward_layer.backward([None, dh_b, None]), what="dx from h_b alone")
    assert all(np.all(g == 0) for g in g_fwd)
    with pytest.raises(ValueError, match=r"bidirectional: expected 5 output gradients"):
        bi.backward([None, dh_b])


def test_keras_parameter_count_weight_order_and_names():
    bi = Bidirectional(LSTM(64))
    bi.build((None, None, 10))
    assert bi.count_params() == 38_400
    assert bi.compute_output_shape((None, None, 10)) == (None, 128)
    assert [w.name for w in bi.weights] == ["kernel", "recurrent_kernel", "bias"] * 2
    assert [w.path for w in bi.weights] == [
        f"{d}_lstm/{n}" for d in ("forward", "backward")
        for n in ("kernel", "recurrent_kernel", "bias")]
    assert [w.shape for w in bi.weights] == [(10, 256), (64, 256), (256,)] * 2
    ws = bi.get_weights()
    for a, b in zip(ws, bi.forward_layer.get_weights() + bi.backward_layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(ws[0], ws[3])                  # two independent initialisations
    gru = Bidirectional(GRU(8), merge_mode="sum")
    gru.build((None, None, 5))
    assert gru.count_params() == 2 * (3 * 8 * (5 + 8) + 2 * 3 * 8)


def test_weights_argument_and_copies_do_not_share_the_wrapped_layer():
    rng = np.random.default_rng(10)
    inner = SimpleRNN(3, name="rnn")
    inner.build((None, None, 2))
    ws = [rng.standard_normal(s).astype("float32") for s in [(2, 3), (3, 3), (3,)] * 2]
    bi = Bidirectional(inner, weights=ws)
    assert bi.forward_layer is not inner and bi.forward_layer.name == "forward_rnn"
    assert bi.backward_layer.name == "backward_rnn" and bi.backward_layer.go_backwards
    bi(np.zeros((1, 4, 2)))
    for a, b in zip(bi.get_weights(), ws):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("merge_mode", MODES, ids=str)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_output_shapes_and_masks_match_the_outputs(merge_mode, return_sequences):
    bi = Bidirectional(LSTM(3, return_sequences=return_sequences, return_state=True),
                       merge_mode=merge_mode)
    x = np.ones((2, 7, 4), dtype="float32")
    mask = np.ones((2, 7), bool)
    outs = bi(x, mask=mask)
    shapes = bi.compute_output_shape((2, 7, 4))
    assert shapes == [o.shape for o in outs]
    n_out = 2 if merge_mode is None else 1
    masks = bi.compute_mask(x, mask)
    assert len(masks) == n_out + 4 and all(m is None for m in masks[n_out:])
    assert all((m is mask) if return_sequences else (m is None) for m in masks[:n_out])
    sym = bi(SymbolicTensor((None, None, 4), "float32"))
    assert [s.shape for s in sym] == bi.compute_output_shape((None, None, 4))


def test_single_output_shape_and_mask():
    bi = Bidirectional(GRU(3, return_sequences=True))
    mask = np.ones((2, 7), bool)
    assert bi.compute_output_shape((None, 7, 4)) == (None, 7, 6)
    assert bi.compute_mask(None, [mask, None]) is mask
    assert Bidirectional(GRU(3)).compute_mask(None, mask) is None


def test_config_round_trip_and_json():
    bi = Bidirectional(LSTM(5, activation="relu", return_sequences=True), merge_mode="ave",
                       backward_layer=GRU(5, go_backwards=True, return_sequences=True,
                                          name="back"), name="bi")
    cfg = bi.get_config()
    assert cfg["merge_mode"] == "ave" and cfg["name"] == "bi"
    assert cfg["layer"]["class_name"] == "LSTM"
    assert cfg["layer"]["config"]["name"] == "forward_lstm"
    assert cfg["backward_layer"]["class_name"] == "GRU"
    assert cfg["backward_layer"]["config"]["go_backwards"] is True
    clone = Bidirectional.from_config(json.loads(json.dumps(cfg)))
    assert clone.get_config() == cfg
    assert isinstance(clone.backward_layer, GRU) and clone.forward_layer.activation.name == "relu"
    assert clone.forward_layer.name == "forward_lstm"
    simple = Bidirectional(SimpleRNN(2), merge_mode=None)
    assert Bidirectional.from_config(simple.get_config()).get_config() == simple.get_config()


def test_bad_input_messages():
    with pytest.raises(ValueError, match=r"bi_x: unknown merge_mode 'max'"):
        Bidirectional(LSTM(2), merge_mode="max", name="bi_x")
    with pytest.raises(ValueError, match=r"bi_x: layer must be a recurrent layer .*; "
                                         r"dense_1 \(Dense\) has no go_backwards"):
        Bidirectional(Dense(2, name="dense_1"), name="bi_x")
    with pytest.raises(TypeError, match=r"bi_x: expected layer to be an rnnkit Layer"):
        Bidirectional("lstm", name="bi_x")
    with pytest.raises(ValueError, match=r"bi_x: backward_layer must be a recurrent layer"):
        Bidirectional(LSTM(2), backward_layer=Dense(2), name="bi_x")
    with pytest.raises(ValueError, match=r"bi_x: the forward and backward layers need different "
                                         r"go_backwards"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2), name="bi_x")
    with pytest.raises(ValueError, match=r"bi_x: the forward and backward layers need different "
                                         r"go_backwards, got True for forward_l"):
        Bidirectional(LSTM(2, go_backwards=True, name="l"), name="bi_x")  # as Keras 3
    with pytest.raises(ValueError, match=r"bi_x: .* must agree on return_sequences"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2, go_backwards=True, return_sequences=True),
                      name="bi_x")
    with pytest.raises(ValueError, match=r"bi_x: merge_mode 'sum' needs the same units in both "
                                         r"directions, got 2 and 3"):
        Bidirectional(LSTM(2), backward_layer=LSTM(3, go_backwards=True), merge_mode="sum",
                      name="bi_x")
    bi = Bidirectional(LSTM(2, name="l"), name="bi_x")
    x = np.zeros((2, 4, 3))
    with pytest.raises(ValueError, match=r"bi_x: expected 4 initial state arrays \(2 for "
                                         r"forward_l, then 2 for backward_l\), got 2"):
        bi(x, initial_state=[np.zeros((2, 2))] * 2)
    with pytest.raises(ValueError, match=r"bi_x: expected input .*rank 3.*got rank 2"):
        bi(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"bi_x: expected input of rank 3 .*got shape \(4, 3\)"):
        Bidirectional(LSTM(2), name="bi_x").build((4, 3))
    with pytest.raises(RuntimeError, match=r"bi_y: backward\(\) called before forward\(\)"):
        Bidirectional(LSTM(2), name="bi_y").backward(np.zeros((2, 4)))
