"""The forward-only path (``inference_mode()``): fast no-cache kernels against the reference.

Under :func:`rnnkit.grad_mode.inference_mode` the recurrent layers call ``lstm_infer`` /
``gru_infer`` / ``simple_rnn_infer`` (no cache, bias added inside the loop, outputs written
batch-first). Every option goes through the layers here and is compared with the plain
``forward`` of the NumPy reference (``RNNKIT_KERNELS=reference``, float64): masks with fully
masked rows, go_backwards, initial states, return_state, return_sequences both ways,
zero_output_for_mask, GRU reset_after both ways, use_bias False, SimpleRNN tanh and relu,
Bidirectional, a batch of one (the hand-written one-row product) and batches split over
threads. Tolerances as in test_fast_kernels.py: float64 1e-10 relative to the largest value,
float32 1e-5 against the float64 reference. Plus: what inference_mode promises (no backward
afterwards, stateful states carried, the reference fallback, Model.predict uses it).
"""

import numpy as np
import pytest

from gradcheck import assert_close
from rnnkit.grad_mode import inference_mode, is_inference_mode
from rnnkit.kernels import dispatch

pytestmark = pytest.mark.skipif(not dispatch.fast_available(),
                                reason="numba (or numpy's bundled OpenBLAS) not available")

T, H, I = 6, 7, 4          # odd H exercises the vector loops' remainders


def _make(name, **kw):
    from rnnkit.layers.gru import GRU
    from rnnkit.layers.lstm import LSTM
    from rnnkit.layers.simple_rnn import SimpleRNN

    cls, extra = {
        "lstm": (LSTM, {}), "gru": (GRU, {}), "gru_v1": (GRU, dict(reset_after=False)),
        "simple_rnn": (SimpleRNN, {}), "simple_rnn_relu": (SimpleRNN, dict(activation="relu")),
    }[name]
    return cls(H, **{**extra, **kw})


def _random_weights(layer, dtype):
    layer.build((None, None, I))
    wr = np.random.default_rng(5)          # every weight random and non-zero, biases included
    for w in layer.weights:
        w.value[...] = wr.uniform(-0.6, 0.6, size=w.shape).astype(w.value.dtype)
    return layer


def _mask(rng, B):
    m = rng.random((B, T)) > 0.35
    m[0] = False                           # a sequence that is all padding
    if B > 1:
        m[1] = True                        # and one without any
    if B > 2:
        m[2, :3] = False                   # pre-padding
    return m


def _run(monkeypatch, mode, name, x, mask, init, no_cache, dtype, wrap=None, **kw):
    """Outputs of one forward call as a list of arrays."""
    from rnnkit import config
    from rnnkit.layers.base import clear_session

    monkeypatch.setenv("RNNKIT_KERNELS", mode)
    old = config.floatx()
    config.set_floatx(np.dtype(dtype).name)
    try:
        clear_session()
        layer = _make(name, **kw)
        if wrap is not None:
            layer = wrap(layer)
        _random_weights(layer, dtype)
        if no_cache:
            with inference_mode():
                y = layer.forward(x.astype(dtype), mask=mask, initial_state=init)
        else:
            y = layer.forward(x.astype(dtype), mask=mask, initial_state=init)
    finally:
        config.set_floatx(old)
    return [np.copy(a) for a in (y if isinstance(y, list) else [y])]


def _check(monkeypatch, name, B, dtype, masked=True, with_state=True, wrap=None, **kw):
    rng = np.random.default_rng(B)
    x = rng.standard_normal((B, T, I))
    mask = _mask(rng, B) if masked else None
    n_states = (2 if name == "lstm" else 1) * (2 if wrap is not None else 1)
    init = [rng.standard_normal((B, H)) for _ in range(n_states)] if with_state else None
    expected = _run(monkeypatch, "reference", name, x, mask, init, False, np.float64, wrap,
                    **kw)
    got = _run(monkeypatch, "fast", name, x, mask,
               None if init is None else [s.astype(dtype) for s in init], True, dtype, wrap,
               **kw)
    assert len(got) == len(expected)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    for k, (a, e) in enumerate(zip(got, expected)):
        assert a.dtype == dtype and a.shape == e.shape
        assert_close(a, e, rtol=rtol, atol=0, what=f"{name} B={B} {kw} output {k}")


NAMES = ["lstm", "gru", "gru_v1", "simple_rnn", "simple_rnn_relu"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B", [1, 5])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_no_cache_forward_equals_reference(name, dtype, B, go_backwards, monkeypatch):
    _check(monkeypatch, name, B, dtype, go_backwards=go_backwards, return_sequences=True,
           return_state=True)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("options", [
    dict(return_sequences=False),
    dict(return_sequences=False, return_state=True),
    dict(return_sequences=True, zero_output_for_mask=True),
    dict(return_sequences=True, use_bias=False),
])
def test_no_cache_options(name, options, monkeypatch):
    _check(monkeypatch, name, 5, np.float64, **options)
    _check(monkeypatch, name, 3, np.float32, masked=False, with_state=False, **options)


@pytest.mark.parametrize("name", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_no_cache_bidirectional(name, merge_mode, monkeypatch):
    from rnnkit.layers.bidirectional import Bidirectional

    for B in (1, 5):
        _check(monkeypatch, name, B, np.float64, with_state=True,
               wrap=lambda layer: Bidirectional(layer, merge_mode=merge_mode),
               return_sequences=True)


@pytest.mark.parametrize("threads", [2, 3])
def test_no_cache_batch_split_over_threads(threads, monkeypatch):
    """Row blocks on several threads (1-row blocks take the hand-written product)."""
    from rnnkit.kernels import threads as pool
    from rnnkit.kernels.fast import common

    monkeypatch.setattr(pool, "MIN_ROWS", 1)
    old = common.num_threads()
    common.set_num_threads(threads)
    try:
        for name in NAMES:
            _check(monkeypatch, name, 3, np.float64, return_sequences=True, return_state=True)
            _check(monkeypatch, name, 7, np.float32, return_sequences=True)
    finally:
        common.set_num_threads(old)


def test_no_cache_is_not_the_cached_path(monkeypatch):
    """The fast inference kernel really runs (and the cached kernel does not) under the mode."""
    from rnnkit.kernels.fast import lstm as fast_lstm

    calls = []
    real = fast_lstm.lstm_infer
    monkeypatch.setattr(dispatch, "_fast", None)          # reload with the spy in place
    monkeypatch.setattr(fast_lstm, "lstm_infer", lambda *a, **k: calls.append(1) or real(*a, **k))
    _check(monkeypatch, "lstm", 4, np.float64, return_sequences=True)
    assert calls == [1]
    monkeypatch.setattr(dispatch, "_fast", None)


@pytest.mark.parametrize("mode", ["fast", "reference"])
def test_backward_after_no_cache_forward_raises(mode, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", mode)
    layer = _random_weights(_make("lstm", return_sequences=True), np.float32)
    x = np.ones((2, T, I), dtype=np.float32)
    with inference_mode():
        y = layer.forward(x)
    with pytest.raises(RuntimeError, match="inference_mode"):
        layer.backward(np.ones_like(y))
    layer.forward(x)                                       # outside the mode: backward works
    assert layer.backward(np.ones_like(y)).shape == x.shape


def test_reference_and_unsupported_activation_fall_back(monkeypatch):
    """Without a fast kernel the cached forward runs and its cache is dropped: same outputs."""
    for name, kw in (("lstm", {}), ("lstm", dict(recurrent_activation="hard_sigmoid")),
                     ("simple_rnn", dict(activation="elu"))):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((3, T, I))
        mask = _mask(rng, 3)
        kw = dict(kw, return_sequences=True, return_state=True, zero_output_for_mask=True)
        for mode in ("reference", "fast"):
            plain = _run(monkeypatch, mode, name, x, mask, None, False, np.float64, **kw)
            infer = _run(monkeypatch, mode, name, x, mask, None, True, np.float64, **kw)
            for a, e in zip(infer, plain):
                assert_close(a, e, rtol=1e-10, atol=0, what=f"{name} {kw} {mode}")


def test_stateful_layer_carries_states_in_inference_mode():
    layer = _random_weights(_make("gru", stateful=True, return_sequences=True), np.float32)
    x = np.random.default_rng(0).standard_normal((2, 2 * T, I)).astype(np.float32)
    whole = layer.forward(x)
    layer.reset_states()
    with inference_mode():
        first = layer.forward(x[:, :T])
        second = layer.forward(x[:, T:])
    assert_close(np.concatenate([first, second], axis=1), whole, rtol=1e-5, atol=0,
                 what="stateful halves")


def test_inference_mode_flag_nests_and_restores():
    assert not is_inference_mode()
    with inference_mode():
        assert is_inference_mode()
        with inference_mode(False):
            assert not is_inference_mode()
        assert is_inference_mode()
    assert not is_inference_mode()
    with pytest.raises(KeyError):
        with inference_mode():
            raise KeyError("x")
    assert not is_inference_mode()


def test_model_predict_runs_without_cache():
    from rnnkit import Sequential, layers

    model = Sequential([layers.Input((None, I)), layers.LSTM(H), layers.Dense(2)])
    x = np.random.default_rng(0).standard_normal((3, T, I)).astype(np.float32)
    y = model.predict(x, verbose=0)
    lstm = model.layers[0]
    with pytest.raises(RuntimeError, match="inference_mode"):
        lstm.backward(np.ones((3, H), dtype=np.float32))
    np.testing.assert_allclose(y, model.forward(x), rtol=1e-5, atol=1e-6)
