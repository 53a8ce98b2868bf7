"""Streaming (``layer.streamer()``): T single steps equal ``layer.forward`` over the T steps.

Every cell and option (LSTM; GRU reset_after True and False; SimpleRNN tanh and relu; use_bias
False; non-default activations, which the compiled step does not implement and hands to the
reference step; initial states; batch 1, 3 and 17 -- 17 takes the BLAS branch of the compiled
step), on the fast and on the reference path, with every weight and bias random and non-zero.

Tolerances. The reference step (the layer's cell, ``layer.cell.step``) does the arithmetic of the
reference whole-sequence kernel: float64 within 1e-12. The compiled step sums the products in its own order (packed
[W_ih; W_hh], vectorised partial sums) and uses the rational float32 tanh, as the fast
whole-sequence kernel does with its own order: float32 within 1e-5 of the largest value (T = 6
steps times a few ulp of 6e-8, with margin; a wrong gate or bias is O(1e-1)), float64 within
1e-10. No timing is asserted here (see ``rnnkit bench``).
"""

import subprocess
import sys

import numpy as np
import pytest

from rnnkit.kernels import dispatch
from rnnkit.layers import GRU, LSTM, Dense, SimpleRNN
from rnnkit.layers.streaming import Streamer

T, I, H = 6, 5, 7          # odd H: the compiled dot loops' 4-row blocks leave remainders

PATHS = ["reference"] + (["fast"] if dispatch.fast_available() else [])

CASES = {
    "lstm": (LSTM, {}),
    "lstm_no_bias": (LSTM, {"use_bias": False}),
    "lstm_other_activations": (LSTM, {"activation": "softsign",
                                      "recurrent_activation": "hard_sigmoid"}),
    "gru": (GRU, {}),
    "gru_reset_before": (GRU, {"reset_after": False}),
    "gru_no_bias": (GRU, {"use_bias": False}),
    "gru_reset_before_no_bias": (GRU, {"reset_after": False, "use_bias": False}),
    "rnn_tanh": (SimpleRNN, {}),
    "rnn_relu": (SimpleRNN, {"activation": "relu"}),
    "rnn_no_bias": (SimpleRNN, {"use_bias": False}),
    "rnn_elu": (SimpleRNN, {"activation": "elu"}),
}


def _layer(name, seed=0, **kw):
    cls, opts = CASES[name]
    layer = cls(H, return_sequences=True, return_state=True, **opts, **kw)
    layer.build((None, None, I))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    return layer


def _inputs(layer, B, with_state, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.0, (B, T, I)).astype(layer.dtype)
    states = None
    if with_state:
        states = [rng.normal(0, 0.5, (B, H)).astype(layer.dtype) for _ in layer.state_names]
    return x, states


def _stream(layer, x, states):
    stream = layer.streamer(batch_size=x.shape[0], initial_state=states)
    h_seq = np.stack([stream.step(x[:, t]) for t in range(x.shape[1])], axis=1)   # (B, T, H)
    return stream, h_seq


def _assert_close(a, b, tol):
    scale = max(np.abs(b).max(), 1.0)
    assert np.abs(a - b).max() <= tol * scale, (np.abs(a - b).max(), tol * scale)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("B, with_state", [(1, False), (3, True), (17, True)])
@pytest.mark.parametrize("name", sorted(CASES))
def test_streaming_equals_forward_float32(name, B, with_state, path, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", path)
    layer = _layer(name)
    x, states = _inputs(layer, B, with_state)
    y, *final = layer.forward(x, initial_state=states)
    stream, h_seq = _stream(layer, x, states)
    default_acts = name not in ("lstm_other_activations", "rnn_elu")
    assert stream.kernels == ("fast" if path == "fast" and default_acts else "reference")
    assert h_seq.dtype == np.float32
    _assert_close(h_seq, y, 1e-5)
    assert len(stream.states) == len(final)
    for s, f in zip(stream.states, final):
        _assert_close(s, f, 1e-5)
    assert np.abs(h_seq).max() > 0.1                 # the comparison is not between zeros


@pytest.mark.parametrize("path, tol", [("reference", 1e-12)] + (
    [("fast", 1e-10)] if dispatch.fast_available() else []))
@pytest.mark.parametrize("name", sorted(CASES))
def test_streaming_equals_forward_float64(name, path, tol, monkeypatch, float64):
    monkeypatch.setenv("RNNKIT_KERNELS", path)
    layer = _layer(name)
    x, states = _inputs(layer, 3, True)
    y, *final = layer.forward(x, initial_state=states)
    stream, h_seq = _stream(layer, x, states)
    assert h_seq.dtype == np.float64
    _assert_close(h_seq, y, tol)
    for s, f in zip(stream.states, final):
        _assert_close(s, f, tol)


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn_tanh"])
def test_go_backwards_is_the_input_streamed_last_step_first(name):
    layer = _layer(name, go_backwards=True)
    x, states = _inputs(layer, 2, True)
    y, *final = layer.forward(x, initial_state=states)
    stream, h_seq = _stream(layer, x[:, ::-1], states)
    _assert_close(h_seq, y, 1e-5)
    _assert_close(stream.states[0], final[0], 1e-5)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", ["lstm", "gru", "rnn_tanh"])
def test_reset(name, path, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", path)
    layer = _layer(name)
    x, states = _inputs(layer, 2, True)
    stream, first = _stream(layer, x, None)
    stream.reset()                                            # zeros again
    assert all(not s.any() for s in stream.states)
    again = np.stack([stream.step(x[:, t]) for t in range(T)], axis=1)
    np.testing.assert_array_equal(again, first)
    stream.reset(states)                                      # given states, copied
    np.testing.assert_array_equal(stream.states[0], states[0])
    states[0][:] = 0.0
    assert stream.states[0].any()
    with pytest.raises(ValueError, match=r"expected state h of shape \(2, 7\), got \(3, 7\)"):
        stream.reset([np.zeros((3, H))] * len(states))
    assert stream.states[0].any()                             # a refused reset changes nothing


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before", "rnn_relu"])
def test_weights_are_read_when_made_and_by_reload_weights(name, path, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", path)
    layer = _layer(name)
    x, _ = _inputs(layer, 2, False)
    stream = layer.streamer(2)
    before = stream.step(x[:, 0])
    layer.set_weights([2.0 * w for w in layer.get_weights()])
    stream.reset()
    np.testing.assert_array_equal(stream.step(x[:, 0]), before)   # the weights it was made with
    stream.reset()
    stream.reload_weights()
    after = stream.step(x[:, 0])
    y, *_ = layer.forward(x[:, :1])
    _assert_close(after, y[:, 0], 1e-5)
    assert np.abs(after - before).max() > 1e-3


def test_step_returns_a_copy_and_streams_are_independent():
    layer = _layer("lstm")
    x, _ = _inputs(layer, 1, False)
    a, b = layer.streamer(), layer.streamer()
    h_a = a.step(x[:, 0])
    kept = h_a.copy()
    a.step(x[:, 1])
    np.testing.assert_array_equal(h_a, kept)                  # not overwritten by later steps
    h_a.fill(7.0)                                             # nor does the caller's array
    np.testing.assert_array_equal(b.step(x[:, 0]), kept)      # reach into any stream
    s = a.states
    s[0].fill(3.0)
    assert not np.array_equal(a.states[0], s[0])              # states are copies
    y, *_ = layer.forward(x[:, :2])
    _assert_close(a.states[0], y[:, 1], 1e-5)


def test_step_accepts_other_dtypes_and_layouts():
    layer = _layer("gru")
    x, _ = _inputs(layer, 3, False)
    ref = layer.streamer(3).step(x[:, 0])
    x64_f = np.asfortranarray(x[:, 0].astype(np.float64))     # float64, not C-contiguous
    np.testing.assert_allclose(layer.streamer(3).step(x64_f), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(layer.streamer(3).step(x[:, 0].tolist()), ref, rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize("bad, message", [
    (np.ones((1, 4), np.float32), r"lstm: expected a streamed input x_t of shape \(1, 5\) "
                                  r"\(batch, features\), got \(1, 4\)"),
    (np.ones((2, 5), np.float32), r"got \(2, 5\)"),
    (np.ones((1, 1, 5), np.float32), r"got \(1, 1, 5\)"),
    (np.ones(5, np.float32), r"of shape \(1, 5\) \(batch, features\), got \(5,\)"),
])
def test_bad_input_shape_names_layer_expected_and_got(bad, message):
    stream = _layer("lstm").streamer()
    with pytest.raises(ValueError, match=message):
        stream.step(bad)


def test_bad_arguments():
    layer = _layer("lstm")
    with pytest.raises(TypeError, match="lstm: expected a numeric input array"):
        layer.streamer().step(np.array([["a"] * 5]))
    with pytest.raises(ValueError, match=r"lstm: expected 2 state array\(s\) \(h, c\), got 1"):
        layer.streamer(initial_state=[np.zeros((1, H))])
    with pytest.raises(ValueError, match=r"lstm: expected state c of shape \(1, 7\), "
                                         r"got \(2, 7\)"):
        layer.streamer(initial_state=[np.zeros((1, H)), np.zeros((2, H))])
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        layer.streamer(batch_size=0)
    with pytest.raises(ValueError, match="gru: build the layer before streaming"):
        GRU(4).streamer()
    dense = Dense(3)
    dense.build((None, 4))
    with pytest.raises(TypeError, match="streaming works for LSTM, GRU and SimpleRNN"):
        Streamer(dense)


def test_streaming_leaves_the_layer_without_state():
    layer = _layer("lstm", stateful=True)
    x, _ = _inputs(layer, 1, False)
    stream = layer.streamer()
    for t in range(T):
        stream.step(x[:, t])
    assert layer.states is None                               # a stateful layer's own states


@pytest.mark.skipif(not dispatch.fast_available(), reason="numba not available")
def test_forced_fast_and_forced_reference(monkeypatch):
    layer = _layer("gru")
    monkeypatch.setenv("RNNKIT_KERNELS", "fast")
    assert layer.streamer().kernels == "fast"
    monkeypatch.setenv("RNNKIT_KERNELS", "reference")
    assert layer.streamer().kernels == "reference"
    assert "reference step" in repr(layer.streamer())


_NO_NUMBA = """
import sys
sys.modules["numba"] = None            # import numba -> ImportError
import os
import numpy as np
from rnnkit.layers import LSTM
layer = LSTM(3, return_sequences=True)
x = np.random.default_rng(0).normal(size=(1, 4, 5)).astype("float32")
y = layer.forward(x)
stream = layer.streamer()
assert stream.kernels == "reference", stream.kernels
h = np.stack([stream.step(x[:, t]) for t in range(4)], axis=1)
assert np.allclose(h, y, rtol=1e-6, atol=1e-7)
os.environ["RNNKIT_KERNELS"] = "fast"
try:
    layer.streamer()
except ImportError as e:
    assert "RNNKIT_KERNELS=fast" in str(e)
else:
    raise AssertionError("RNNKIT_KERNELS=fast without numba should raise")
print("ok")
"""


def test_reference_step_without_numba():
    import os
    env = {k: v for k, v in os.environ.items() if k != "RNNKIT_KERNELS"}
    out = subprocess.run([sys.executable, "-c", _NO_NUMBA], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# ---- generation steps through streamers ---------------------------------------------------
def _text_by_layer_forward(model, vocab, prime, length, temperature, top_k, top_p, seed):
    """Generation as it was before streamers: ``layer.forward`` of one step per new token, the
    states handed on as ``initial_state`` (``generation._run``), the same sampling."""
    from rnnkit import generation
    from rnnkit.random import make_rng
    parts = generation._char_model_parts(model)
    rng = make_rng(seed)
    ids = np.asarray(vocab.encode(prime), dtype=np.int64)[None, :]
    scores, states = generation._run(parts, ids, [None] * len(parts[1]))
    out = []
    for _ in range(length):
        scores = np.array(scores, dtype=np.float64)
        scores[list(vocab.special_ids)] = -np.inf
        out.append(generation.sample_next(scores, temperature, top_k, top_p, rng))
        scores, states = generation._run(parts, np.array([[out[-1]]]), states)
    return vocab.decode(out)


# The three-layer stack ends in a SimpleRNN with large random weights: its dynamics amplify
# float32 rounding until a draw flips after 60-100 tokens -- between today's fast and reference
# whole-sequence kernels too, at the same tokens. Any two float32 summation orders differ there,
# so that stack is compared in float64, where the same comparison holds for all 120 tokens.
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("cells, dtype", [((LSTM,), "float32"), ((GRU, GRU), "float32"),
                                          ((SimpleRNN, LSTM), "float32"),
                                          ((GRU, LSTM, SimpleRNN), "float64")])
def test_generated_text_is_the_same_as_with_layer_forward(cells, dtype, path, monkeypatch):
    from rnnkit import Sequential, config
    from rnnkit.data import CharVocab
    from rnnkit.generation import generate_text, stream_text
    from rnnkit.layers import Embedding
    monkeypatch.setenv("RNNKIT_KERNELS", path)
    config.set_floatx(dtype)                                   # the conftest fixture resets it
    text = "the quick brown fox jumps over the lazy dog; pack my box with five dozen jugs"
    vocab = CharVocab.from_text(text)
    model = Sequential([Embedding(len(vocab), 8)] + [c(16, return_sequences=True) for c in cells]
                       + [Dense(len(vocab))])
    model.build((None, None))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.8, w.shape) for w in model.get_weights()])
    for seed, kw in [(1, {}), (2, {"temperature": 0.7, "top_p": 0.9}), (3, {"top_k": 5})]:
        opts = dict(temperature=kw.get("temperature", 1.0), top_k=kw.get("top_k"),
                    top_p=kw.get("top_p"), seed=seed)
        expected = _text_by_layer_forward(model, vocab, "the fox", 120, **opts)
        assert len(set(expected)) >= 8                           # a varied sample
        assert generate_text(model, vocab, "the fox", 120, **opts) == expected
        assert "".join(stream_text(model, vocab, "the fox", 120, **opts)) == expected
