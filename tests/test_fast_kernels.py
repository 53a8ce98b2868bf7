"""The compiled fast kernels against the NumPy reference kernels, on the same random inputs.

Kernel level: every option of the contract (masks with fully masked rows and columns, recurrent
dropout, initial states, final-state gradients, dh_trace, GRU reset_after both ways with and
without the recurrent bias, SimpleRNN tanh and relu), float64 and float32. Layer level: the
layers, Bidirectional and go_backwards / return_state / dropout through the dispatcher, fast vs
``RNNKIT_KERNELS=reference``. Plus the dispatcher's rules and the fallback without numba.

Tolerances. float64: both kernels do the same arithmetic in a different order (fused loops,
BLAS blocking), so they agree to a few ulp per operation: 1e-10 relative to the largest value
leaves a factor 1e4 of room and still catches any wrong term. float32: the fast kernel uses a
rational tanh (relative error <= 3.4e-7, ~3 ulp) and its own summation order, the reference
libm's tanh; both are compared with the float64 reference on the same inputs (scaled to the
largest value), and must stay within 1e-5: about T (= 6) steps times a few float32 ulp
(6e-8 each) with margin, while a bug (a wrong gate, a missing mask or dropout term) is O(1e-2).
Timing is never asserted here; see benchmarks/.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from gradcheck import assert_close
from rnnkit.kernels import dispatch
from rnnkit.kernels import gru as ref_gru
from rnnkit.kernels import lstm as ref_lstm
from rnnkit.kernels import simple_rnn as ref_rnn

pytestmark = pytest.mark.skipif(not dispatch.fast_available(),
                                reason="numba (or numpy's bundled OpenBLAS) not available")

T, B, H = 6, 5, 7          # odd H exercises the vector loops' remainders


def _fast(cell):
    from rnnkit.kernels.fast import gru, lstm, simple_rnn
    return {"lstm": (lstm.lstm_forward, lstm.lstm_backward),
            "gru": (gru.gru_forward, gru.gru_backward),
            "simple_rnn": (simple_rnn.simple_rnn_forward, simple_rnn.simple_rnn_backward)}[cell]


def _mask(rng, kind):
    if kind is None:
        return None
    m = rng.random((T, B)) > 0.35
    m[:, 0] = False                    # a sequence that is all padding
    m[:, 1] = True                     # and one without any
    if kind == "left":                 # pre-padding: the first steps of row 2 are padding
        m[:3, 2] = False
    return m


def _inputs(cell, dtype, rng, mask, dropout, state_grads):
    G = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell] * H
    n_states = 2 if cell == "lstm" else 1
    d = dict(
        xw=rng.standard_normal((T, B, G)),
        W=rng.standard_normal((H, G)) * 0.6,
        states=[rng.standard_normal((B, H)) for _ in range(n_states)],
        mask=_mask(rng, mask),
        rec=(rng.random((B, H)) > 0.3) / 0.7 if dropout else None,
        dh_seq=rng.standard_normal((T, B, H)),
        d_states=[rng.standard_normal((B, H)) if state_grads else None
                  for _ in range(n_states)],
        b_hh=rng.standard_normal(G) * 0.5,
    )
    return d


def _cast(d, dtype):
    c = lambda a: None if a is None else np.asarray(a, dtype=dtype)   # noqa: E731
    return {k: ([c(a) for a in v] if isinstance(v, list) else
                (v if k == "mask" else c(v))) for k, v in d.items()}


def _run(kernels, cell, d, trace=False, **opts):
    """Forward then backward; every output and gradient as a flat list (and dh_trace)."""
    fwd, bwd = kernels
    tr = np.empty_like(d["dh_seq"]) if trace else None
    if cell == "lstm":
        h_seq, h_T, c_T, cache = fwd(d["xw"], d["W"], *d["states"], d["mask"], d["rec"])
        grads = bwd(d["dh_seq"], *d["d_states"], cache, tr)
        outs = [h_seq.copy(), h_T, c_T]
    elif cell == "gru":
        b_hh = d["b_hh"] if opts["reset_after"] and opts["bias"] else None
        h_seq, h_T, cache = fwd(d["xw"], d["W"], b_hh, d["states"][0], d["mask"], d["rec"],
                                opts["reset_after"])
        grads = bwd(d["dh_seq"], d["d_states"][0], cache, tr)
        outs = [h_seq.copy(), h_T]
    else:
        from rnnkit import activations
        h_seq, h_T, cache = fwd(d["xw"], d["W"], d["states"][0], d["mask"], d["rec"],
                                activations.get(opts["activation"]))
        grads = bwd(d["dh_seq"], d["d_states"][0], cache, tr)
        outs = [h_seq.copy(), h_T]
    return outs + [g for g in grads if g is not None] + ([tr] if trace else [])


def _compare(cell, dtype, mask, dropout, state_grads, trace=False, seed=0, **opts):
    d64 = _inputs(cell, np.float64, np.random.default_rng(seed), mask, dropout, state_grads)
    expected = _run(dispatch._REFERENCE[cell], cell, _cast(d64, np.float64), trace, **opts)
    got = _run(_fast(cell), cell, _cast(d64, dtype), trace, **opts)
    assert len(got) == len(expected)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    names = ["h_seq", "h_T", "c_T"][:3 if cell == "lstm" else 2] + ["dxw", "dW_hh"]
    for k, (a, e) in enumerate(zip(got, expected)):
        assert a.dtype == dtype
        what = names[k] if k < len(names) else f"output {k}"
        assert_close(a, e, rtol=rtol, atol=0, what=f"{cell} {np.dtype(dtype).name} {what}")


DTYPES = [np.float64, np.float32]
MASKS = [None, "random", "left"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("dropout", [False, True])
def test_lstm_matches_reference(dtype, mask, dropout):
    _compare("lstm", dtype, mask, dropout, state_grads=True)
    _compare("lstm", dtype, mask, dropout, state_grads=False, seed=1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("reset_after,bias", [(True, True), (True, False), (False, False)])
def test_gru_matches_reference(dtype, mask, dropout, reset_after, bias):
    _compare("gru", dtype, mask, dropout, state_grads=True, reset_after=reset_after, bias=bias)
    _compare("gru", dtype, mask, dropout, state_grads=False, seed=1, reset_after=reset_after,
             bias=bias)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_simple_rnn_matches_reference(dtype, mask, dropout, activation):
    _compare("simple_rnn", dtype, mask, dropout, state_grads=True, activation=activation)
    _compare("simple_rnn", dtype, mask, dropout, state_grads=False, seed=1,
             activation=activation)


@pytest.mark.parametrize("cell,opts", [("lstm", {}), ("gru", dict(reset_after=True, bias=True)),
                                       ("gru", dict(reset_after=False, bias=False)),
                                       ("simple_rnn", dict(activation="tanh"))])
def test_dh_trace_matches_reference(cell, opts):
    _compare(cell, np.float64, "random", True, True, trace=True, **opts)


def test_batch_of_one_and_one_step():
    global T, B
    old = T, B
    try:
        T, B = 1, 1
        _compare("lstm", np.float32, None, False, True)
        _compare("gru", np.float32, None, False, True, reset_after=True, bias=True)
        _compare("simple_rnn", np.float32, None, False, True, activation="tanh")
    finally:
        T, B = old


@pytest.mark.parametrize("threads", [2, 3])
def test_batch_split_over_threads_matches_reference(threads, monkeypatch):
    """Row blocks on several threads (here 2 or 3 blocks of a batch of 5) give the same result."""
    from rnnkit.kernels import threads as pool
    from rnnkit.kernels.fast import common

    monkeypatch.setattr(pool, "MIN_ROWS", 1)
    old = common.num_threads()
    common.set_num_threads(threads)
    try:
        for dtype in DTYPES:
            _compare("lstm", dtype, "random", True, True, trace=True)
            _compare("gru", dtype, "random", True, True, reset_after=True, bias=True)
            _compare("gru", dtype, "left", True, True, reset_after=False, bias=False)
            _compare("simple_rnn", dtype, "random", True, True, activation="tanh")
    finally:
        common.set_num_threads(old)


def test_cache_serves_one_backward():
    fwd, bwd = _fast("lstm")
    d = _cast(_inputs("lstm", np.float64, np.random.default_rng(0), None, False, False),
              np.float64)
    *_, cache = fwd(d["xw"], d["W"], *d["states"])
    bwd(d["dh_seq"], None, None, cache)
    with pytest.raises(RuntimeError, match="already used"):
        bwd(d["dh_seq"], None, None, cache)


def test_inputs_are_not_modified():
    fwd, bwd = _fast("gru")
    d = _cast(_inputs("gru", np.float32, np.random.default_rng(0), "random", True, True),
              np.float32)
    before = {k: np.copy(v) for k, v in d.items() if isinstance(v, np.ndarray)}
    _, _, cache = fwd(d["xw"], d["W"], d["b_hh"], d["states"][0], d["mask"], d["rec"])
    bwd(d["dh_seq"], d["d_states"][0], cache)
    for k, v in before.items():
        np.testing.assert_array_equal(d[k], v, err_msg=k)


# ---- through the layers ------------------------------------------------------------------------

def _layer_run(make, x, monkeypatch, mode, training, mask, initial_state, dy_seed=3):
    """Build a layer with ``make()`` (fixed seeds), run forward/backward under ``mode``."""
    from rnnkit.layers.base import clear_session

    monkeypatch.setenv("RNNKIT_KERNELS", mode)
    clear_session()
    layer = make()
    layer.build((None, None, x.shape[-1]))
    wr = np.random.default_rng(5)          # every weight random and non-zero, biases included
    for w in layer.weights:
        w.value[...] = wr.uniform(-0.6, 0.6, size=w.shape)
    y = layer.forward(x, training=training, mask=mask, initial_state=initial_state)
    ys = y if isinstance(y, list) else [y]
    rng = np.random.default_rng(dy_seed)
    dy = [rng.standard_normal(np.shape(t)) for t in ys]
    g = layer.backward(dy if isinstance(y, list) else dy[0])
    gs = g if isinstance(g, list) else [g]
    return [np.copy(t) for t in ys] + gs + [w.grad.copy() for w in layer.weights]


def _layer_cases():
    from rnnkit.layers.gru import GRU
    from rnnkit.layers.lstm import LSTM
    from rnnkit.layers.simple_rnn import SimpleRNN

    common = dict(return_sequences=True, return_state=True, dropout=0.2,
                  recurrent_dropout=0.3, seed=7)
    return {
        "lstm": lambda **kw: LSTM(H, **{**common, **kw}),
        "gru": lambda **kw: GRU(H, **{**common, **kw}),
        "gru_v1": lambda **kw: GRU(H, reset_after=False, **{**common, **kw}),
        "simple_rnn": lambda **kw: SimpleRNN(H, **{**common, **kw}),
        "simple_rnn_relu": lambda **kw: SimpleRNN(H, activation="relu", **{**common, **kw}),
    }


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_v1", "simple_rnn", "simple_rnn_relu"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_layer_fast_equals_reference(name, go_backwards, monkeypatch, float64):
    make = _layer_cases()[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, 4))
    mask = _mask(rng, "random").T
    n_states = 2 if name == "lstm" else 1
    init = [rng.standard_normal((B, H)) for _ in range(n_states)]
    runs = [_layer_run(lambda: make(go_backwards=go_backwards), x, monkeypatch, mode,
                       training=True, mask=mask, initial_state=init)
            for mode in ("reference", "fast")]
    for k, (a, e) in enumerate(zip(runs[1], runs[0])):
        assert_close(a, e, rtol=1e-10, atol=0, what=f"{name} item {k}")


@pytest.mark.parametrize("name", ["lstm", "gru", "simple_rnn"])
def test_bidirectional_fast_equals_reference(name, monkeypatch):
    from rnnkit.layers.bidirectional import Bidirectional

    make = _layer_cases()[name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, 4)).astype(np.float32)
    mask = _mask(rng, "left").T
    runs = [_layer_run(lambda: Bidirectional(make(return_state=False)), x, monkeypatch, mode,
                       training=True, mask=mask, initial_state=None)
            for mode in ("reference", "fast")]
    for k, (a, e) in enumerate(zip(runs[1], runs[0])):
        assert a.dtype == np.float32
        assert_close(a, e, rtol=1e-5, atol=0, what=f"Bidirectional({name}) item {k}")


# ---- dispatch --------------------------------------------------------------------------------

def test_dispatch_rules(monkeypatch):
    from rnnkit.layers.gru import GRU
    from rnnkit.layers.lstm import LSTM
    from rnnkit.layers.simple_rnn import SimpleRNN

    monkeypatch.delenv("RNNKIT_KERNELS", raising=False)
    assert dispatch.kernels_for("lstm", LSTM(3), np.float32) == _fast("lstm")
    assert dispatch.kernels_for("gru", GRU(3), np.float64) == _fast("gru")
    assert dispatch.kernels_for("simple_rnn", SimpleRNN(3, activation="relu"),
                                np.float32) == _fast("simple_rnn")
    # options the fast kernels do not implement fall back to the reference
    ref = dispatch._REFERENCE
    assert dispatch.kernels_for("lstm", LSTM(3, recurrent_activation="hard_sigmoid"),
                                np.float32) == ref["lstm"]
    assert dispatch.kernels_for("simple_rnn", SimpleRNN(3, activation="elu"),
                                np.float32) == ref["simple_rnn"]
    assert dispatch.kernels_for("gru", GRU(3), np.float16) == ref["gru"]
    monkeypatch.setenv("RNNKIT_KERNELS", "reference")
    assert dispatch.kernels_for("lstm", LSTM(3), np.float32) == ref["lstm"]
    monkeypatch.setenv("RNNKIT_KERNELS", "fast")
    assert dispatch.kernels_for("lstm", LSTM(3), np.float32) == _fast("lstm")
    monkeypatch.setenv("RNNKIT_KERNELS", "turbo")
    with pytest.raises(ValueError, match="RNNKIT_KERNELS"):
        dispatch.kernels_for("lstm", LSTM(3), np.float32)


def test_layer_uses_reference_when_forced(monkeypatch):
    """RNNKIT_KERNELS=reference reaches the layer: its cache is the reference kernel's."""
    from rnnkit.layers.lstm import LSTM

    x = np.ones((2, 3, 4), dtype=np.float32)
    for mode, module in (("reference", "rnnkit.kernels.lstm"),
                         ("auto", "rnnkit.kernels.fast.lstm")):
        monkeypatch.setenv("RNNKIT_KERNELS", mode)
        layer = LSTM(3)
        layer.forward(x)
        backward_fn = layer._cache[3][0]
        assert backward_fn.__module__ == module


_NO_NUMBA = """
import sys
sys.modules["numba"] = None            # import numba -> ImportError
import numpy as np
import rnnkit
from rnnkit.kernels import dispatch
from rnnkit.layers.lstm import LSTM
assert not dispatch.fast_available()
layer = LSTM(3, return_sequences=True)
y = layer.forward(np.ones((2, 4, 5), dtype="float32"))
layer.backward(np.ones_like(y))
assert layer._cache[3][0].__module__ == "rnnkit.kernels.lstm"
import os
os.environ["RNNKIT_KERNELS"] = "fast"
try:
    LSTM(3).forward(np.ones((2, 4, 5), dtype="float32"))
except ImportError as e:
    assert "RNNKIT_KERNELS=fast" in str(e)
else:
    raise AssertionError("RNNKIT_KERNELS=fast without numba should raise")
print("ok")
"""


def test_import_and_fallback_without_numba():
    env = {k: v for k, v in os.environ.items() if k != "RNNKIT_KERNELS"}
    out = subprocess.run([sys.executable, "-c", _NO_NUMBA], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


_FORK = """
import os
import numpy as np
from rnnkit.kernels import threads
from rnnkit.kernels.fast import common
from rnnkit.layers.lstm import LSTM
threads.MIN_ROWS = 1                     # the pass below uses the thread pool
common.set_num_threads(2)
layer = LSTM(8)
x = np.ones((8, 5, 3), dtype="float32")
y = layer.forward(x)
pid = os.fork()
if pid == 0:                             # the child has no pool threads: a fresh pool is made
    ok = np.allclose(layer.forward(x), y)
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_runs_split_passes():
    out = subprocess.run([sys.executable, "-c", _FORK], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


# ---- building blocks ---------------------------------------------------------------------------

@pytest.mark.parametrize("small_mnk", [0, 3000, 20000, 10 ** 6])
@pytest.mark.parametrize("m,n,k", [(1, 40, 9), (13, 200, 17), (37, 96, 70), (5, 300, 64)])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_gemm_rows_tiles_cover_the_product(small_mnk, m, n, k, beta):
    """Every tiling (rows only, rows and columns, one call) gives A B + beta C, on operands
    with offsets and leading dimensions larger than the block."""
    from rnnkit.kernels.fast._lowlevel import gemm_rows

    rng = np.random.default_rng(m + n + k)
    a = rng.standard_normal((m + 2, k + 3))          # A = a[1:, 2:2 + k]
    b = rng.standard_normal((k, n + 5))              # B = b[:, 1:1 + n]
    c = rng.standard_normal((m + 1, n + 4))          # C = c[1:, 3:3 + n]
    expected = c.copy()
    expected[1:, 3:3 + n] = a[1:1 + m, 2:2 + k] @ b[:, 1:1 + n] + beta * c[1:, 3:3 + n]
    gemm_rows(m, n, k, a, (k + 3) + 2, k + 3, b, 1, n + 5, beta, c, (n + 4) + 3, n + 4,
              small_mnk)
    np.testing.assert_allclose(c, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("m,k,n,b0", [(1, 9, 40, 0), (3, 70, 96, 1), (2, 3, 5, 1)])
def test_vecmat_add(m, k, n, b0):
    """c[b] += a[b] @ W for the rows b0.. only (k not a multiple of 4 checks the tail)."""
    from rnnkit.kernels.fast._lowlevel import vecmat_add

    rng = np.random.default_rng(k)
    a, W, c = rng.standard_normal((m, k)), rng.standard_normal((k, n)), rng.standard_normal((m, n))
    expected = c.copy()
    expected[b0:] += a[b0:] @ W
    vecmat_add(a, W, c, b0, m)
    np.testing.assert_allclose(c, expected, rtol=1e-12, atol=1e-12)


def test_layer_with_tiled_products_matches_reference(monkeypatch):
    """Units large enough that the per-step products are split in row and column tiles."""
    from rnnkit.grad_mode import inference_mode
    from rnnkit.layers.lstm import LSTM

    rng = np.random.default_rng(0)
    x = rng.standard_normal((13, 3, 5))
    runs = {}
    for mode in ("reference", "fast"):
        monkeypatch.setenv("RNNKIT_KERNELS", mode)
        layer = LSTM(160, return_sequences=True, dtype="float64")
        layer.build((None, None, 5))
        wr = np.random.default_rng(5)
        for w in layer.weights:
            w.value[...] = wr.uniform(-0.1, 0.1, size=w.shape)
        y = layer.forward(x)
        dx = layer.backward(np.ones_like(y))
        with inference_mode():
            y_infer = layer.forward(x)
        runs[mode] = [y, dx, y_infer] + [w.grad.copy() for w in layer.weights]
    for k, (a, e) in enumerate(zip(runs["fast"], runs["reference"])):
        assert_close(a, e, rtol=1e-10, atol=0, what=f"LSTM(160) item {k}")


# (mask, batch rows): the one- and two-row paths with every mask; the "left" mask pads row 2,
# so it needs more than two rows
MASK_ROWS = [(m, r) for r in (2, 5) for m in MASKS if not (m == "left" and r < 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("mask,rows", MASK_ROWS)
def test_lstm_forward_x_matches_reference(dtype, mask, dropout, bias, rows, monkeypatch):
    """lstm_forward_x (input projection inside the loop; for two rows one product first)
    against the reference forward on xw = x W_ih + b, then the same backward: outputs, states
    and every gradient."""
    from rnnkit.kernels.fast.lstm import lstm_backward, lstm_forward_x

    monkeypatch.setitem(globals(), "B", rows)
    rng = np.random.default_rng(7)
    d = _inputs("lstm", np.float64, rng, mask, dropout, True)
    I = 5
    x = rng.standard_normal((T, B, I))
    W_ih = rng.standard_normal((I, 4 * H)) * 0.5
    b = rng.standard_normal(4 * H) * 0.5 if bias else None
    d["xw"] = x @ W_ih + (0.0 if b is None else b)
    expected = _run(dispatch._REFERENCE["lstm"], "lstm", _cast(d, np.float64))

    c = _cast(dict(d, x=x, W_ih=W_ih, b=b), dtype)
    h_seq, h_T, c_T, cache = lstm_forward_x(c["x"], c["W_ih"], c["b"], c["W"], *c["states"],
                                            c["mask"], c["rec"])
    grads = lstm_backward(c["dh_seq"], *c["d_states"], cache)
    got = [h_seq.copy(), h_T, c_T] + [g for g in grads if g is not None]
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    for k, (a, e) in enumerate(zip(got, expected)):
        assert a.dtype == dtype
        assert_close(a, e, rtol=rtol, atol=0, what=f"lstm_forward_x item {k}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("reset_after,bias", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("mask,rows", MASK_ROWS)
def test_gru_forward_x_matches_reference(dtype, mask, dropout, reset_after, bias, rows,
                                         monkeypatch):
    """gru_forward_x (input projection inside the loop; for two rows one product first)
    against the reference forward on xw = x W_ih + b_ih, then the same backward."""
    from rnnkit.kernels.fast.gru import gru_backward, gru_forward_x

    monkeypatch.setitem(globals(), "B", rows)
    rng = np.random.default_rng(8)
    d = _inputs("gru", np.float64, rng, mask, dropout, True)
    I = 5
    x = rng.standard_normal((T, B, I))
    W_ih = rng.standard_normal((I, 3 * H)) * 0.5
    b_ih = rng.standard_normal(3 * H) * 0.5
    d["xw"] = x @ W_ih + b_ih
    opts = dict(reset_after=reset_after, bias=bias)
    expected = _run(dispatch._REFERENCE["gru"], "gru", _cast(d, np.float64), **opts)

    c = _cast(dict(d, x=x, W_ih=W_ih, b_ih=b_ih), dtype)
    b_hh = c["b_hh"] if reset_after and bias else None
    h_seq, h_T, cache = gru_forward_x(c["x"], c["W_ih"], c["b_ih"], c["W"], b_hh,
                                      c["states"][0], c["mask"], c["rec"], reset_after)
    grads = gru_backward(c["dh_seq"], c["d_states"][0], cache)
    got = [h_seq.copy(), h_T] + [g for g in grads if g is not None]
    assert len(got) == len(expected)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    for k, (a, e) in enumerate(zip(got, expected)):
        assert a.dtype == dtype
        assert_close(a, e, rtol=rtol, atol=0, what=f"gru_forward_x item {k}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("mask,rows", MASK_ROWS)
def test_simple_rnn_forward_x_matches_reference(dtype, mask, dropout, activation, rows,
                                                monkeypatch):
    """simple_rnn_forward_x against the reference forward on xw = x W_ih + b, then the same
    backward."""
    from rnnkit import activations
    from rnnkit.kernels.fast.simple_rnn import simple_rnn_backward, simple_rnn_forward_x

    monkeypatch.setitem(globals(), "B", rows)
    rng = np.random.default_rng(9)
    d = _inputs("simple_rnn", np.float64, rng, mask, dropout, True)
    I = 5
    x = rng.standard_normal((T, B, I))
    W_ih = rng.standard_normal((I, H)) * 0.5
    b = rng.standard_normal(H) * 0.5
    d["xw"] = x @ W_ih + b
    expected = _run(dispatch._REFERENCE["simple_rnn"], "simple_rnn", _cast(d, np.float64),
                    activation=activation)

    c = _cast(dict(d, x=x, W_ih=W_ih, b=b), dtype)
    h_seq, h_T, cache = simple_rnn_forward_x(c["x"], c["W_ih"], c["b"], c["W"], c["states"][0],
                                             c["mask"], c["rec"], activations.get(activation))
    grads = simple_rnn_backward(c["dh_seq"], c["d_states"][0], cache)
    got = [h_seq.copy(), h_T] + [g for g in grads if g is not None]
    assert len(got) == len(expected)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    for k, (a, e) in enumerate(zip(got, expected)):
        assert a.dtype == dtype
        assert_close(a, e, rtol=rtol, atol=0, what=f"simple_rnn_forward_x item {k}")


@pytest.mark.parametrize("threads", [2, 3])
def test_forward_x_batch_split_over_threads(threads, monkeypatch):
    """The *_forward_x kernels with the batch of 5 in 2 or 3 row blocks on several threads."""
    from rnnkit.kernels import threads as pool
    from rnnkit.kernels.fast import common

    monkeypatch.setattr(pool, "MIN_ROWS", 1)
    old = common.num_threads()
    common.set_num_threads(threads)
    try:
        for dtype in DTYPES:
            test_lstm_forward_x_matches_reference(dtype, "random", True, True, 5, monkeypatch)
            test_gru_forward_x_matches_reference(dtype, "left", True, True, True, 5, monkeypatch)
            test_gru_forward_x_matches_reference(dtype, "random", True, False, False, 5,
                                                 monkeypatch)
            test_simple_rnn_forward_x_matches_reference(dtype, "random", True, "relu", 5,
                                                        monkeypatch)
    finally:
        common.set_num_threads(old)
