"""rnnkit's thread policy: results do not depend on the number of threads, and no more threads
compute than asked.

* Every cell (LSTM, GRU with reset_after both ways, SimpleRNN tanh and relu) and option (masks,
  go_backwards, return_state with initial states, stateful, Bidirectional, dropout), the fast
  and the reference kernels, float64 and float32: the forward outputs, dx, the initial-state
  gradients and every weight gradient at 2 and 3 threads equal those at 1 thread (float64 to
  1e-12, float32 to 1e-6, relative to the largest value). The split thresholds are lowered so
  that at these small shapes every split happens (batch blocks, product blocks); the test
  checks that the work really ran on that many threads.
* The policy: during a step (sampled from inside the compiled passes and the parallel
  regions) at most N threads compute, the pool adds at most N - 1 threads, numpy's OpenBLAS
  runs at one thread (read through the compiled code's own getter) and is restored after.
* ``rnnkit.config.set_num_threads`` / ``RNNKIT_NUM_THREADS`` / the ``fast.common`` alias, and
  a ValueError for a bad value.
"""

import threading

import numpy as np
import pytest

from rnnkit import config
from rnnkit.kernels import dispatch, threads
from rnnkit.layers import GRU, LSTM, Bidirectional, SimpleRNN

B, T, I, H = 12, 5, 6, 7          # 12 rows: blocks of 6 and 4 rows at 2 and 3 threads

CELLS = {
    "lstm": lambda **kw: LSTM(H, **kw),
    "gru_after": lambda **kw: GRU(H, reset_after=True, **kw),
    "gru_before": lambda **kw: GRU(H, reset_after=False, **kw),
    "rnn_tanh": lambda **kw: SimpleRNN(H, activation="tanh", **kw),
    "rnn_relu": lambda **kw: SimpleRNN(H, activation="relu", **kw),
}
OPTIONS = ["plain", "mask", "go_backwards", "return_state", "stateful", "bidirectional",
           "dropout"]
KERNELS = ["fast", "reference"] if dispatch.fast_available() else ["reference"]


@pytest.fixture(autouse=True)
def _thread_policy_reset():
    config.set_num_threads(None)
    yield
    config.set_num_threads(None)
    threads.shutdown()


def _split_everything(monkeypatch):
    """Every split threshold down to one row / column / flop."""
    for name in ("MIN_ROWS", "ALIGN_ROWS", "MIN_FLOPS", "MIN_COLS", "MIN_PROD_ROWS", "MIN_COPY"):
        monkeypatch.setattr(threads, name, 1)


class _Seen(list):
    """(thread id, BLAS threads, active threads) at the start of every parallel part, and
    ``parts``: the number of parts of every parallel region."""

    def __init__(self):
        super().__init__()
        self.parts = []

    def clear(self):
        super().clear()
        self.parts.clear()


def _spy_parallel(monkeypatch):
    """A :class:`_Seen` filled by every parallel region from now on."""
    seen = _Seen()
    original, original_parallel = threads._inside, threads.parallel

    def parallel(fn, parts):
        seen.parts.append(parts)
        return original_parallel(fn, parts)

    def spy(fn):
        inner = original(fn)

        def run(*args):
            seen.append((threading.get_ident(), threads.blas_threads(),
                         threading.active_count()))
            return inner(*args)
        return run

    monkeypatch.setattr(threads, "_inside", spy)
    monkeypatch.setattr(threads, "parallel", parallel)
    return seen


def _mask(rng):
    m = rng.random((B, T)) > 0.3
    m[0] = False                  # a sequence that is all padding
    m[1] = True
    m[2, :3] = False              # pre-padding
    return m


def _run(cell, option, dtype):
    """One fresh layer's forward and backward (twice for stateful): every output, dx, state
    gradient and weight gradient."""
    config.set_floatx(np.dtype(dtype).name)      # the layer computes in floatx
    rng = np.random.default_rng(7)
    kw = dict(return_sequences=option != "go_backwards", seed=3)
    if option == "go_backwards":
        kw["go_backwards"] = True
    if option == "return_state":
        kw["return_state"] = True
    if option == "stateful":
        kw["stateful"] = True
    if option == "dropout":
        kw.update(dropout=0.25, recurrent_dropout=0.3)
    layer = CELLS[cell](**kw)
    if option == "bidirectional":
        layer = Bidirectional(layer)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    layer.build(x.shape)
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
    mask = _mask(rng) if option in ("mask", "bidirectional") else None
    n_states = 2 if cell == "lstm" else 1
    results = []
    for _ in range(2 if option == "stateful" else 1):
        for w in layer.weights:
            w.zero_grad()
        call = dict(training=True, mask=mask)
        if option == "return_state":
            call["initial_state"] = [rng.standard_normal((B, H)).astype(dtype)
                                     for _ in range(n_states)]
        y = layer.forward(x, **call)
        ys = y if isinstance(y, list) else [y]
        dy = [rng.standard_normal(np.shape(v)).astype(dtype) for v in ys]
        grads = layer.backward(dy if isinstance(y, list) else dy[0])
        grads = grads if isinstance(grads, list) else [grads]
        results += [np.array(v) for v in ys + grads] + [w.grad.copy() for w in layer.weights]
    return results


def _assert_same(got, want, tol, what):
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want)):
        scale = max(np.abs(b).max(), 1e-30)
        err = np.abs(a - b).max() / scale
        assert err <= tol, f"{what}: array {k} differs by {err:.3g} (relative) > {tol}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", list(CELLS))
def test_results_equal_at_1_2_and_3_threads(cell, option, kernels, dtype, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", kernels)
    _split_everything(monkeypatch)
    seen = _spy_parallel(monkeypatch)
    config.set_num_threads(1)
    want = _run(cell, option, dtype)
    assert max(seen.parts) == 1                       # one thread: nothing split
    tol = 1e-12 if dtype == np.float64 else 1e-6
    for n in (2, 3):
        config.set_num_threads(n)
        seen.clear()
        got = _run(cell, option, dtype)
        _assert_same(got, want, tol, f"{cell} {option} {kernels} {np.dtype(dtype)} {n} threads")
        assert max(seen.parts) == n                   # the work was split in n parts
        assert len({ident for ident, _, _ in seen}) <= n


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_more_threads_than_asked_and_blas_at_one_thread(n, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", KERNELS[0])
    _split_everything(monkeypatch)
    seen = _spy_parallel(monkeypatch)
    blas_getter = threads.blas_threads
    if dispatch.fast_available():                     # the compiled code's own getter
        from rnnkit.kernels.fast import _lowlevel, lstm as fast_lstm
        blas_getter = _lowlevel.blas_threads
        for name in ("_forward_pass", "_backward_pass"):
            compiled = getattr(fast_lstm, name)

            def sampled(*args, _compiled=compiled):
                seen.append((threading.get_ident(), blas_getter(), threading.active_count()))
                return _compiled(*args)
            monkeypatch.setattr(fast_lstm, name, sampled)
    threads.shutdown()
    threads.set_blas_threads(2)          # as a user's numpy would run on a 2-core machine
    try:
        before = threading.active_count()
        config.set_num_threads(n)
        for _ in range(2):
            _run("lstm", "mask", np.float32)
        assert seen and max(seen.parts) == n
        assert len({ident for ident, _, _ in seen}) <= n
        assert all(blas == 1 for _, blas, _ in seen), "BLAS threads inside a step"
        assert max(active for _, _, active in seen) - before <= n - 1
        pool_threads = [t for t in threading.enumerate() if t.name.startswith("rnnkit")]
        assert len(pool_threads) <= n - 1
        assert blas_getter() == 2                     # the user's setting is back
    finally:
        threads.set_blas_threads(1)


def test_fewer_threads_shrink_the_pool(monkeypatch):
    _split_everything(monkeypatch)
    config.set_num_threads(3)
    _run("rnn_tanh", "plain", np.float64)
    config.set_num_threads(2)
    _run("rnn_tanh", "plain", np.float64)
    assert len([t for t in threading.enumerate() if t.name.startswith("rnnkit")]) <= 1


def test_environment_variable_and_set_num_threads(monkeypatch):
    _split_everything(monkeypatch)
    seen = _spy_parallel(monkeypatch)
    monkeypatch.setenv("RNNKIT_NUM_THREADS", "3")
    assert config.get_num_threads() == 3
    _run("gru_after", "plain", np.float32)
    assert max(seen.parts) == 3
    config.set_num_threads(2)                         # an explicit setting wins
    assert config.get_num_threads() == 2
    seen.clear()
    _run("gru_after", "plain", np.float32)
    assert max(seen.parts) == 2
    config.set_num_threads(None)                      # back to the environment
    assert config.get_num_threads() == 3
    monkeypatch.delenv("RNNKIT_NUM_THREADS")
    assert config.get_num_threads() == config.usable_cores()


def test_fast_common_alias():
    if not dispatch.fast_available():
        pytest.skip("no fast kernels here")
    from rnnkit.kernels.fast import common
    common.set_num_threads(2)
    assert config.get_num_threads() == 2 == common.num_threads()


@pytest.mark.parametrize("bad", [0, -1, "x", 1.5, True, None.__class__])
def test_bad_thread_counts_are_refused(bad, monkeypatch):
    with pytest.raises(ValueError, match="positive integer number of threads"):
        config.set_num_threads(bad)
    if isinstance(bad, (int, str)) and not isinstance(bad, bool):
        monkeypatch.setenv("RNNKIT_NUM_THREADS", str(bad))
        with pytest.raises(ValueError, match="RNNKIT_NUM_THREADS"):
            config.get_num_threads()
        with pytest.raises(ValueError, match="RNNKIT_NUM_THREADS"):
            LSTM(3)(np.ones((8, 2, 3), dtype=np.float32), training=True)


def test_usable_cores_respects_affinity_and_quota(monkeypatch):
    import os
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(config, "_usable", None)
    monkeypatch.setattr(config, "_cgroup_cpus", lambda: None)  # no quota: the affinity
    assert config.usable_cores() == affinity
    monkeypatch.setattr(config, "_usable", None)
    monkeypatch.setattr(config, "_cgroup_cpus", lambda: affinity + 7)   # a larger quota
    assert config.usable_cores() == affinity
    monkeypatch.setattr(config, "_usable", None)
    monkeypatch.setattr(config, "_cgroup_cpus", lambda: 1)    # a one-CPU container quota
    assert config.usable_cores() == 1
    monkeypatch.setattr(config, "_usable", None)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_products_equal_at_1_2_and_3_threads(dtype, monkeypatch):
    from rnnkit.layers import Dense
    _split_everything(monkeypatch)
    seen = _spy_parallel(monkeypatch)
    config.set_floatx(np.dtype(dtype).name)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    dy = rng.standard_normal((B, T, H)).astype(dtype)

    def run(n):
        config.set_num_threads(n)
        layer = Dense(H, activation="tanh")
        layer.build(x.shape)
        layer.set_weights([np.random.default_rng(2).standard_normal(w.shape)
                           for w in layer.weights])
        y = layer.forward(x)
        dx = layer.backward(dy)
        return [y, dx] + [w.grad.copy() for w in layer.weights]

    want = run(1)
    for n in (2, 3):
        seen.clear()
        _assert_same(run(n), want, 1e-12 if dtype == np.float64 else 1e-6, f"Dense {n}")
        assert max(seen.parts) == n


def test_block_edges():
    e = threads.block_edges
    assert e(1, 2) == [0, 1]
    assert e(2, 2) == [0, 1, 2] and e(3, 4) == [0, 1, 2, 3]     # single rows: one per thread
    assert e(8, 2) == [0, 8] and e(15, 2) == [0, 15]            # under 8 rows a block: no split
    assert e(16, 2) == [0, 8, 16] and e(20, 2) == [0, 12, 20]   # on multiples of 4
    assert e(32, 3) == [0, 12, 20, 32] and e(64, 2) == [0, 32, 64]
    for B in range(1, 70):
        for n in (1, 2, 3, 8):
            edges = e(B, n)
            assert edges[0] == 0 and edges[-1] == B and len(edges) - 1 <= n
            assert all(a < b for a, b in zip(edges, edges[1:]))


@pytest.mark.parametrize("n", [1, 2])
def test_train_on_batch_and_predict_keep_to_the_setting(n, monkeypatch):
    """Through the public API: a model's training step and prediction run their parallel
    parts on at most n threads with BLAS at one thread, and give the same weights."""
    import rnnkit
    from rnnkit.layers import Dense, Input

    _split_everything(monkeypatch)
    config.set_floatx("float64")
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((B, T, I)), rng.standard_normal((B, 3))

    def train(threads_n):
        config.set_num_threads(threads_n)
        rnnkit.random.set_random_seed(0)
        model = rnnkit.Sequential([Input((T, I)), LSTM(H), Dense(3)])
        model.compile(optimizer="sgd", loss="mse")
        for _ in range(2):
            model.train_on_batch(x, y)
        return [model.predict_on_batch(x)] + model.get_weights()

    want = train(1)
    seen = _spy_parallel(monkeypatch)
    threads.shutdown()
    before = threading.active_count()
    got = train(n)
    _assert_same(got, want, 1e-12, f"train_on_batch at {n} threads")
    assert max(seen.parts) == n
    assert all(blas == 1 for _, blas, _ in seen)
    assert max((active for _, _, active in seen), default=before) - before <= n - 1
