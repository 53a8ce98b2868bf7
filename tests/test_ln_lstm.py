"""LayerNormLSTM with zoneout: the same equations in PyTorch autograd (float64, every weight and
gradient, zoneout by expectation and with drawn masks), finite differences with masks,
go_backwards, dropout and zoneout, a padded batch against its sequences one by one, stateful
windows, streaming, save/load and bad arguments. Every test but the last runs with each kernel
set (the `kernels` fixture: the NumPy reference and the compiled fast path)."""

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import Dense, Embedding, LayerNormLSTM
from rnnkit.models import Sequential
from rnnkit.random import make_rng
from gradcheck import assert_close, check_layer_gradients

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _layer(H=4, I=3, seed=0, **kwargs):
    layer = LayerNormLSTM(H, **kwargs)
    layer.build((None, None, I))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0.3, 0.6, w.shape) for w in layer.get_weights()])
    return layer


def _torch_ln_lstm(x, ws, h, c, zh, zc, eps):
    """The module docstring's equations; zh, zc: (T, B, H) tensors or None."""
    W, R, b, gx, gh, gc, bc = ws
    H = h.shape[1]
    outs = []
    for t in range(x.shape[1]):
        z = (F.layer_norm(x[:, t] @ W, (4 * H,), gx, None, eps)
             + F.layer_norm(h @ R, (4 * H,), gh, None, eps) + b)
        i, f = torch.sigmoid(z[:, :H]), torch.sigmoid(z[:, H:2 * H])
        g, o = torch.tanh(z[:, 2 * H:3 * H]), torch.sigmoid(z[:, 3 * H:])
        c_new = f * c + i * g
        h_new = o * torch.tanh(F.layer_norm(c_new, (H,), gc, bc, eps))
        c = c_new if zc is None else zc[t] * c + (1 - zc[t]) * c_new
        h = h_new if zh is None else zh[t] * h + (1 - zh[t]) * h_new
        outs.append(h)
    return torch.stack(outs, 1), h, c


@pytest.mark.parametrize("zoneout, cell_zoneout, training", [
    (0.0, 0.0, False), (0.3, 0.2, False), (0.3, 0.2, True), (0.5, 0.0, True)])
def test_parity_with_torch_autograd(kernels, float64, zoneout, cell_zoneout, training):
    B, T, I, H = 3, 6, 5, 4
    layer = _layer(H, I, return_sequences=True, return_state=True, zoneout=zoneout,
                   cell_zoneout=cell_zoneout, seed=1)
    rng = np.random.default_rng(2)
    x, h0, c0 = rng.normal(size=(B, T, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    dy, dh, dc = rng.normal(size=(B, T, H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    masks = {"zh": None, "zc": None}
    if training:                                   # fixed draws, read back for torch
        draw = layer._zoneout_masks

        def keep(T_, B_, dtype):
            masks["zh"], masks["zc"] = draw(T_, B_, dtype)
            return masks["zh"], masks["zc"]
        layer._zoneout_masks = keep
    y, h_T, c_T = layer.forward(x, training=training, initial_state=[h0, c0])
    layer.zero_grad()
    dx, dh0, dc0 = layer.backward([dy, dh, dc])

    ws = [torch.tensor(w, requires_grad=True) for w in layer.get_weights()]
    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    if training:
        zh, zc = (None if m is None else torch.tensor(m) for m in (masks["zh"], masks["zc"]))
        if zoneout:
            assert 0 < masks["zh"].mean() < 1
    else:
        zh = torch.full((T, 1, 1), zoneout, dtype=torch.float64) if zoneout else None
        zc = torch.full((T, 1, 1), cell_zoneout, dtype=torch.float64) if cell_zoneout else None
    ty, th, tc = _torch_ln_lstm(tx, ws, th0, tc0, zh, zc, layer.epsilon)
    ((ty * torch.tensor(dy)).sum() + (th * torch.tensor(dh)).sum()
     + (tc * torch.tensor(dc)).sum()).backward()
    pairs = [(y, ty, "y"), (h_T, th, "h_T"), (c_T, tc, "c_T"), (dx, tx.grad, "dx"),
             (dh0, th0.grad, "dh0"), (dc0, tc0.grad, "dc0")]
    pairs += [(w.grad, tw.grad, "d" + w.name) for w, tw in zip(layer.weights, ws)]
    for got, want, what in pairs:
        assert_close(got, want.detach().numpy(), 1e-6, 0, what)
        want = want.detach().numpy()
        assert np.max(np.abs(got - want)) <= 1e-8 * max(1.0, np.max(np.abs(want))), what


@pytest.mark.parametrize("options", [
    dict(return_sequences=True),
    dict(return_state=True, zoneout=0.3, cell_zoneout=0.4, go_backwards=True),
    dict(return_sequences=True, dropout=0.3, recurrent_dropout=0.3, zoneout=0.2),
    dict(use_bias=False, unit_forget_bias=False, cell_zoneout=0.5),
])
def test_finite_differences(kernels, float64, options):
    layer = _layer(3, 2, 3, **options)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 2))
    mask = np.ones((2, 5), bool)
    mask[0, 3:] = False
    mask[1, 1] = False
    kwargs = dict(mask=mask, training=True, initial_state=[rng.normal(size=(2, 3)),
                                                             rng.normal(size=(2, 3))])

    def reset():
        layer._rng = make_rng(7)
    check_layer_gradients(layer, x, kwargs, grad_args=("initial_state",), reset=reset)


def test_zoneout_masks_are_drawn_only_when_training(kernels):
    layer = _layer(zoneout=0.5, return_sequences=True)
    x = np.random.default_rng(5).normal(size=(2, 6, 3))
    a, b = layer.forward(x, training=True), layer.forward(x, training=True)
    assert not np.allclose(a, b)                               # new draws each call
    expected = layer.forward(x)                                 # inference: p h_prev + ...
    np.testing.assert_array_equal(layer.forward(x), expected)
    layer.zoneout = 0.0
    plain = layer.forward(x)
    assert not np.allclose(plain, expected)
    np.testing.assert_array_equal(layer.forward(x, training=True), plain)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_streaming_equals_forward(kernels, dtype, tol):
    rnnkit.config.set_floatx(dtype)
    layer = _layer(zoneout=0.2, cell_zoneout=0.1, return_sequences=True, return_state=True)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 5, 3)).astype(dtype)
    s0 = [rng.normal(size=(2, 4)).astype(dtype) for _ in range(2)]
    y, h_T, c_T = layer.forward(x, initial_state=s0)
    stream = layer.streamer(2, initial_state=s0)
    got = np.stack([stream.step(x[:, t]) for t in range(5)], 1)
    np.testing.assert_allclose(got, y, rtol=tol, atol=tol)
    np.testing.assert_allclose(stream.states[1], c_T, rtol=tol, atol=tol)


def test_save_load_and_config(kernels, tmp_path, float64):
    model = Sequential([Embedding(12, 5), LayerNormLSTM(6, zoneout=0.1, cell_zoneout=0.05,
                                                        return_sequences=True), Dense(12)])
    model.build((None, None))
    rng = np.random.default_rng(8)
    model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])
    assert model.layers[1].count_params() == 5 * 24 + 6 * 24 + 24 + 24 + 24 + 6 + 6
    path = str(tmp_path / "ln.rnnkit")
    model.save(path)
    loaded = rnnkit.load_model(path)
    assert loaded.get_config() == model.get_config()
    x = rng.integers(0, 12, (2, 7))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_bad_arguments():
    with pytest.raises(ValueError, match="zoneout must be in"):
        LayerNormLSTM(4, zoneout=1.0)
    with pytest.raises(ValueError, match="cell_zoneout must be in"):
        LayerNormLSTM(4, cell_zoneout=-0.1)
    layer = LayerNormLSTM(4)
    with pytest.raises(ValueError, match="expected 2 initial state"):
        layer.forward(np.ones((1, 2, 3)), initial_state=[np.zeros((1, 4))])


def test_padded_batch_equals_the_sequences_one_by_one(kernels, float64):
    """Post-padding: the padded row's final states, valid outputs and input gradients are those
    of its sequence run alone (zoneout by its expectation, so nothing is drawn)."""
    layer = _layer(zoneout=0.2, cell_zoneout=0.3, return_sequences=True, return_state=True)
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 6, 3))
    mask = np.ones((2, 6), bool)
    mask[1, 3:] = False
    dh, dc = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    y, h_T, c_T = layer.forward(x, mask=mask)
    dx = layer.backward([None, dh, dc])
    y1, h1, c1 = layer.forward(x[1:, :3])
    dx1 = layer.backward([None, dh[1:], dc[1:]])
    assert_close(y[1:, :3], y1, 1e-12, 0, "outputs")
    assert_close(h_T[1:], h1, 1e-12, 0, "h_T")
    assert_close(c_T[1:], c1, 1e-12, 0, "c_T")
    assert_close(dx[1:, :3], dx1, 1e-12, 0, "dx")
    np.testing.assert_array_equal(dx[1, 3:], 0.0)


def test_stateful_windows_equal_one_pass(kernels, float64):
    """stateful=True carries h and c from one call to the next: two windows give the outputs
    of one pass over the whole sequence; reset_states() starts again from zeros."""
    rng = np.random.default_rng(12)
    x = rng.normal(size=(3, 8, 3))
    whole = _layer(zoneout=0.2, cell_zoneout=0.1, return_sequences=True)
    stateful = _layer(zoneout=0.2, cell_zoneout=0.1, return_sequences=True, stateful=True)
    want = whole.forward(x)
    got = np.concatenate([stateful.forward(x[:, :5]), stateful.forward(x[:, 5:])], axis=1)
    assert_close(got, want, 1e-12, 0, "stateful windows")
    stateful.reset_states()
    assert_close(stateful.forward(x[:, :5]), want[:, :5], 1e-12, 0, "after reset_states")
