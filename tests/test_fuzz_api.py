"""Fuzzing the public array API (issue 12): forward/backward, fit/predict and streaming with
random shapes, dtypes, NaN/inf, empty and zero-length inputs, for both kernel sets.

Every call either works (and returns the documented shapes) or raises a ValueError/TypeError
that names the layer (or the calling method); the process never dies, which the compiled
kernels once did on a wrong ``dy`` (SIGSEGV). Bounded: derandomized, a few dozen examples per
test, small shapes (well under a minute in all).
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit import layers

# RNNKIT_FUZZ_EXAMPLES=2000 for a longer hunt (the default keeps the suite fast)
FUZZ = settings(max_examples=int(os.environ.get("RNNKIT_FUZZ_EXAMPLES", "30")), deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
CELLS = [layers.LSTM, layers.GRU, layers.SimpleRNN]
DTYPES = ["float32", "float64", "float16", "int32", "bool", "complex64", "str"]
SPECIAL = [0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e30]


@pytest.fixture(params=["reference", "fast"])
def kernels(request, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", request.param)
    return request.param


def _array(data, shape, dtype):
    """An array of ``shape`` and ``dtype`` with ordinary and special (NaN, inf) values."""
    n = int(np.prod(shape)) if len(shape) else 1
    vals = data.draw(st.lists(st.sampled_from(SPECIAL) | st.floats(-3, 3), min_size=n,
                              max_size=n))
    a = np.asarray(vals, dtype=np.float64).reshape(shape)
    if dtype == "str":
        return a.astype(str)
    with np.errstate(invalid="ignore", over="ignore"):
        return a.astype(dtype) if dtype not in ("int32", "bool") else \
            np.nan_to_num(a, posinf=1, neginf=-1).astype(dtype)


def _shape(data, near, max_rank=4):
    """Usually ``near``; sometimes one axis changed, or another rank."""
    how = data.draw(st.sampled_from(["same", "same", "axis", "rank"]))
    if how == "same":
        return tuple(near)
    if how == "axis" and near:
        k = data.draw(st.integers(0, len(near) - 1))
        return tuple(near[:k]) + (data.draw(st.integers(0, 5)),) + tuple(near[k + 1:])
    return tuple(data.draw(st.lists(st.integers(0, 4), min_size=0, max_size=max_rank)))


def _clean(err, *names):
    """A failure must be a ValueError/TypeError naming the layer (or the method)."""
    assert isinstance(err, (ValueError, TypeError)), repr(err)
    assert any(n in str(err) for n in names), str(err)


@FUZZ
@given(data=st.data())
def test_forward_backward(kernels, data):
    cell = data.draw(st.sampled_from(CELLS))
    H, I = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    B, T = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 4))
    kw = dict(return_sequences=data.draw(st.booleans()), return_state=data.draw(st.booleans()))
    layer = cell(H, name="fz", dtype=data.draw(st.sampled_from(["float32", "float64"])), **kw)
    if data.draw(st.booleans()):
        layer = layers.Bidirectional(layer, name="bi")
    names = ("fz", "bi")
    x = _array(data, _shape(data, (B, T, I)), data.draw(st.sampled_from(DTYPES)))
    n_states = (2 if cell is layers.LSTM else 1) * (2 if isinstance(layer, layers.Bidirectional)
                                                    else 1)
    init = None
    if data.draw(st.booleans()):
        init = [_array(data, _shape(data, (B, H), 3), data.draw(st.sampled_from(DTYPES[:3])))
                for _ in range(n_states)]
    mask = None
    if data.draw(st.booleans()):
        mask = _array(data, _shape(data, (B, T), 3), data.draw(st.sampled_from(DTYPES)))
    try:
        y = layer.forward(x, mask=mask, initial_state=init)
    except Exception as e:  # noqa: BLE001 - the point: which exception
        _clean(e, *names)
        return
    outs = y if isinstance(y, list) else [y]
    dys = [_array(data, _shape(data, np.shape(o)), data.draw(st.sampled_from(DTYPES[:4])))
           for o in outs]
    try:
        dx = layer.backward(dys if isinstance(y, list) else dys[0])
    except Exception as e:  # noqa: BLE001
        _clean(e, *names)
        return
    dx = dx[0] if isinstance(dx, list) else dx
    assert dx.shape == np.shape(x)


@FUZZ
@given(data=st.data())
def test_fit_and_predict(kernels, data):
    rnnkit.random.set_random_seed(0)
    cell = data.draw(st.sampled_from(CELLS))
    model = rnnkit.Sequential([layers.Input((None, 2)), cell(3, name="fz"),
                               layers.Dense(1, name="out")])
    model.compile(optimizer=data.draw(st.sampled_from(["adam", "sgd"])), loss="mse",
                  skip_nonfinite=data.draw(st.booleans()))
    N, T = data.draw(st.integers(0, 4)), data.draw(st.integers(0, 3))
    x = _array(data, _shape(data, (N, T, 2)), data.draw(st.sampled_from(DTYPES)))
    y = _array(data, _shape(data, (N, 1)), data.draw(st.sampled_from(DTYPES[:4])))
    try:
        model.fit(x, y, batch_size=data.draw(st.integers(1, 3)), epochs=1, verbose=0)
    except Exception as e:  # noqa: BLE001
        _clean(e, "fz", "out", "fit", "mean_squared_error", "sequential", "input")
    try:
        p = model.predict(x, verbose=0)
    except Exception as e:  # noqa: BLE001
        _clean(e, "fz", "out", "predict", "sequential", "input")
        return
    assert p.shape == (len(x), 1)


@FUZZ
@given(data=st.data())
def test_streaming(kernels, data):
    cell = data.draw(st.sampled_from(CELLS))
    layer = cell(3, name="fz")
    layer.build((None, None, 2))
    B = data.draw(st.integers(1, 3))
    stream = layer.streamer(batch_size=B)
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):
            states = [_array(data, _shape(data, (B, 3), 3), data.draw(st.sampled_from(DTYPES)))
                      for _ in layer.state_names]
            try:
                stream.reset(states)
            except Exception as e:  # noqa: BLE001
                _clean(e, "fz")
        x_t = _array(data, _shape(data, (B, 2), 3), data.draw(st.sampled_from(DTYPES)))
        try:
            h = stream.step(x_t)
        except Exception as e:  # noqa: BLE001
            _clean(e, "fz")
            continue
        assert h.shape == (B, 3)
