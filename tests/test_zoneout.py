"""Zoneout on LSTM and GRU (Krueger et al. 2016), in both kernel sets (reference and fast).

* Parity with the module docstrings' equations in PyTorch autograd (float64, random non-zero
  weights and biases, initial states, padding, dropout and recurrent dropout, the very 0/1
  masks the layer drew): outputs, final states and every gradient.
* Finite differences through the layer in training mode with fixed masks (the generator
  reseeded before every forward).
* Inference is the expectation (a NumPy loop with z = p), the same through ``forward``, the
  forward-only kernels (``inference_mode``) and the streamer.
* Fast equals reference (both batch paths, go_backwards, float64 and float32), results equal
  at 1 and 2 threads, zoneout=0 identical to the plain layer.
* Bad arguments, save/load, and the .keras / ONNX / PyTorch exports refusing zoneout.
"""

import json

import numpy as np
import pytest

import rnnkit
from gradcheck import assert_close, check_layer_gradients
from rnnkit import config
from rnnkit.grad_mode import inference_mode
from rnnkit.kernels import dispatch, threads
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input
from rnnkit.models import Sequential
from rnnkit.random import make_rng

torch = pytest.importorskip("torch")

B, T, I, H = 3, 6, 4, 5
ZONE = {  # cell -> the layer's zoneout (and GRU mode) arguments
    "lstm": dict(zoneout=0.3, cell_zoneout=0.4),
    "gru": dict(zoneout=0.35),
    "gru_before": dict(zoneout=0.35, reset_after=False),
}
CELLS = list(ZONE)


def _random_layer(cell, units=H, inputs=I, wseed=0, zone=None, **kw):
    opts = dict(ZONE[cell] if zone is None else zone, **kw)
    layer = (LSTM if cell == "lstm" else GRU)(units, **opts)
    layer.build((None, None, inputs))
    rng = np.random.default_rng(wseed)
    layer.set_weights([rng.uniform(0.1, 0.8, w.shape) * rng.choice([-1, 1], w.shape)
                       for w in layer.get_weights()])
    return layer


def _padding(batch, steps):
    mask = np.ones((batch, steps), bool)
    mask[0, steps - 2:] = False           # post-padding
    mask[-1, :2] = False                  # pre-padding
    mask[1 % batch, 3] = False            # a hole
    return mask


def _record(layer):
    """Keep the zoneout and dropout masks the layer draws, in drawing order."""
    seen = {"zone": [], "drop": []}
    draw_zone, draw_drop = layer._zoneout_masks, layer._dropout_mask

    def zone(T_, B_, dtype):
        seen["zone"].append(draw_zone(T_, B_, dtype))
        return seen["zone"][-1]

    def drop(shape, rate):
        seen["drop"].append(draw_drop(shape, rate))
        return seen["drop"][-1]
    layer._zoneout_masks, layer._dropout_mask = zone, drop
    return seen


class _Numpy:
    tanh, where, stack = staticmethod(np.tanh), staticmethod(np.where), staticmethod(np.stack)

    @staticmethod
    def sigmoid(a):
        return 1.0 / (1.0 + np.exp(-a))


def _equations(lib, cell, ws, x, states0, mask, rec, zh, zc):
    """The LSTM / GRU docstrings' equations with zoneout, batch-first, in NumPy (``_Numpy``) or
    torch (``lib``). ws: the layer's weights; x (B, T, I) after input dropout; mask (B, T);
    rec: the recurrent dropout mask (B, H) or 1; zh, zc: (T, B, H) keep-masks, (T, 1, 1) p, or
    None. Returns h_seq (B, T, H) and the final states."""
    Hn = states0[0].shape[1]
    h, c = states0[0], (states0[1] if cell == "lstm" else None)
    W, U, b = ws
    ys = []
    for t in range(x.shape[1]):
        x_t, keep, h_in = x[:, t], mask[:, t, None], h * rec
        if cell == "lstm":
            a = x_t @ W + h_in @ U + b
            i, f, o = (lib.sigmoid(a[:, k * Hn:(k + 1) * Hn]) for k in (0, 1, 3))
            g = lib.tanh(a[:, 2 * Hn:3 * Hn])
            c_new = f * c + i * g                                     # c~
            h_new = o * lib.tanh(c_new)                               # h~
            if zc is not None:
                c_new = zc[t] * c + (1 - zc[t]) * c_new
            c = lib.where(keep, c_new, c)
        else:
            reset_after = cell == "gru"
            xw = x_t @ W + (b[0] if reset_after else b)
            if reset_after:
                hU = h_in @ U + b[1]
                z, r = lib.sigmoid(xw[:, :Hn] + hU[:, :Hn]), lib.sigmoid(xw[:, Hn:2 * Hn]
                                                                         + hU[:, Hn:2 * Hn])
                hh = lib.tanh(xw[:, 2 * Hn:] + r * hU[:, 2 * Hn:])
            else:
                zr = h_in @ U[:, :2 * Hn]
                z, r = lib.sigmoid(xw[:, :Hn] + zr[:, :Hn]), lib.sigmoid(xw[:, Hn:2 * Hn]
                                                                         + zr[:, Hn:])
                hh = lib.tanh(xw[:, 2 * Hn:] + (r * h_in) @ U[:, 2 * Hn:])
            h_new = z * h + (1 - z) * hh                              # h~
        if zh is not None:
            h_new = zh[t] * h + (1 - zh[t]) * h_new
        h = lib.where(keep, h_new, h)
        ys.append(h)
    return lib.stack(ys, 1), ([h, c] if cell == "lstm" else [h])


# ---- parity with torch autograd and finite differences -----------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_parity_with_torch_autograd_given_the_same_masks(kernels, float64, cell):
    layer = _random_layer(cell, return_sequences=True, return_state=True, dropout=0.2,
                          recurrent_dropout=0.3, seed=1)
    rng = np.random.default_rng(2)
    n = 2 if cell == "lstm" else 1
    x, mask = rng.normal(size=(B, T, I)), _padding(B, T)
    s0 = [rng.normal(size=(B, H)) for _ in range(n)]
    dy, d_states = rng.normal(size=(B, T, H)), [rng.normal(size=(B, H)) for _ in range(n)]
    seen = _record(layer)
    y, *states = layer.forward(x, training=True, mask=mask, initial_state=s0)
    layer.zero_grad()
    dx, *ds0 = layer.backward([dy] + d_states)
    (zone,), (in_drop, rec_drop) = seen["zone"], seen["drop"]
    assert all(0 < z.mean() < 1 for z in zone)                # real 0/1 draws, both values
    assert in_drop.shape == (B, I) and rec_drop.shape == (B, H)

    ws = [torch.tensor(w, requires_grad=True) for w in layer.get_weights()]
    tx = torch.tensor(x, requires_grad=True)
    ts0 = [torch.tensor(s, requires_grad=True) for s in s0]
    zh, zc = torch.tensor(zone[0]), (torch.tensor(zone[1]) if cell == "lstm" else None)
    ty, tstates = _equations(torch, cell, ws, tx * torch.tensor(in_drop)[:, None, :], ts0,
                             torch.tensor(mask), torch.tensor(rec_drop), zh, zc)
    loss = (ty * torch.tensor(dy)).sum()
    for s, d in zip(tstates, d_states):
        loss = loss + (s * torch.tensor(d)).sum()
    loss.backward()
    pairs = [(y, ty, "h_seq"), (dx, tx.grad, "dx")]
    pairs += [(s, ts, f"state {k}") for k, (s, ts) in enumerate(zip(states, tstates))]
    pairs += [(d, ts.grad, f"d initial state {k}") for k, (d, ts) in enumerate(zip(ds0, ts0))]
    pairs += [(w.grad, tw.grad, "d" + w.name) for w, tw in zip(layer.weights, ws)]
    for got, want, what in pairs:
        assert_close(got, want.detach().numpy(), rtol=1e-9, atol=0, what=f"{cell} {what}")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("options", [
    dict(return_sequences=True, recurrent_dropout=0.3),
    dict(return_state=True, go_backwards=True),
])
def test_finite_differences_with_fixed_masks(kernels, float64, cell, options):
    layer = _random_layer(cell, units=3, inputs=2, **options)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 2))
    n = 2 if cell == "lstm" else 1
    kwargs = dict(mask=_padding(2, 5), training=True,
                  initial_state=[rng.normal(size=(2, 3)) for _ in range(n)])

    def reset():                     # the same draws at every forward
        layer._rng = make_rng(7)
    check_layer_gradients(layer, x, kwargs, grad_args=("initial_state",), reset=reset)


# ---- inference: the expectation ---------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_inference_is_the_expectation(kernels, float64, cell):
    layer = _random_layer(cell, return_sequences=True, return_state=True)
    rng = np.random.default_rng(5)
    n = 2 if cell == "lstm" else 1
    x, mask = rng.normal(size=(B, T, I)), _padding(B, T)
    s0 = [rng.normal(size=(B, H)) for _ in range(n)]
    p = [np.full((T, 1, 1), layer.zoneout), None]
    if cell == "lstm":
        p[1] = np.full((T, 1, 1), layer.cell_zoneout)
    for m in (mask, None):
        want_y, want_s = _equations(_Numpy, cell, layer.get_weights(), x, s0,
                                    np.ones((B, T), bool) if m is None else m, 1.0, *p)
        cached = layer.forward(x, mask=m, initial_state=s0)              # training=False
        with inference_mode():                                          # forward-only kernels
            no_cache = layer.forward(x, mask=m, initial_state=s0)
        for got in (cached, no_cache):
            assert_close(got[0], want_y, rtol=1e-12, atol=0, what=f"{cell} h_seq")
            for s, w in zip(got[1:], want_s):
                assert_close(s, w, rtol=1e-12, atol=0, what=f"{cell} final state")
    stream = layer.streamer(B, initial_state=s0)                         # no mask: the last want
    steps = np.stack([stream.step(x[:, t]) for t in range(T)], 1)
    assert_close(steps, want_y, rtol=1e-12, atol=0, what=f"{cell} streamed h_t")
    for s, w in zip(stream.states, want_s):
        assert_close(s, w, rtol=1e-12, atol=0, what=f"{cell} streamed states")


@pytest.mark.parametrize("cell", CELLS)
def test_masks_drawn_only_when_training(kernels, cell):
    layer = _random_layer(cell, return_sequences=True)
    x = np.random.default_rng(6).normal(size=(2, T, I)).astype("float32")
    a, b = layer.forward(x, training=True), layer.forward(x, training=True)
    assert not np.allclose(a, b)                                   # new draws at every call
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x))
    layer._rng = make_rng(3)
    want = layer.forward(x, training=True)
    layer._rng = make_rng(3)
    with inference_mode():                       # training under the mode still draws masks
        got = layer.forward(x, training=True)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# ---- fast = reference, threads, zoneout=0 ------------------------------------------------------
def _train_and_infer(cell, batch, dtype=np.float64, zone=None, **kw):
    """A fresh layer (seeded draws) trained one step and then run for inference: every output,
    gradient and inference output as a list."""
    config.set_floatx(np.dtype(dtype).name)
    layer = _random_layer(cell, return_sequences=True, return_state=True, dropout=0.1,
                          recurrent_dropout=0.2, seed=3, zone=zone, **kw)
    rng = np.random.default_rng(8)
    n = 2 if cell == "lstm" else 1
    x, mask = rng.normal(size=(batch, T, I)).astype(dtype), _padding(batch, T)
    s0 = [rng.normal(size=(batch, H)).astype(dtype) for _ in range(n)]
    out = layer.forward(x, training=True, mask=mask, initial_state=s0)
    layer.zero_grad()
    grads = layer.backward([rng.normal(size=np.shape(o)).astype(dtype) for o in out])
    with inference_mode():
        infer = layer.forward(x, mask=mask, initial_state=s0)
    return list(out) + list(grads) + [w.grad.copy() for w in layer.weights] + list(infer)


def _assert_same(got, want, tol, what):
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want)):
        assert_close(a, b, rtol=tol, atol=0, what=f"{what}: array {k}")


@pytest.mark.skipif(not dispatch.fast_available(), reason="the fast kernels cannot run here")
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("batch", [2, 5])          # 2: xw projected first; 5: inside the loop
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_fast_equals_reference(cell, batch, go_backwards, dtype, tol, monkeypatch):
    runs = {}
    for mode in ("reference", "fast"):
        monkeypatch.setenv("RNNKIT_KERNELS", mode)
        runs[mode] = _train_and_infer(cell, batch, dtype, go_backwards=go_backwards)
    _assert_same(runs["fast"], runs["reference"], tol, f"{cell} fast vs reference")


@pytest.mark.parametrize("cell", CELLS)
def test_one_and_two_threads_equal(kernels, float64, cell, monkeypatch):
    for name in ("MIN_ROWS", "ALIGN_ROWS", "MIN_FLOPS", "MIN_COLS", "MIN_PROD_ROWS", "MIN_COPY"):
        monkeypatch.setattr(threads, name, 1)          # every split happens at these shapes
    assert len(threads.block_edges(8, 2)) == 3         # two batch blocks
    try:
        runs = []
        for n in (1, 2):
            config.set_num_threads(n)
            runs.append(_train_and_infer(cell, 8))
    finally:
        config.set_num_threads(None)
        threads.shutdown()
    _assert_same(runs[1], runs[0], 1e-12, f"{cell} 2 threads vs 1")


@pytest.mark.parametrize("cell", CELLS)
def test_zoneout_zero_is_the_plain_layer(kernels, float64, cell):
    plain = {k: v for k, v in ZONE[cell].items() if "zoneout" not in k}
    off = dict(plain, zoneout=0.0, **({"cell_zoneout": 0.0} if cell == "lstm" else {}))
    for a, b in zip(_train_and_infer(cell, 5, zone=off), _train_and_infer(cell, 5, zone=plain)):
        np.testing.assert_array_equal(a, b)


# ---- arguments, saving, exports ---------------------------------------------------------------
@pytest.mark.parametrize("make, what", [
    (lambda: LSTM(4, zoneout=1.0, name="bad_lstm"), "zoneout"),
    (lambda: LSTM(4, cell_zoneout=-0.1, name="bad_lstm"), "cell_zoneout"),
    (lambda: LSTM(4, zoneout=float("nan"), name="bad_lstm"), "zoneout"),
    (lambda: GRU(4, zoneout="0.1", name="bad_gru"), "zoneout"),
    (lambda: GRU(4, zoneout=True, name="bad_gru"), "zoneout"),
])
def test_bad_arguments_name_the_layer(make, what):
    with pytest.raises(ValueError, match=rf"^bad_\w+: {what} must be in \[0, 1\).*got"):
        make()


def test_save_load_round_trip(tmp_path, float64):
    model = Sequential([Embedding(12, 5),
                        LSTM(6, zoneout=0.1, cell_zoneout=0.2, return_sequences=True),
                        GRU(4, zoneout=0.3, reset_after=False), Dense(3)])
    model.build((None, None))
    rng = np.random.default_rng(9)
    model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])
    path = str(tmp_path / "zoneout.rnnkit")
    model.save(path)
    loaded = rnnkit.load_model(path)
    assert loaded.get_config() == model.get_config()
    assert (loaded.layers[1].zoneout, loaded.layers[1].cell_zoneout) == (0.1, 0.2)
    assert loaded.layers[2].zoneout == 0.3
    x = rng.integers(0, 12, (2, 7))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("layer", [
    lambda: LSTM(4, zoneout=0.2, name="zoned"), lambda: LSTM(4, cell_zoneout=0.2, name="zoned"),
    lambda: GRU(4, zoneout=0.2, name="zoned"),
    lambda: Bidirectional(GRU(4, zoneout=0.2, name="zoned")),
])
def test_exports_refuse_zoneout(layer):
    from rnnkit.io.keras_model import keras_config
    from rnnkit.io.torch_interop import to_torch
    model = Sequential([Input((5, 3)), layer(), Dense(2)])
    with pytest.raises(ValueError, match="zoned: zoneout|zoned: cell_zoneout"):
        keras_config(model)
    with pytest.raises(ValueError, match="zoned has zoneout"):
        to_torch(model.layers[0])
    pytest.importorskip("onnx")
    from rnnkit.io.onnx_export import build_onnx_model
    with pytest.raises(NotImplementedError, match="zoned: zoneout"):
        build_onnx_model(model)


def test_keras_file_leaves_out_zoneout_at_zero():
    from rnnkit.io.keras_model import keras_config
    model = Sequential([Input((5, 3)), LSTM(4, return_sequences=True),
                        Bidirectional(GRU(4)), Dense(2)])
    text = json.dumps(keras_config(model))
    assert "zoneout" not in text and '"GRU"' in text
