"""The compiled LayerNormLSTM kernel (:mod:`rnnkit.kernels.fast.ln_lstm`) against the NumPy
reference (:mod:`rnnkit.kernels.ln_lstm`), on the same random inputs.

Kernel level: every option of the contract (masks with an all-padded row and pre-padding,
zoneout by drawn masks and by its expectation, recurrent dropout, initial states, final-state
gradients, the dh trace), batches of 1 and odd sizes, one step, float64 (to 1e-12 relative to
the largest value: the same arithmetic in another order) and float32 (to 1e-5 against the
float64 reference: a rational tanh of ~3 ulp and float32 sums over T = 6 steps; a wrong term is
O(1e-2)). Layer level through the dispatcher: go_backwards, dropout, zoneout, return_state,
fast vs ``RNNKIT_KERNELS=reference``; the results at 1, 2 and 3 threads; which kernel runs
(fallbacks; predict and the streamer run the forward-only pass); the fast kernel refuses the
activations it does not implement.
"""

import numpy as np
import pytest

from gradcheck import assert_close
from rnnkit import config
from rnnkit.grad_mode import inference_mode
from rnnkit.kernels import dispatch, threads
from rnnkit.kernels import ln_lstm as ref
from rnnkit.layers import LayerNormLSTM
from rnnkit.random import make_rng

pytestmark = pytest.mark.skipif(not dispatch.fast_available(),
                                reason="numba (or numpy's bundled OpenBLAS) not available")


def _fast():
    from rnnkit.kernels.fast import ln_lstm
    return ln_lstm


def _inputs(T, B, H, rng, mask=None, zoneout=None, dropout=False, state_grads=True):
    G = 4 * H
    m = None
    if mask is not None:
        m = rng.random((T, B)) > 0.35
        m[-1] = True                                 # every row has a step that counts
        if B >= 3:
            m[:, 0] = False                          # a sequence that is all padding
            m[:, 1] = True                           # and one without any
            m[:3, 2] = False                         # pre-padding
    zh = zc = None
    if zoneout == "drawn":                           # training: 0/1 keep-masks
        zh = (rng.random((T, B, H)) < 0.3).astype(float)
        zc = (rng.random((T, B, H)) < 0.2).astype(float)
    elif zoneout == "expected":                      # inference: the constant p
        zh, zc = np.full((T, 1, 1), 0.3), np.full((T, 1, 1), 0.2)
    return dict(
        xn=rng.standard_normal((T, B, G)),
        W_hh=rng.standard_normal((H, G)) * 0.6,
        gamma_h=rng.normal(1.0, 0.4, G), gamma_c=rng.normal(1.0, 0.4, H),
        beta_c=rng.normal(0.0, 0.4, H),
        h0=rng.standard_normal((B, H)), c0=rng.standard_normal((B, H)),
        mask=m, zh=zh, zc=zc,
        rec=(rng.random((B, H)) > 0.3) / 0.7 if dropout else None,
        dh_seq=rng.standard_normal((T, B, H)),
        dh_T=rng.standard_normal((B, H)) if state_grads else None,
        dc_T=rng.standard_normal((B, H)) if state_grads else None,
    )


def _cast(d, dtype):
    return {k: v if v is None or k == "mask" else np.asarray(v, dtype=dtype)
            for k, v in d.items()}


def _run(forward, backward, d, trace=True):
    """Forward then backward: every output and gradient (and the dh trace), in order."""
    h_seq, h_T, c_T, cache = forward(d["xn"], d["W_hh"], d["gamma_h"], d["gamma_c"],
                                     d["beta_c"], d["h0"], d["c0"], d["mask"], d["zh"], d["zc"],
                                     d["rec"], 1e-5)
    tr = np.empty_like(d["dh_seq"]) if trace else None
    grads = backward(d["dh_seq"], d["dh_T"], d["dc_T"], cache, tr)
    return [h_seq.copy(), h_T, c_T] + list(grads) + ([tr] if trace else [])


NAMES = ["h_seq", "h_T", "c_T", "dxn", "dW_hh", "dgamma_h", "dgamma_c", "dbeta_c", "dh0", "dc0",
         "trace"]


def _compare(dtype, T=6, B=5, H=7, seed=0, **opts):
    d64 = _inputs(T, B, H, np.random.default_rng(seed), **opts)
    want = _run(ref.ln_lstm_forward, ref.ln_lstm_backward, _cast(d64, np.float64))
    fast = _fast()
    got = _run(fast.ln_lstm_forward, fast.ln_lstm_backward, _cast(d64, dtype))
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert len(got) == len(want) == len(NAMES)
    for a, e, what in zip(got, want, NAMES):
        assert a.dtype == dtype, what
        assert_close(a, e, rtol=rtol, atol=0, what=f"{np.dtype(dtype).name} {what} {opts}")


DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask", [None, "random"])
@pytest.mark.parametrize("zoneout", [None, "drawn", "expected"])
@pytest.mark.parametrize("dropout", [False, True])
def test_kernel_matches_reference(dtype, mask, zoneout, dropout):
    _compare(dtype, mask=mask, zoneout=zoneout, dropout=dropout)
    _compare(dtype, seed=1, mask=mask, zoneout=zoneout, dropout=dropout, state_grads=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T, B, H, mask", [(1, 1, 4, None), (6, 1, 5, "random"),
                                           (7, 3, 9, "random"), (3, 9, 2, "random")])
def test_batch_of_one_odd_sizes_and_one_step(dtype, T, B, H, mask):
    _compare(dtype, T=T, B=B, H=H, mask=mask, zoneout="drawn", dropout=True)


def test_cache_serves_more_than_one_backward_and_inputs_stay():
    fast = _fast()
    d = _cast(_inputs(5, 4, 3, np.random.default_rng(2), mask="random", zoneout="drawn",
                      dropout=True), np.float64)
    before = {k: v.copy() for k, v in d.items() if v is not None}
    *_, cache = fast.ln_lstm_forward(d["xn"], d["W_hh"], d["gamma_h"], d["gamma_c"],
                                     d["beta_c"], d["h0"], d["c0"], d["mask"], d["zh"], d["zc"],
                                     d["rec"])
    first = fast.ln_lstm_backward(d["dh_seq"], d["dh_T"], d["dc_T"], cache)
    second = fast.ln_lstm_backward(d["dh_seq"], d["dh_T"], d["dc_T"], cache)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    for k, v in before.items():
        np.testing.assert_array_equal(d[k], v, err_msg=k)


def test_fast_kernel_refuses_other_activations_and_bad_gradients():
    from rnnkit import activations
    fast = _fast()
    d = _cast(_inputs(2, 2, 3, np.random.default_rng(3)), np.float64)
    args = (d["xn"], d["W_hh"], d["gamma_h"], d["gamma_c"], d["beta_c"], d["h0"], d["c0"])
    with pytest.raises(ValueError, match="recurrent_activation='sigmoid' only"):
        fast.ln_lstm_forward(*args, recurrent_activation=activations.hard_sigmoid)
    *_, cache = fast.ln_lstm_forward(*args, activation=activations.tanh)
    with pytest.raises(ValueError, match="ln_lstm_backward: expected dh_seq of shape"):
        fast.ln_lstm_backward(np.ones((2, 2, 4)), None, None, cache)


# ---- the layer, through the dispatcher -------------------------------------------------------

def _layer_run(mode, monkeypatch, dtype="float64", B=5, T=6, I=3, H=4, **options):
    """One layer's forward (training) and backward: outputs, dx, state grads, weight grads."""
    monkeypatch.setenv("RNNKIT_KERNELS", mode)
    config.set_floatx(dtype)
    rng = np.random.default_rng(11)
    layer = LayerNormLSTM(H, return_sequences=True, return_state=True, **options)
    layer.build((None, None, I))
    layer.set_weights([rng.normal(0.3, 0.6, w.shape) for w in layer.get_weights()])
    x = rng.standard_normal((B, T, I))
    mask = rng.random((B, T)) > 0.3
    mask[0] = False
    s0 = [rng.standard_normal((B, H)) for _ in range(2)]
    layer._rng = make_rng(5)                         # the same dropout and zoneout draws
    ys = layer.forward(x, training=True, mask=mask, initial_state=s0)
    layer.zero_grad()
    dys = [rng.standard_normal(np.shape(y)) for y in ys]
    grads = layer.backward(dys)
    return [np.array(v) for v in ys + grads] + [w.grad.copy() for w in layer.weights], layer


LAYER_OPTIONS = [dict(), dict(go_backwards=True, zoneout=0.3, cell_zoneout=0.2),
                 dict(dropout=0.2, recurrent_dropout=0.3, zoneout=0.1),
                 dict(use_bias=False, cell_zoneout=0.4)]


@pytest.mark.parametrize("options", LAYER_OPTIONS)
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_layer_fast_equals_reference(options, dtype, tol, monkeypatch):
    want, layer = _layer_run("reference", monkeypatch, dtype, **options)
    assert layer._cache[3][2].__module__ == "rnnkit.kernels.ln_lstm"
    got, layer = _layer_run("fast", monkeypatch, dtype, **options)
    assert layer._cache[3][2].__module__ == "rnnkit.kernels.fast.ln_lstm"
    assert len(got) == len(want)
    for k, (a, e) in enumerate(zip(got, want)):
        assert_close(a, e, rtol=tol, atol=0, what=f"{dtype} {options} array {k}")


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-6)])
def test_layer_results_equal_at_1_2_and_3_threads(dtype, tol, monkeypatch):
    for name in ("MIN_ROWS", "ALIGN_ROWS", "MIN_FLOPS", "MIN_COLS", "MIN_PROD_ROWS", "MIN_COPY"):
        monkeypatch.setattr(threads, name, 1)        # split everything, even at these shapes
    blocks = []
    original = threads.block_edges
    monkeypatch.setattr(threads, "block_edges",
                        lambda B, n=None: blocks.append(original(B, n)) or blocks[-1])
    options = dict(zoneout=0.3, cell_zoneout=0.2, recurrent_dropout=0.2)
    try:
        config.set_num_threads(1)
        want, _ = _layer_run("fast", monkeypatch, dtype, B=7, **options)
        for n in (2, 3):
            config.set_num_threads(n)
            blocks.clear()
            got, _ = _layer_run("fast", monkeypatch, dtype, B=7, **options)
            assert max(len(e) - 1 for e in blocks) == n          # the batch ran in n blocks
            for k, (a, e) in enumerate(zip(got, want)):
                assert_close(a, e, rtol=tol, atol=0, what=f"{n} threads, array {k}")
    finally:
        config.set_num_threads(None)
        threads.shutdown()


def test_dispatch_rules(monkeypatch):
    fast = _fast()
    monkeypatch.delenv("RNNKIT_KERNELS", raising=False)
    pair = (fast.ln_lstm_forward, fast.ln_lstm_backward)
    assert dispatch.kernels_for("ln_lstm", LayerNormLSTM(3), np.float32) == pair
    assert dispatch.kernels_for("ln_lstm", LayerNormLSTM(3), np.float64) == pair
    reference = dispatch._REFERENCE["ln_lstm"]
    assert reference == (ref.ln_lstm_forward, ref.ln_lstm_backward)
    assert dispatch.kernels_for("ln_lstm", LayerNormLSTM(3, activation="relu"),
                                np.float32) == reference
    assert dispatch.kernels_for("ln_lstm", LayerNormLSTM(3, recurrent_activation="hard_sigmoid"),
                                np.float32) == reference
    assert dispatch.kernels_for("ln_lstm", LayerNormLSTM(3), np.float16) == reference
    monkeypatch.setenv("RNNKIT_KERNELS", "reference")
    assert dispatch.kernels_for("ln_lstm", LayerNormLSTM(3), np.float32) == reference
    monkeypatch.setenv("RNNKIT_KERNELS", "fast")
    assert dispatch.kernels_for("ln_lstm", LayerNormLSTM(3), np.float32) == pair


def test_other_activations_fall_back_to_the_reference(monkeypatch, float64):
    want, layer = _layer_run("reference", monkeypatch, activation="relu")
    got, layer = _layer_run("auto", monkeypatch, activation="relu")
    assert layer._cache[3][2].__module__ == "rnnkit.kernels.ln_lstm"
    for a, e in zip(got, want):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("mode, calls", [("auto", ["infer"]), ("reference", [])])
def test_predict_runs_the_fast_forward_only_pass(mode, calls, monkeypatch):
    """Under inference_mode (what predict uses) and in the streamer's steps the layer runs the
    fast forward-only pass (once per call, no cached forward); its output equals the
    reference's."""
    monkeypatch.setenv("RNNKIT_KERNELS", mode)
    seen = []
    table = dispatch._load_fast()
    fwd, bwd, infer, rest = table["ln_lstm"]

    def spy(name, fn):
        def run(*args, **kwargs):
            seen.append(name)
            return fn(*args, **kwargs)
        return run
    monkeypatch.setitem(table, "ln_lstm", (spy("forward", fwd), bwd, spy("infer", infer), rest))
    layer = LayerNormLSTM(4, zoneout=0.2, cell_zoneout=0.1, return_sequences=True, seed=0)
    x = np.random.default_rng(9).standard_normal((3, 5, 2)).astype(np.float32)
    with inference_mode():
        y = layer.forward(x)
    assert seen == calls
    stream = layer.streamer(3)
    steps = np.stack([stream.step(x[:, t]) for t in range(5)], 1)
    assert seen == calls * 6
    monkeypatch.setenv("RNNKIT_KERNELS", "reference")
    want = layer.forward(x)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(steps, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_only_pass_equals_the_cached_forward(dtype):
    fast = _fast()
    d = _cast(_inputs(6, 5, 7, np.random.default_rng(4), mask="random", zoneout="expected",
                      dropout=True), dtype)
    args = (d["xn"], d["W_hh"], d["gamma_h"], d["gamma_c"], d["beta_c"], d["h0"], d["c0"],
            d["mask"], d["zh"], d["zc"], d["rec"])
    want = fast.ln_lstm_forward(*args)[:3]
    got = fast.ln_lstm_infer(*args)
    for a, e in zip(got, want):
        np.testing.assert_array_equal(a, e)
