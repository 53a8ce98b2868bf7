"""MinGRU and MinLSTM: the paper's equations in PyTorch autograd, finite differences, the scan
modes against each other (T = 4096 too), masks, go_backwards, stateful, streaming, generation,
save/load, summary counts and bad arguments."""

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import Dense, Embedding, MinGRU, MinLSTM
from rnnkit.models import Sequential
from gradcheck import assert_close, check_layer_gradients


@pytest.fixture(params=["reference", "fast"])
def kernels(request, monkeypatch):
    """Both kernel sets: the NumPy scan loop and the compiled one (RNNKIT_KERNELS)."""
    monkeypatch.setenv("RNNKIT_KERNELS", request.param)
    return request.param

torch = pytest.importorskip("torch")

LAYERS = {"mingru": MinGRU, "minlstm": MinLSTM}


def _layer(name, H=4, I=3, seed=0, **kwargs):
    layer = LAYERS[name](H, **kwargs)
    layer.build((None, None, I))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.7, w.shape) for w in layer.get_weights()])
    return layer


def _torch_paper(name, x, W, b, h0):
    """The paper's sequential equations in torch (x (B, T, I), W (I, G*H), b (G*H,))."""
    H = h0.shape[1]
    h, outs = h0, []
    for t in range(x.shape[1]):
        k = x[:, t] @ W + b
        if name == "mingru":
            z, hh = torch.sigmoid(k[:, :H]), k[:, H:]
            h = (1 - z) * h + z * hh
        else:
            f, i, hh = torch.sigmoid(k[:, :H]), torch.sigmoid(k[:, H:2 * H]), k[:, 2 * H:]
            h = f / (f + i) * h + i / (f + i) * hh
        outs.append(h)
    return torch.stack(outs, 1), h


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("scan", ["sequential", "blocked", "log"])
def test_parity_with_torch_autograd_of_the_papers_equations(float64, kernels, name, scan):
    B, T, I, H = 3, 7, 5, 4
    layer = _layer(name, H, I, return_sequences=True, return_state=True, scan=scan)
    rng = np.random.default_rng(1)
    x, h0 = rng.normal(size=(B, T, I)), rng.normal(size=(B, H))
    dy, dh = rng.normal(size=(B, T, H)), rng.normal(size=(B, H))
    y, h_T = layer.forward(x, initial_state=[h0])
    layer.zero_grad()
    dx, dh0 = layer.backward([dy, dh])

    W, b = (torch.tensor(w, requires_grad=True) for w in layer.get_weights())
    tx, th0 = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    ty, th = _torch_paper(name, tx, W, b, th0)
    ((ty * torch.tensor(dy)).sum() + (th * torch.tensor(dh)).sum()).backward()
    for got, want, what in [(y, ty, "y"), (h_T, th, "h_T"), (dx, tx.grad, "dx"),
                            (dh0, th0.grad, "dh0"), (layer.kernel.grad, W.grad, "dW"),
                            (layer.bias.grad, b.grad, "db")]:
        want = want.detach().numpy()
        assert_close(got, want, 1e-6, 0, what)
        assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("options", [
    dict(return_sequences=True),
    dict(return_sequences=True, go_backwards=True, scan="blocked"),
    dict(return_state=True, activation="tanh", scan="sequential"),
    dict(use_bias=False, return_sequences=True),
])
def test_finite_differences(float64, kernels, name, options):
    layer = _layer(name, 3, 2, seed=2, **options)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 6, 2))
    mask = np.ones((2, 6), bool)
    mask[0, 4:] = False
    mask[1, 1] = False
    kwargs = dict(mask=mask, initial_state=[rng.normal(size=(2, 3))])
    check_layer_gradients(layer, x, kwargs, grad_args=("initial_state",))


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-6)])
def test_sequential_and_blocked_agree_over_4096_steps(kernels, name, dtype, tol):
    rnnkit.config.set_floatx(dtype)
    x = np.random.default_rng(4).normal(size=(2, 4096, 3))
    outs = {}
    for scan in ("sequential", "blocked"):
        layer = _layer(name, 4, 3, seed=5, return_sequences=True, scan=scan)
        y = layer.forward(x)
        layer.zero_grad()
        dx = layer.backward(np.ones_like(y))
        outs[scan] = (y, dx, layer.kernel.grad.copy(), layer.bias.grad.copy())
        assert y.dtype == np.dtype(dtype)
    for got, want, what in zip(outs["blocked"], outs["sequential"], ("y", "dx", "dW", "db")):
        assert_close(got, want, tol, 0, what)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_masked_steps_carry_the_state(float64, kernels, name):
    layer = _layer(name, return_sequences=True)
    x = np.random.default_rng(6).normal(size=(2, 6, 3))
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
    y = layer.forward(x, mask=mask)
    short = layer.forward(x[:1, :4])
    np.testing.assert_allclose(y[0, :4], short[0], rtol=1e-13)
    np.testing.assert_array_equal(y[0, 4], y[0, 3])
    np.testing.assert_array_equal(y[0, 5], y[0, 3])


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_go_backwards_reads_the_reversed_input(float64, name):
    fwd = _layer(name, return_sequences=True)
    bwd = _layer(name, return_sequences=True, go_backwards=True)
    x = np.random.default_rng(7).normal(size=(2, 5, 3))
    np.testing.assert_allclose(bwd.forward(x), fwd.forward(x[:, ::-1]), rtol=1e-13)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_stateful_halves_equal_the_whole(float64, name):
    whole = _layer(name, return_sequences=True)
    half = _layer(name, return_sequences=True, stateful=True)
    x = np.random.default_rng(8).normal(size=(2, 8, 3))
    y = whole.forward(x)
    y1, y2 = half.forward(x[:, :4]), half.forward(x[:, 4:])
    np.testing.assert_allclose(np.concatenate([y1, y2], 1), y, rtol=1e-13)
    half.reset_states()
    np.testing.assert_allclose(half.forward(x[:, :4]), y1, rtol=1e-13)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_streaming_equals_forward(name, dtype):
    rnnkit.config.set_floatx(dtype)
    layer = _layer(name, return_sequences=True, return_state=True)
    rng = np.random.default_rng(9)
    x, h0 = rng.normal(size=(2, 6, 3)).astype(dtype), rng.normal(size=(2, 4)).astype(dtype)
    y, h_T = layer.forward(x, initial_state=[h0])
    stream = layer.streamer(2, initial_state=[h0])
    got = np.stack([stream.step(x[:, t]) for t in range(6)], 1)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(got, y, rtol=tol, atol=tol)
    np.testing.assert_allclose(stream.states[0], h_T, rtol=tol, atol=tol)
    stream.reset()
    assert not stream.states[0].any()
    with pytest.raises(ValueError, match="expected a streamed input"):
        stream.step(np.ones((1, 3)))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_generation_carries_the_state(float64, name):
    from rnnkit.data import CharVocab
    from rnnkit.generation import generate_text
    text = "the quick brown fox jumps over the lazy dog " * 3
    vocab = CharVocab.from_text(text)
    model = Sequential([Embedding(len(vocab), 8), LAYERS[name](16, return_sequences=True),
                        LAYERS[name](16, return_sequences=True), Dense(len(vocab))])
    model.build((None, None))
    rng = np.random.default_rng(10)
    model.set_weights([rng.normal(0, 0.8, w.shape) for w in model.get_weights()])
    ids = list(vocab.encode("the fox"))
    for _ in range(30):                            # greedy by rerunning the whole prefix
        scores = model.predict(np.array([ids]))[0, -1].astype(np.float64)
        scores[:2] = -np.inf
        ids.append(int(np.argmax(scores)))
    expected = vocab.decode(ids[7:])
    assert len(set(expected)) >= 3
    assert generate_text(model, vocab, "the fox", 30, temperature=0) == expected


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_save_load_round_trip(tmp_path, float64, name):
    model = Sequential([Embedding(20, 6), LAYERS[name](5, return_sequences=True, scan="blocked"),
                        LAYERS[name](4), Dense(3)])
    model.build((None, None))
    rng = np.random.default_rng(11)
    model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])
    path = str(tmp_path / "m.rnnkit")
    model.save(path)
    loaded = rnnkit.load_model(path)
    assert loaded.get_config() == model.get_config()
    x = rng.integers(0, 20, (3, 7))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_summary_parameter_counts():
    model = Sequential([Embedding(1000, 64), MinGRU(128, return_sequences=True), MinLSTM(32),
                        Dense(10)])
    model.build((None, None))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert [l.count_params() for l in model.layers] == [64000, 64 * 256 + 256,
                                                        128 * 96 + 96, 330]
    assert "min_gru (MinGRU)             (None, None, 128)         16640" in text
    assert "Total params: 93,354" in text
    assert MinLSTM(4, use_bias=False)(np.ones((1, 2, 3))).shape == (1, 4)


def test_unit_forget_bias_and_config():
    layer = MinLSTM(3, unit_forget_bias=True, scan="log")
    layer.build((None, None, 2))
    np.testing.assert_array_equal(layer.bias.value, [1, 1, 1, 0, 0, 0, 0, 0, 0])
    cfg = layer.get_config()
    assert cfg["scan"] == "log" and cfg["unit_forget_bias"] and "recurrent_dropout" not in cfg
    assert MinLSTM.from_config(cfg).get_config() == cfg


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="MinGRU: recurrent_dropout is not an argument"):
        MinGRU(4, recurrent_dropout=0.2)
    with pytest.raises(ValueError, match="scan must be one of"):
        MinLSTM(4, scan="fft")
    layer = MinGRU(4)
    layer.build((None, None, 3))
    with pytest.raises(ValueError, match="expected initial state h of shape"):
        layer.forward(np.ones((2, 5, 3)), initial_state=[np.ones((2, 5))])


@pytest.mark.parametrize("make", [lambda: MinGRU(4, return_sequences=True), lambda: MinLSTM(4),
                                  lambda: rnnkit.layers.LayerNormLSTM(4)])
def test_onnx_export_is_refused_naming_the_layer(make, tmp_path):
    pytest.importorskip("onnx")
    from rnnkit.io.onnx_export import export_onnx
    layer = make()
    model = Sequential([rnnkit.layers.Input((5, 3)), layer, Dense(2)])
    with pytest.raises(NotImplementedError,
                       match=f"{layer.name}: {type(layer).__name__} has no ONNX export"):
        export_onnx(model, str(tmp_path / "m.onnx"))


def _g():
    """The paper's positive candidate activation g (appendix B.3), as an rnnkit Activation."""
    from rnnkit.activations import Activation, sigmoid
    return Activation("g", lambda x: np.where(x >= 0, x + 0.5, sigmoid(x)),
                      lambda x, y: np.where(x >= 0, 1.0, y * (1.0 - y)))


@pytest.mark.parametrize("scan", ["log", "sequential", "blocked"])
def test_equals_the_papers_log_space_parallel_mingru(float64, kernels, scan):
    """Appendix B of the paper in torch: log-space minGRU with g, Heinsen's parallel scan."""
    B, T, I, H = 2, 9, 3, 4
    layer = MinGRU(H, activation=_g(), return_sequences=True, scan=scan)
    layer.build((None, None, I))
    rng = np.random.default_rng(12)
    layer.set_weights([rng.normal(0, 0.8, w.shape) for w in layer.get_weights()])
    x, h0 = rng.normal(size=(B, T, I)), rng.uniform(0.1, 1.0, (B, H))      # h0 > 0
    dy = rng.normal(size=(B, T, H))
    y = layer.forward(x, initial_state=[h0])
    layer.zero_grad()
    dx, dh0 = layer.backward(dy)

    W, b = (torch.tensor(w, requires_grad=True) for w in layer.get_weights())
    tx, th0 = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    F = torch.nn.functional
    k = tx @ W + b
    kz, kh = k[..., :H], k[..., H:]
    log_coeffs, log_z = -F.softplus(kz), -F.softplus(-kz)                # log(1 - z), log z
    log_hh = torch.where(kh >= 0, (F.relu(kh) + 0.5).log(), -F.softplus(-kh))
    log_values = torch.cat([th0.log()[:, None], log_z + log_hh], dim=1)  # (B, T+1, H)
    a_star = F.pad(torch.cumsum(log_coeffs, dim=1), (0, 0, 1, 0))
    ty = torch.exp(a_star + torch.logcumsumexp(log_values - a_star, dim=1))[:, 1:]
    (ty * torch.tensor(dy)).sum().backward()
    for got, want, what in [(y, ty, "y"), (dx, tx.grad, "dx"), (dh0, th0.grad, "dh0"),
                            (layer.kernel.grad, W.grad, "dW"), (layer.bias.grad, b.grad, "db")]:
        assert_close(got, want.detach().numpy(), 1e-9, 0, what)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 1e-6)])
def test_fused_compiled_kernels_equal_the_numpy_ones(monkeypatch, name, dtype, tol):
    from rnnkit.kernels import min_rnn
    forward = getattr(min_rnn, f"{name}_forward")
    backward = getattr(min_rnn, f"{name}_backward")
    rng = np.random.default_rng(13)
    T, B, H = 40, 3, 5
    G = 2 if name == "mingru" else 3
    xw = rng.normal(size=(T, B, G * H)).astype(dtype)
    h0 = rng.normal(size=(B, H)).astype(dtype)
    mask = rng.random((T, B)) > 0.2
    dh, dh_T = rng.normal(size=(T, B, H)).astype(dtype), rng.normal(size=(B, H)).astype(dtype)
    out = {}
    for mode in ("fast", "reference"):
        monkeypatch.setenv("RNNKIT_KERNELS", mode)
        h_seq, h_T, cache = forward(xw, h0, mask)
        assert (cache[0] == "fused") if mode == "fast" else isinstance(cache[0], np.ndarray)
        trace = np.empty_like(dh)
        dxw, dh0 = backward(dh, dh_T, cache, trace)
        out[mode] = (h_seq, h_T, dxw, dh0, trace)
        assert dxw.dtype == dtype
    for got, want, what in zip(out["fast"], out["reference"], ("h", "h_T", "dxw", "dh0", "g")):
        assert_close(got, want, tol, 0, what)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_state_gradients_for_diagnostics(float64, kernels, name):
    """record_state_grads: dL/dh_t through every path, as torch's h_t.grad."""
    B, T, I, H = 2, 6, 3, 4
    layer = _layer(name, H, I, return_sequences=True)
    layer.record_state_grads = True
    rng = np.random.default_rng(14)
    x, dy = rng.normal(size=(B, T, I)), rng.normal(size=(B, T, H))
    layer.forward(x)
    layer.backward(dy)
    W, b = (torch.tensor(w, requires_grad=True) for w in layer.get_weights())
    hs, h = [], torch.zeros(B, H, dtype=torch.float64)
    for t in range(T):                                  # the paper's step, keeping every h_t
        k = torch.tensor(x[:, t]) @ W + b
        if name == "mingru":
            z = torch.sigmoid(k[:, :H])
            h = (1 - z) * h + z * k[:, H:]
        else:
            f, i = torch.sigmoid(k[:, :H]), torch.sigmoid(k[:, H:2 * H])
            h = (f * h + i * k[:, 2 * H:]) / (f + i)
        h.retain_grad()
        hs.append(h)
    (torch.stack(hs, 1) * torch.tensor(dy)).sum().backward()
    want = np.stack([h.grad.numpy() for h in hs], 1)
    assert_close(layer.state_grads, want, 1e-10, 0, "dL/dh_t")
