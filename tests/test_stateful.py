"""Stateful layers and truncated BPTT: chunked runs equal one run; gradients equal torch with
``detach()`` at every window edge."""

import numpy as np
import pytest
import torch

import rnnkit
from gradcheck import assert_close
from rnnkit.io.torch_layout import lstm_from_torch
from rnnkit.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from rnnkit.training.tbptt import ResetStatesOnEpochBegin, stream_windows
from torch_ref import random_torch_params

# every test here runs with the reference kernels and with the compiled fast ones
pytestmark = pytest.mark.usefixtures("kernels")

CELLS = [LSTM, GRU, SimpleRNN]


def _random_weights(layer, rng):
    layer.set_weights([rng.standard_normal(w.shape) * 0.4 for w in layer.weights])


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("go_backwards", [False])
def test_k_stateful_calls_equal_one_call(float64, cls, go_backwards):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 12, 4))
    whole = cls(5, return_sequences=True, return_state=True)
    whole.build((None, None, 4))
    _random_weights(whole, rng)
    chunked = cls(5, return_sequences=True, return_state=True, stateful=True)
    chunked.build((None, None, 4))
    chunked.set_weights(whole.get_weights())
    y, *states = whole.forward(x)
    pieces = [chunked.forward(x[:, a:b]) for a, b in [(0, 4), (4, 5), (5, 12)]]
    assert_close(np.concatenate([p[0] for p in pieces], axis=1), y, what="outputs")
    for got, want in zip(pieces[-1][1:], states):
        assert_close(got, want, what="final states")
    chunked.reset_states()
    assert_close(chunked.forward(x[:, :4])[0], y[:, :4], what="after reset_states")


def test_stateful_batch_size_must_stay_fixed():
    layer = LSTM(3, stateful=True, name="lstm_s")
    layer(np.zeros((4, 2, 2), dtype="float32"))
    with pytest.raises(ValueError, match=r"lstm_s: this stateful layer carries states for a batch "
                                         r"of 4 sequences, got a batch of 2"):
        layer(np.zeros((2, 2, 2), dtype="float32"))
    layer.reset_states()
    layer(np.zeros((2, 2, 2), dtype="float32"))   # fine after a reset


def test_explicit_initial_state_overrides_carried_state(float64):
    layer = SimpleRNN(3, stateful=True)
    x = np.random.default_rng(1).standard_normal((2, 4, 2))
    layer(x)
    fresh = SimpleRNN.from_config({**layer.get_config(), "stateful": False, "name": "fresh"})
    fresh.build((None, None, 2))
    fresh.set_weights(layer.get_weights())
    h0 = np.ones((2, 3))
    assert_close(layer(x, initial_state=[h0]), fresh(x, initial_state=[h0]), what="given h0")


def test_stream_windows_layout():
    ids = np.arange(23)
    x, y = stream_windows(ids, batch_size=2, seq_len=3)
    # L = 11 steps per stream, 3 windows; window i of stream b is sample 2 i + b
    assert x.shape == y.shape == (6, 3)
    assert x[0].tolist() == [0, 1, 2] and x[1].tolist() == [11, 12, 13]
    assert x[2].tolist() == [3, 4, 5] and x[3].tolist() == [14, 15, 16]
    np.testing.assert_array_equal(y, x + 1)
    with pytest.raises(ValueError, match="too short"):
        stream_windows(np.arange(5), batch_size=4, seq_len=3)


def test_tbptt_gradients_equal_torch_with_detach_at_window_edges(float64):
    """Embedding -> stateful LSTM -> Dense over 3 windows: per-window weight gradients
    (weights held fixed) equal torch's where the hidden state is detached between windows."""
    rng = np.random.default_rng(2)
    V, E, H, B, W = 7, 3, 4, 2, 5
    ids = rng.integers(0, V, 3 * W * B + 1)
    x, y = stream_windows(ids, batch_size=B, seq_len=W)

    emb = Embedding(V, E)
    lstm = LSTM(H, return_sequences=True, stateful=True)
    dense = Dense(V)
    model = rnnkit.Sequential([rnnkit.Input((W,), batch_size=B, dtype="int32"), emb, lstm, dense])
    tl = torch.nn.LSTM(E, H, batch_first=True).double()
    random_torch_params(tl, rng)
    p = {n: v.detach().numpy() for n, v in tl.named_parameters()}
    lstm.set_weights(lstm_from_torch(p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"],
                                     p["bias_hh_l0"]))
    emb.set_weights([rng.standard_normal((V, E))])
    dense.set_weights([rng.standard_normal((H, V)), rng.standard_normal(V)])
    t_emb = torch.tensor(emb.get_weights()[0], requires_grad=True)
    t_w, t_b = (torch.tensor(a, requires_grad=True) for a in dense.get_weights())
    loss_fn = rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True)

    hc = None
    for i in range(3):
        bx, by = x[i * B:(i + 1) * B], y[i * B:(i + 1) * B]
        model.zero_grad()
        logits = model.forward(bx, training=True)
        _, dlogits = loss_fn.value_and_grad(by, logits)
        model.backward(dlogits)

        for t in (t_emb, t_w, t_b, *tl.parameters()):
            t.grad = None
        if hc is not None:
            hc = tuple(s.detach() for s in hc)       # truncate: no gradient into the past
        out, hc = tl(t_emb[torch.tensor(bx)], hc)
        t_logits = out @ t_w + t_b
        t_loss = torch.nn.functional.cross_entropy(t_logits.reshape(-1, V),
                                                   torch.tensor(by).reshape(-1))
        t_loss.backward()
        assert_close(logits, t_logits.detach().numpy(), what=f"window {i} logits")
        g = {n: q.grad.numpy() for n, q in tl.named_parameters()}
        assert_close(lstm.kernel.grad, g["weight_ih_l0"].T, what=f"window {i} dkernel")
        assert_close(lstm.recurrent_kernel.grad, g["weight_hh_l0"].T, what=f"window {i} drec")
        assert_close(lstm.bias.grad, g["bias_ih_l0"], what=f"window {i} dbias")
        assert_close(emb.embeddings.grad, t_emb.grad.numpy(), what=f"window {i} dembeddings")
        assert_close(dense.kernel.grad, t_w.grad.numpy(), what=f"window {i} ddense")


def test_fit_tbptt_char_model_learns_a_periodic_stream():
    rnnkit.random.set_random_seed(0)
    ids = np.tile(np.array([1, 2, 3, 4, 5, 6, 7, 3, 2]), 120)   # period 9, needs memory
    x, y = stream_windows(ids, batch_size=8, seq_len=10)
    model = rnnkit.Sequential([
        rnnkit.Input((10,), batch_size=8, dtype="int32"), Embedding(8, 8),
        LSTM(32, return_sequences=True, stateful=True), Dense(8),
    ])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.02),
                  loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, batch_size=8, epochs=8, shuffle=False, verbose=0,
                     callbacks=[ResetStatesOnEpochBegin()])
    assert hist.history["loss"][0] > 1.5
    assert hist.history["loss"][-1] < 0.2
