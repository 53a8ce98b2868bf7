"""A training step through ``fit`` / ``train_on_batch`` against the same step in PyTorch (float64).

The same network is built twice, rnnkit's weights copied from torch's through
``rnnkit.io.torch_layout`` (every weight and bias random and non-zero), then one step of the
optimizer runs on both sides and every updated weight is compared.

rnnkit's LSTM has one bias where torch has ``b_ih + b_hh``: both torch biases receive the same
gradient, so a torch step would move their sum twice as far. The torch models here therefore
freeze ``b_hh`` (still random and non-zero) and train ``b_ih`` only; then ``b_ih + b_hh`` after
the step is exactly rnnkit's updated bias. GRU keeps its two biases on both sides.
"""

import numpy as np
import pytest
import torch

import rnnkit
from gradcheck import assert_close
from rnnkit.io.torch_layout import gru_from_torch, lstm_from_torch
from rnnkit.layers import GRU, LSTM, Dense, Embedding, Input
from rnnkit.training.optimizers import SGD, Adam
from torch_ref import random_torch_params

B, T, I, H, K = 5, 4, 3, 6, 2          # batch, steps, features, units, outputs
V, E, C = 9, 4, 5                      # vocabulary, embedding size, classes


# ---- Dense + LSTM, mse ------------------------------------------------------------------------

class TorchLSTMNet(torch.nn.Module):
    def __init__(self, rng):
        super().__init__()
        self.lstm = torch.nn.LSTM(I, H, batch_first=True).double()
        self.dense = torch.nn.Linear(H, K).double()
        random_torch_params(self, rng)
        self.lstm.bias_hh_l0.requires_grad_(False)        # see the module docstring

    def forward(self, x):
        _, (h_T, _) = self.lstm(x)                        # h_T (1, B, H)
        return self.dense(h_T[0])                         # (B, K)


def lstm_net_from_torch(net):
    model = rnnkit.Sequential([Input((T, I)), LSTM(H), Dense(K)])
    p = {n: v.detach().numpy().copy() for n, v in net.named_parameters()}
    model.layers[0].set_weights(lstm_from_torch(p["lstm.weight_ih_l0"], p["lstm.weight_hh_l0"],
                                                p["lstm.bias_ih_l0"], p["lstm.bias_hh_l0"]))
    model.layers[1].set_weights([p["dense.weight"].T, p["dense.bias"]])
    return model


def expected_lstm_net_weights(net):
    """rnnkit's get_weights() order and layout, from the torch parameters."""
    p = {n: v.detach().numpy().copy() for n, v in net.named_parameters()}
    return lstm_from_torch(p["lstm.weight_ih_l0"], p["lstm.weight_hh_l0"], p["lstm.bias_ih_l0"],
                           p["lstm.bias_hh_l0"]) + [p["dense.weight"].T, p["dense.bias"]]


def lstm_data(rng):
    return rng.standard_normal((B, T, I)), rng.standard_normal((B, K))


def compare(model, expected, what):
    got = model.get_weights()
    assert len(got) == len(expected)
    for i, (a, b) in enumerate(zip(got, expected)):
        assert a.dtype == np.float64
        assert_close(a, b, rtol=1e-7, atol=1e-12, what=f"{what}: weight {i}")


def torch_steps(net, x, y, make_opt, loss_fn, steps=1, clip=None):
    params = [p for p in net.parameters() if p.requires_grad]
    opt = make_opt(params)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        if clip is not None:
            clip(params)
        opt.step()
    return float(loss.detach())


def test_sgd_step_dense_lstm_mse(float64):
    rng = np.random.default_rng(0)
    net = TorchLSTMNet(rng)
    model = lstm_net_from_torch(net)
    before = model.get_weights()
    x, y = lstm_data(rng)
    model.compile(optimizer=SGD(learning_rate=0.5), loss="mse")
    loss = model.train_on_batch(x, y)
    t_loss = torch_steps(net, x, y, lambda ps: torch.optim.SGD(ps, lr=0.5),
                         torch.nn.functional.mse_loss)
    assert_close(loss, t_loss, rtol=1e-12, what="loss")
    compare(model, expected_lstm_net_weights(net), "SGD step")
    # the step moved every weight (a missing gradient would leave one unchanged)
    for a, b in zip(before, model.get_weights()):
        assert np.all(a != b)


def test_sgd_step_through_fit_equals_train_on_batch(float64):
    rng = np.random.default_rng(1)
    net = TorchLSTMNet(rng)
    x, y = lstm_data(rng)
    a, b = lstm_net_from_torch(net), lstm_net_from_torch(net)
    for m in (a, b):
        m.compile(optimizer=SGD(learning_rate=0.3), loss="mse")
    a.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False)
    b.train_on_batch(x, y)
    torch_steps(net, x, y, lambda ps: torch.optim.SGD(ps, lr=0.3),
                torch.nn.functional.mse_loss)
    compare(a, expected_lstm_net_weights(net), "fit, one batch")
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert np.array_equal(wa, wb)


# ---- Embedding + GRU + Dense, sparse categorical cross-entropy from logits -----------------

class TorchGRUNet(torch.nn.Module):
    def __init__(self, rng):
        super().__init__()
        self.emb = torch.nn.Embedding(V, E).double()
        self.gru = torch.nn.GRU(E, H, batch_first=True).double()
        self.dense = torch.nn.Linear(H, C).double()
        random_torch_params(self, rng)

    def forward(self, tokens):
        _, h_T = self.gru(self.emb(tokens))
        return self.dense(h_T[0])


def gru_net_weights(net):
    p = {n: v.detach().numpy().copy() for n, v in net.named_parameters()}
    return ([p["emb.weight"]]
            + gru_from_torch(p["gru.weight_ih_l0"], p["gru.weight_hh_l0"], p["gru.bias_ih_l0"],
                             p["gru.bias_hh_l0"])
            + [p["dense.weight"].T, p["dense.bias"]])


def test_sgd_step_embedding_gru_sparse_ce_from_logits(float64):
    rng = np.random.default_rng(2)
    net = TorchGRUNet(rng)
    model = rnnkit.Sequential([Input((T,), dtype="int64"), Embedding(V, E), GRU(H), Dense(C)])
    model.set_weights(gru_net_weights(net))
    tokens = rng.integers(0, V, (B, T))
    labels = rng.integers(0, C, (B,))
    loss_obj = rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=SGD(learning_rate=0.7), loss=loss_obj)
    loss = model.train_on_batch(tokens, labels)
    xt = torch.tensor(tokens)
    opt = torch.optim.SGD(net.parameters(), lr=0.7)
    t_loss = torch.nn.functional.cross_entropy(net(xt), torch.tensor(labels))
    t_loss.backward()
    opt.step()
    assert_close(loss, float(t_loss.detach()), rtol=1e-12, what="loss")
    compare(model, gru_net_weights(net), "SGD step, Embedding+GRU")


# ---- Adam, three steps ---------------------------------------------------------------------

def test_adam_three_steps_dense_lstm(float64):
    # epsilon = 0 on both sides: Keras adds epsilon to sqrt(v) after the bias correction is
    # folded into the step size, torch to sqrt(v_hat); with epsilon = 0 the rules are the same
    # algorithm (see tests/test_optimizers.py and Adam's docstring).
    rng = np.random.default_rng(3)
    net = TorchLSTMNet(rng)
    model = lstm_net_from_torch(net)
    x, y = lstm_data(rng)
    model.compile(optimizer=Adam(learning_rate=0.05, beta_1=0.8, beta_2=0.9, epsilon=0.0),
                  loss="mse")
    for _ in range(3):
        model.train_on_batch(x, y)
    torch_steps(net, x, y,
                lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.8, 0.9), eps=0.0),
                torch.nn.functional.mse_loss, steps=3)
    assert model.optimizer.iterations == 3
    compare(model, expected_lstm_net_weights(net), "Adam, 3 steps")


def test_adam_three_steps_through_fit(float64):
    rng = np.random.default_rng(4)
    net = TorchLSTMNet(rng)
    model = lstm_net_from_torch(net)
    x, y = lstm_data(rng)
    model.compile(optimizer=Adam(learning_rate=0.02, epsilon=0.0), loss="mse")
    model.fit(x, y, batch_size=B, epochs=3, verbose=0, shuffle=False)
    torch_steps(net, x, y, lambda ps: torch.optim.Adam(ps, lr=0.02, eps=0.0),
                torch.nn.functional.mse_loss, steps=3)
    compare(model, expected_lstm_net_weights(net), "Adam via fit")


# ---- gradient clipping through the training loop --------------------------------------------

def _clip_per_weight(params, c):
    for p in params:
        torch.nn.utils.clip_grad_norm_([p], c)


CLIPS = [
    ("clipnorm", 0.05, lambda ps: _clip_per_weight(ps, 0.05)),
    ("global_clipnorm", 0.1, lambda ps: torch.nn.utils.clip_grad_norm_(ps, 0.1)),
    ("clipvalue", 0.01, lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.01)),
]


@pytest.mark.parametrize("kind,value,torch_clip", CLIPS, ids=[c[0] for c in CLIPS])
@pytest.mark.parametrize("how", ["train_on_batch", "fit"])
def test_clipping_matches_torch(float64, kind, value, torch_clip, how):
    rng = np.random.default_rng(5)
    net = TorchLSTMNet(rng)
    model = lstm_net_from_torch(net)
    x, y = lstm_data(rng)
    y = 10.0 * y                                             # large gradients: clipping acts
    model.compile(optimizer=SGD(learning_rate=0.5, momentum=0.5, **{kind: value}), loss="mse")
    # the clip really changes the gradients (else this test could not fail)
    model.zero_grad()
    out = model.forward(x, training=True)
    _, dy = model.compiled_loss[0].value_and_grad(y, out)
    model.backward(dy)
    grads = [w.grad.copy() for w in model.trainable_weights]
    if kind == "clipvalue":
        assert all(np.max(np.abs(g)) > value for g in grads)
    elif kind == "clipnorm":
        assert all(np.linalg.norm(g) > value for g in grads)
    else:
        assert np.sqrt(sum(np.sum(g * g) for g in grads)) > value
    for _ in range(2):
        if how == "fit":
            model.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False)
        else:
            model.train_on_batch(x, y)
    # torch divides by (norm + 1e-6) where Keras divides by norm: all norms here are > 10x the
    # clip value, so the relative difference is far below the tolerance
    torch_steps(net, x, y, lambda ps: torch.optim.SGD(ps, lr=0.5, momentum=0.5),
                torch.nn.functional.mse_loss, steps=2, clip=torch_clip)
    compare(model, expected_lstm_net_weights(net), f"{kind} via {how}")
