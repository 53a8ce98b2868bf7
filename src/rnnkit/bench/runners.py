"""The competitors of ``rnnkit bench`` and how they are timed.

Each runner is a zero-argument callable doing one training step, one inference pass or one
streamed sequence; :func:`bench` and :func:`bench_streaming` time them in round-robin (one call
each per round, after warm-up) and return medians. See :mod:`rnnkit.bench` for the table.
"""

import importlib
import os
import statistics
import tempfile
import time

import numpy as np

from ..grad_mode import inference_mode

CELLS = {"lstm": ("lstm", "LSTM"), "gru": ("gru", "GRU"), "rnn": ("simple_rnn", "SimpleRNN"),
         "mingru": ("min_rnn", "MinGRU"), "minlstm": ("min_rnn", "MinLSTM")}
GATES = {"lstm": 4, "gru": 3, "rnn": 1, "mingru": 2, "minlstm": 3}
MIN_CELLS = ("mingru", "minlstm")           # no recurrent product: see train_flops
STREAM_FEATURES, STREAM_UNITS = 64, 128
GEMM_N = 1024


def train_flops(cell, shape):
    """Useful FLOPs of one training step (forward + BPTT with the input gradient).

    Only the matrix products count (one multiply-add = 2 FLOPs); gate nonlinearities, the
    elementwise gate maths and the bias are left out. With G gates (LSTM 4, GRU 3, SimpleRNN 1)::

        forward   x W_ih for all steps      2·B·T·I·GH
                  h_{t-1} W_hh, every step   2·B·T·H·GH
        backward  dW_ih = X^T dxw, dx = dxw W_ih^T        2 · 2·B·T·I·GH
                  dW_hh = H_prev^T dz, dh_prev = dz W_hh^T 2 · 2·B·T·H·GH
        total     3 · 2·B·T·(I+H)·GH   (LSTM: 24·B·T·(I+H)·H)

    The backward is exactly twice the forward (a weight and an input gradient per product).

    MinGRU (G = 2) and MinLSTM (G = 3) have no recurrent product: the projection x W (I, GH)
    alone, 3·2·B·T·I·GH, plus the linear scan ``h_t = a_t h_{t-1} + b_t`` (its elementwise
    work is the whole recurrence, so it counts): 2·B·T·H forward (a multiply and an add),
    3·B·T·H backward (``dh_{t-1} = a_t dh_t + dy_{t-1}``, ``da_t = dh_t h_{t-1}``)::

        total     3·2·B·T·I·GH + 5·B·T·H
    """
    B, T, I, H = shape
    if cell in MIN_CELLS:
        return 3 * 2 * B * T * I * GATES[cell] * H + 5 * B * T * H
    return 3 * 2 * B * T * (I + H) * GATES[cell] * H


def gemm_gflops(repeats, clock=time.perf_counter, n=GEMM_N):
    """Median GFLOP/s of a float32 ``n × n × n`` ``np.matmul`` (2·n³ FLOPs) with numpy's BLAS at
    its current thread count: the GEMM peak the training FLOP rates are compared with."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    out = np.empty((n, n), np.float32)
    ms = _time_round_robin({"gemm": lambda: np.matmul(a, b, out=out)}, max(3, repeats),
                           clock=clock)["gemm"]
    return 2.0 * n ** 3 / (ms * 1e-3) / 1e9


def _rnnkit_layer(cell, units, features, **kw):
    module, name = CELLS[cell]
    cls = getattr(importlib.import_module(f"rnnkit.layers.{module}"), name)
    layer = cls(units, **kw)
    layer.build((None, None, features))
    return layer


def _rnnkit_runner(cell, shape, kernels, x, dy):
    B, T, I, H = shape
    layer = _rnnkit_layer(cell, H, I, return_sequences=True)

    def train():
        os.environ["RNNKIT_KERNELS"] = kernels
        layer.forward(x, training=True)
        layer.backward(dy)

    def infer():
        os.environ["RNNKIT_KERNELS"] = kernels
        with inference_mode():                 # as torch's: no backward follows
            layer.forward(x)

    return train, infer


def _torch_runners(torch, cell, shape, x, dy):
    B, T, I, H = shape
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
    module = cls(I, H, batch_first=True)
    xt = torch.tensor(x, requires_grad=True)
    dyt = torch.tensor(dy)

    def train():
        xt.grad = None
        module.zero_grad(set_to_none=True)
        out, _ = module(xt)
        out.backward(dyt)

    def infer():
        with torch.inference_mode():
            module(xt)

    return module, train, infer


def _onnx_runner(cell, shape, x, notes, threads):
    """onnxruntime running the rnnkit layer exported by :mod:`rnnkit.io.onnx_export`, or None.

    The layer is ``cell`` with ``return_sequences=True`` (as rnnkit's and torch's inference
    rows) in a one-layer Sequential; a note says why when onnx or onnxruntime is missing.
    """
    try:
        import onnx  # noqa: F401 - the exporter needs it
        import onnxruntime as ort
    except ImportError:
        notes.add("onnxruntime or onnx is not installed: no onnxruntime numbers "
                  "(pip install onnxruntime onnx to add them)")
        return None
    from ..io.onnx_export import export_onnx
    from ..layers.input_layer import Input
    from ..models.sequential import Sequential

    B, T, I, H = shape
    try:
        model = Sequential([Input((None, I)), _rnnkit_layer(cell, H, I, return_sequences=True)])
        path = os.path.join(tempfile.mkdtemp(prefix="rnnkit-bench-"), "model.onnx")
        export_onnx(model, path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - report, and time the others
        notes.add(f"onnxruntime present but the ONNX export failed ({e.__class__.__name__}: "
                  f"{str(e).splitlines()[0][:120] if str(e) else ''})")
        return None
    feed = {"input": x}
    return lambda: sess.run(None, feed)


def _rnnkit_stream(cell, kernels, xs):
    """One call = len(xs) single steps at batch 1 through ``layer.streamer()``, the state
    carried inside the stream (:mod:`rnnkit.layers.streaming`), reset to zeros per call.

    The stream picks its step (compiled or NumPy reference) when it is made, so
    ``RNNKIT_KERNELS`` is set to ``kernels`` here, before ``layer.streamer()``.
    """
    layer = _rnnkit_layer(cell, STREAM_UNITS, STREAM_FEATURES)
    os.environ["RNNKIT_KERNELS"] = kernels
    stream = layer.streamer(batch_size=1)

    def stream_call():
        stream.reset()                                        # states back to zeros
        step = stream.step
        for x_t in xs:                                        # x_t: (1, I) -> h_t (1, H)
            step(x_t)

    return stream_call


def _torch_stream(torch, cell, xs):
    cls = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn": torch.nn.RNNCell}[cell]
    module = cls(STREAM_FEATURES, STREAM_UNITS)
    xts = [torch.tensor(x_t) for x_t in xs]

    def stream():
        with torch.inference_mode():
            h = torch.zeros(1, STREAM_UNITS)
            if cell == "lstm":
                state = (h, torch.zeros(1, STREAM_UNITS))
                for x_t in xts:
                    state = module(x_t, state)
            else:
                for x_t in xts:
                    h = module(x_t, h)

    return stream


def _time_round_robin(runners, repeats, warmup=2, clock=time.perf_counter, budget_s=None):
    """Median ms of each runner, timed one call each per round, after ``warmup`` calls each.

    ``budget_s``: fewer rounds (never under 3) when ``repeats`` rounds would take longer, the
    cost of a round read off the last warm-up call of each runner (for long sequences, where
    one LSTM step takes seconds).
    """
    round_s = 0.0
    for fn in runners.values():
        for _ in range(warmup):
            t0 = clock()
            fn()
            last = clock() - t0
        round_s += last if warmup else 0.0
    if budget_s and round_s > 0:
        repeats = max(min(3, repeats), min(repeats, int(budget_s / round_s)))
    times = {k: [] for k in runners}
    for _ in range(repeats):
        for k, fn in runners.items():
            t0 = clock()
            fn()
            times[k].append((clock() - t0) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def bench(cell, shape, kernel_sets, repeats, notes, threads, clock, torch=None):
    """[(what, unit, {competitor: median})] for the training step and inference at ``shape``."""
    B, T, I, H = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    dy = rng.standard_normal((B, T, H)).astype(np.float32)
    train, infer = {}, {}
    if torch is not None:
        _, train["torch"], infer["torch"] = _torch_runners(torch, cell, shape, x, dy)
    onnx = _onnx_runner(cell, shape, x, notes, threads)
    if onnx is not None:
        infer["onnxruntime"] = onnx
    for k in kernel_sets:
        train[k], infer[k] = _rnnkit_runner(cell, shape, k, x, dy)
    # fewer rounds for the slow NumPy reference at the big shapes
    n = repeats if "reference" not in kernel_sets or B * T * H < 500_000 else max(5, repeats // 2)
    return [("training step", "ms", _time_round_robin(train, n, clock=clock)),
            ("inference", "ms", _time_round_robin(infer, n, clock=clock))]


def bench_streaming(cell, steps, kernel_sets, repeats, clock, torch=None):
    """("streaming", "µs/step", {competitor: median µs per step}) over calls of ``steps`` steps."""
    rng = np.random.default_rng(1)
    xs = list(rng.standard_normal((steps, 1, STREAM_FEATURES)).astype(np.float32))
    runners = {}
    if torch is not None:
        runners["torch"] = _torch_stream(torch, cell, xs)
    for k in kernel_sets:
        runners[k] = _rnnkit_stream(cell, k, xs)
    t = _time_round_robin(runners, repeats, clock=clock)
    return ("streaming", "µs/step", {k: v * 1e3 / steps for k, v in t.items()})
