"""PyTorch interop: from_torch / to_torch for nn.RNN (tanh, relu), nn.LSTM, nn.GRU, stacked and
bidirectional; outputs and final states against torch (float64), round trips, refusals."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from gradcheck import assert_close
from rnnkit.io.torch_interop import (from_torch, load_state_dict_into_layers,
                                     state_dict_from_layers, to_torch)
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.dense import Dense
from rnnkit.layers.gru import GRU
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.simple_rnn import SimpleRNN
from torch_ref import random_torch_params

B, T, I, H = 3, 6, 5, 4

KINDS = {
    "rnn_tanh": lambda **kw: torch.nn.RNN(I, H, nonlinearity="tanh", **kw),
    "rnn_relu": lambda **kw: torch.nn.RNN(I, H, nonlinearity="relu", **kw),
    "lstm": lambda **kw: torch.nn.LSTM(I, H, **kw),
    "gru": lambda **kw: torch.nn.GRU(I, H, **kw),
}
CASES = [(k, L, d) for k in KINDS for L in (1, 2) for d in (False, True)]


def _module(kind, rng, num_layers=1, bidirectional=False, batch_first=True, bias=True):
    tm = KINDS[kind](num_layers=num_layers, bidirectional=bidirectional,
                     batch_first=batch_first, bias=bias).double()
    random_torch_params(tm, rng)
    return tm


def _states0(kind, tm, rng):
    """torch's (h0[, c0]), each (L * D, B, H)."""
    n = tm.num_layers * (2 if tm.bidirectional else 1)
    return [rng.standard_normal((n, B, H)) * 0.5 for _ in range(2 if kind == "lstm" else 1)]


def _torch_forward(tm, x, states0):
    """Batch-first outputs and final states of torch, whatever its batch_first."""
    xt = torch.tensor(x if tm.batch_first else x.transpose(1, 0, 2))
    hx = [torch.tensor(s) for s in states0]
    with torch.no_grad():
        y, hn = tm(xt, tuple(hx) if len(hx) == 2 else hx[0])
    y = y.numpy() if tm.batch_first else y.numpy().transpose(1, 0, 2)
    hn = [s.numpy() for s in (hn if isinstance(hn, tuple) else (hn,))]
    return y, hn


def _ours_forward(layers, x, states0, D):
    """Run the stack with each layer's initial states taken from torch's (L * D, B, H) arrays."""
    layers = layers if isinstance(layers, list) else [layers]
    y = x
    for k, layer in enumerate(layers):
        init = [s[k * D + d] for d in range(D) for s in states0]   # [h_f, c_f, h_b, c_b]
        y = layer.forward(y, initial_state=init)
    return y


@pytest.mark.parametrize("kind,num_layers,bidirectional", CASES)
def test_from_torch_matches_outputs_and_final_states(float64, kind, num_layers, bidirectional):
    rng = np.random.default_rng(CASES.index((kind, num_layers, bidirectional)))
    tm = _module(kind, rng, num_layers, bidirectional)
    x = rng.standard_normal((B, T, I))
    states0 = _states0(kind, tm, rng)
    ty, thn = _torch_forward(tm, x, states0)

    layers = from_torch(tm, return_sequences=True, return_state=True)
    D = 2 if bidirectional else 1
    expected_cls = {"rnn_tanh": SimpleRNN, "rnn_relu": SimpleRNN, "lstm": LSTM, "gru": GRU}[kind]
    as_list = layers if isinstance(layers, list) else [layers]
    assert isinstance(layers, list) == (num_layers > 1) and len(as_list) == num_layers
    for layer in as_list:
        cells = [layer.forward_layer, layer.backward_layer] if bidirectional else [layer]
        assert isinstance(layer, Bidirectional) == bidirectional
        assert all(isinstance(c, expected_cls) and c.dtype == "float64" for c in cells)
    y, *states = _ours_forward(layers, x, states0, D)
    assert_close(y, ty, what=f"{kind} outputs")
    # the last layer's final states are torch's h_n[(L-1)*D + d] (and c_n), per direction
    n_s = len(states0)
    assert len(states) == D * n_s
    for d in range(D):
        for j in range(n_s):
            assert_close(states[d * n_s + j], thn[j][(num_layers - 1) * D + d],
                         what=f"{kind} final state {j} direction {d}")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_from_torch_seq_first_module_and_last_step_only(float64, kind):
    """batch_first=False converts the same (rnnkit is batch-first); return_sequences=False."""
    rng = np.random.default_rng(7)
    tm = _module(kind, rng, num_layers=2, batch_first=False)
    x = rng.standard_normal((B, T, I))
    states0 = _states0(kind, tm, rng)
    ty, _ = _torch_forward(tm, x, states0)
    layers = from_torch(tm, return_sequences=False)
    assert [layer.return_sequences for layer in layers] == [True, False]
    assert_close(_ours_forward(layers, x, states0, 1), ty[:, -1], what="last step")


def test_from_torch_keeps_float32_and_biasless_modules():
    rng = np.random.default_rng(8)
    tm = torch.nn.GRU(I, H, bias=False, batch_first=True)
    random_torch_params(tm, rng)
    layer = from_torch(tm)
    assert layer.dtype == "float32" and layer.kernel.value.dtype == np.float32
    assert not layer.use_bias and [w.name for w in layer.weights] == ["kernel",
                                                                      "recurrent_kernel"]
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    with torch.no_grad():
        ty = tm(torch.tensor(x))[0].numpy()
    assert_close(layer.forward(x), ty, rtol=1e-5, what="float32 GRU without bias")
    assert to_torch(layer).weight_ih_l0.dtype == torch.float32


def _expected_state_dict(kind, tm):
    """torch's state dict as rnnkit exports it: one summed bias (in b_ih) for RNN/LSTM."""
    sd = {n: v.numpy() for n, v in tm.state_dict().items()}
    if kind != "gru":
        for n in [n for n in sd if n.startswith("bias_ih")]:
            hh = n.replace("bias_ih", "bias_hh")
            sd[n], sd[hh] = sd[n] + sd[hh], np.zeros_like(sd[hh])
    return sd


@pytest.mark.parametrize("kind,num_layers,bidirectional", CASES)
def test_round_trip_torch_rnnkit_torch(float64, kind, num_layers, bidirectional):
    rng = np.random.default_rng(100 + CASES.index((kind, num_layers, bidirectional)))
    tm = _module(kind, rng, num_layers, bidirectional)
    layers = from_torch(tm)
    tm2 = to_torch(layers)
    assert (type(tm2), tm2.num_layers, tm2.bidirectional, tm2.batch_first, tm2.hidden_size,
            tm2.input_size) == (type(tm), num_layers, bidirectional, True, H, I)
    if kind.startswith("rnn"):
        assert tm2.nonlinearity == tm.nonlinearity
    sd2 = {n: v.numpy() for n, v in tm2.state_dict().items()}
    expected = _expected_state_dict(kind, tm)
    assert sorted(sd2) == sorted(expected)
    for n in expected:
        np.testing.assert_array_equal(sd2[n], expected[n], err_msg=n)
        assert sd2[n].dtype == np.float64

    x = rng.standard_normal((B, T, I))
    states0 = _states0(kind, tm, rng)
    ty, thn = _torch_forward(tm, x, states0)
    ty2, thn2 = _torch_forward(tm2, x, states0)
    # summed biases change the rounding only (GRU keeps both biases: bit-identical)
    tol = 0.0 if kind == "gru" else 1e-13
    assert_close(ty2, ty, rtol=tol, atol=tol, what="round-trip outputs")
    for a, b in zip(thn2, thn):
        assert_close(a, b, rtol=tol, atol=tol, what="round-trip final states")

    # a second trip through rnnkit changes nothing at all
    tm3 = to_torch(from_torch(tm2))
    for n, v in tm3.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd2[n], err_msg=n)
    ty3, _ = _torch_forward(tm3, x, states0)
    np.testing.assert_array_equal(ty3, ty2)


def test_state_dict_functions_need_no_torch_tensors(float64):
    rng = np.random.default_rng(3)
    tm = _module("lstm", rng, num_layers=2, bidirectional=True)
    sd = {n: v.numpy().copy() for n, v in tm.state_dict().items()}
    layers = [Bidirectional(LSTM(H, return_sequences=True)) for _ in range(2)]  # unbuilt
    load_state_dict_into_layers(sd, layers)
    assert layers[0].forward_layer.kernel.shape == (I, 4 * H)
    assert layers[1].forward_layer.kernel.shape == (2 * H, 4 * H)
    np.testing.assert_array_equal(layers[1].backward_layer.bias.value,
                                  sd["bias_ih_l1_reverse"] + sd["bias_hh_l1_reverse"])
    out = state_dict_from_layers(layers)
    assert all(isinstance(v, np.ndarray) for v in out.values())
    np.testing.assert_array_equal(out["weight_hh_l1_reverse"], sd["weight_hh_l1_reverse"])
    np.testing.assert_array_equal(out["bias_hh_l0"], np.zeros(4 * H))


def test_load_state_dict_refuses_missing_extra_and_misshapen_before_changing_anything(float64):
    rng = np.random.default_rng(4)
    sd = {n: v.numpy() for n, v in _module("gru", rng, num_layers=2).state_dict().items()}
    layers = from_torch(_module("gru", rng, num_layers=2))
    before = [w.copy() for layer in layers for w in layer.get_weights()]
    with pytest.raises(ValueError, match=r"needs bias_hh_l1, missing"):
        load_state_dict_into_layers({n: v for n, v in sd.items() if n != "bias_hh_l1"}, layers)
    with pytest.raises(ValueError, match=r"unexpected keys \['weight_ih_l2'\]"):
        load_state_dict_into_layers({**sd, "weight_ih_l2": sd["weight_ih_l1"]}, layers)
    with pytest.raises(ValueError, match=r"gru_1 has weight shapes .* \(layer 1\)"):
        load_state_dict_into_layers({**sd, "weight_hh_l1": np.ones((3 * H, H + 1))}, layers)
    after = [w for layer in layers for w in layer.get_weights()]
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)


def test_from_torch_refusals():
    with pytest.raises(ValueError, match=r"proj_size=2 is not supported"):
        from_torch(torch.nn.LSTM(I, H, proj_size=2))
    with pytest.raises(ValueError, match=r"expected torch.nn.RNN, nn.LSTM or nn.GRU, got Linear"):
        from_torch(torch.nn.Linear(I, H))
    with pytest.raises(ValueError, match=r"dtype float16 are not supported"):
        from_torch(torch.nn.GRU(I, H).half())


def _built(layer, in_dim=I):
    layer.build((None, None, in_dim))
    layer.built = True
    return layer


@pytest.mark.parametrize("make,message", [
    (lambda: GRU(H, reset_after=False), r"reset_after=False; PyTorch's nn.GRU is reset_after"),
    (lambda: LSTM(H, activation="relu"), r"activation 'relu'; PyTorch's nn.LSTM supports only "
                                         r"tanh"),
    (lambda: SimpleRNN(H, activation="sigmoid"), r"activation 'sigmoid'; PyTorch's nn.RNN "
                                                 r"supports only tanh or relu"),
    (lambda: GRU(H, recurrent_activation="hard_sigmoid"), r"recurrent_activation "
                                                          r"'hard_sigmoid'.*only 'sigmoid'"),
    (lambda: LSTM(H, go_backwards=True), r"go_backwards=True alone"),
    (lambda: Bidirectional(LSTM(H), merge_mode="sum"), r"merge_mode 'sum'.*concat"),
    (lambda: Dense(H), r"is not a SimpleRNN, LSTM, GRU or Bidirectional"),
])
def test_to_torch_refuses_what_torch_cannot_express(make, message):
    with pytest.raises(ValueError, match=message):
        to_torch(_built(make()))


def test_to_torch_refuses_inconsistent_stacks_and_unbuilt_layers():
    with pytest.raises(ValueError, match=r"same use_bias; layer 0 has True, layer 1"):
        to_torch([_built(LSTM(H, return_sequences=True)), _built(LSTM(H, use_bias=False), H)])
    with pytest.raises(ValueError, match=r"same cell kind"):
        to_torch([_built(LSTM(H, return_sequences=True)), _built(GRU(H), H)])
    with pytest.raises(ValueError, match=r"same units"):
        to_torch([_built(GRU(H, return_sequences=True)), _built(GRU(H + 1), H)])
    with pytest.raises(ValueError, match=r"same bidirectional"):
        to_torch([_built(Bidirectional(GRU(H, return_sequences=True))), _built(GRU(H), 2 * H)])
    with pytest.raises(ValueError, match=r"takes 5 features, expected 4"):
        to_torch([_built(GRU(H, return_sequences=True)), _built(GRU(H), 5)])
    with pytest.raises(ValueError, match=r"is not built"):
        to_torch(LSTM(H))
    with pytest.raises(ValueError, match=r"at least one layer"):
        to_torch([])


def test_import_rnnkit_and_interop_module_do_not_import_torch():
    code = ("import sys, rnnkit, rnnkit.io.torch_interop; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
