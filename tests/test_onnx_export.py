"""ONNX export (rnnkit.io.onnx_export): onnxruntime must give model.predict's numbers.

Every model gets random non-zero weights and biases, is exported once, and is run in onnxruntime
at two batch sizes and two sequence lengths from that one file (the axes are symbolic), against
``predict`` in float32 to 1e-5. Then the refusals: masks, stateful layers, activations ONNX's
cells lack, layers with no converter, several inputs or outputs, bad opsets.
"""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rnnkit.bench.runners import _onnx_runner  # noqa: E402
from rnnkit.io.onnx_export import build_onnx_model, export_onnx  # noqa: E402
from rnnkit.layers import (GRU, LSTM, Activation, Bidirectional, Concatenate, Dense,  # noqa: E402
                           Dropout, Embedding, Flatten, Input, Layer, Masking, RepeatVector,
                           SimpleRNN, TimeDistributed)
from rnnkit.models import Model, Sequential  # noqa: E402

I, V = 3, 11          # input features; vocabulary of the Embedding models
SIZES = [(2, 5), (3, 8)]   # (batch, time) pairs run through the same exported file


def _randomize(model, seed=0):
    """Every weight (biases included) uniform in +-0.5, none zero."""
    rng = np.random.default_rng(seed)
    ws = []
    for w in model.get_weights():
        r = rng.uniform(0.05, 0.5, w.shape) * rng.choice([-1.0, 1.0], w.shape)
        ws.append(r.astype(w.dtype))
    model.set_weights(ws)
    return model


def _inputs(model, B, T, rng):
    ids = type(model.layers[0]).__name__ == "Embedding"
    fixed_T = model._input_batch_shape[1] if isinstance(model, Sequential) else None
    T = fixed_T or T
    if ids:
        return rng.integers(0, V, (B, T)).astype(np.int64)
    return rng.standard_normal((B, T, I)).astype(np.float32)


def _check_against_predict(model, tmp_path):
    path = tmp_path / "model.onnx"
    model.export_onnx(path)
    onnx.checker.check_model(onnx.load(str(path)))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    shapes = set()
    for B, T in SIZES:
        x = _inputs(model, B, T, rng)
        got = sess.run(None, {"input": x})[0]
        want = model.predict(x, verbose=0)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        shapes.add(got.shape)
    assert len(shapes) == 2          # the two runs really had different shapes


def _seq(*layers, features=I):
    return Sequential([Input((None, features))] + list(layers))


CASES = {
    "simple_rnn_tanh_last": lambda: _seq(SimpleRNN(4)),
    "simple_rnn_relu_seq": lambda: _seq(SimpleRNN(4, activation="relu", return_sequences=True)),
    "simple_rnn_sigmoid_backwards_seq": lambda: _seq(
        SimpleRNN(4, activation="sigmoid", go_backwards=True, return_sequences=True)),
    "simple_rnn_softplus_backwards_last": lambda: _seq(
        SimpleRNN(4, activation="softplus", go_backwards=True)),
    "simple_rnn_linear_no_bias": lambda: _seq(
        SimpleRNN(4, activation="linear", use_bias=False, return_sequences=True)),
    "lstm_last": lambda: _seq(LSTM(5)),
    "lstm_seq_backwards": lambda: _seq(LSTM(5, return_sequences=True, go_backwards=True)),
    "lstm_backwards_last": lambda: _seq(LSTM(5, go_backwards=True)),
    "lstm_hard_sigmoid_relu": lambda: _seq(
        LSTM(5, recurrent_activation="hard_sigmoid", activation="relu", return_sequences=True)),
    "lstm_softsign_no_bias": lambda: _seq(LSTM(5, activation="softsign", use_bias=False)),
    "gru_reset_after_seq": lambda: _seq(GRU(5, return_sequences=True)),
    "gru_reset_before_last": lambda: _seq(GRU(5, reset_after=False)),
    "gru_reset_before_backwards_seq": lambda: _seq(
        GRU(5, reset_after=False, go_backwards=True, return_sequences=True)),
    "gru_reset_after_backwards_last": lambda: _seq(GRU(5, go_backwards=True)),
    "gru_hard_sigmoid_elu": lambda: _seq(
        GRU(5, recurrent_activation="hard_sigmoid", activation="elu", return_sequences=True)),
    "gru_linear_sigmoid_no_bias": lambda: _seq(
        GRU(5, activation="linear", recurrent_activation="sigmoid", use_bias=False)),
    "bi_lstm_concat_seq": lambda: _seq(Bidirectional(LSTM(4, return_sequences=True))),
    "bi_lstm_concat_last": lambda: _seq(Bidirectional(LSTM(4))),
    "bi_gru_sum_seq": lambda: _seq(Bidirectional(GRU(4, return_sequences=True), "sum")),
    "bi_gru_before_ave_last": lambda: _seq(Bidirectional(GRU(4, reset_after=False), "ave")),
    "bi_rnn_mul_seq": lambda: _seq(Bidirectional(SimpleRNN(4, return_sequences=True), "mul")),
    "bi_lstm_mul_last": lambda: _seq(Bidirectional(LSTM(4), "mul")),
    "stacked_lstm_gru_dense": lambda: _seq(
        LSTM(6, return_sequences=True), GRU(5), Dense(3, activation="softmax")),
    "embedding_lstm_softmax": lambda: Sequential(
        [Embedding(V, 4), LSTM(6), Dropout(0.5), Dense(3, activation="softmax")]),
    "embedding_bi_gru_time_distributed": lambda: Sequential([
        Embedding(V, 4), Bidirectional(GRU(3, return_sequences=True)),
        TimeDistributed(Dense(V)), Activation("softmax")]),
    "time_distributed_dense_tanh": lambda: _seq(
        LSTM(5, return_sequences=True), TimeDistributed(Dense(2, activation="tanh"))),
    "dense_on_sequence": lambda: _seq(GRU(4, return_sequences=True), Dense(2)),
    "encoder_decoder_repeat_vector": lambda: _seq(
        LSTM(6), RepeatVector(4), GRU(5, return_sequences=True), TimeDistributed(Dense(2))),
    "nested_sequential": lambda: _seq(
        Sequential([LSTM(4, return_sequences=True), Dropout(0.2)]), Sequential([GRU(3)])),
    "dense_no_bias": lambda: _seq(LSTM(4), Dense(3, use_bias=False, activation="tanh")),
    "fixed_length_flatten_channels_first": lambda: Sequential([
        Input((6, I)), GRU(4, return_sequences=True), Flatten(data_format="channels_first"),
        Dense(3)]),
    "fixed_length_flatten": lambda: Sequential([
        Input((6, I)), SimpleRNN(4, return_sequences=True), Flatten(), Dense(3)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_onnxruntime_matches_predict(case, tmp_path):
    _check_against_predict(_randomize(CASES[case]()), tmp_path)


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "hard_sigmoid", "softplus",
                                 "softsign", "elu", "selu", "swish", "gelu", "softmax", "linear"])
def test_dense_and_activation_layers(act, tmp_path):
    model = _seq(GRU(4), Dense(5, activation=act), Dense(3), Activation(act))
    _check_against_predict(_randomize(model, seed=2), tmp_path)


def test_hard_sigmoid_saturates_as_keras_3(tmp_path):
    """relu6(x + 3) / 6: big weights drive the gates past -3 and 3, where the clip shows."""
    model = _seq(LSTM(4, recurrent_activation="hard_sigmoid", return_sequences=True))
    model.set_weights([w * 8 for w in _randomize(model).get_weights()])
    _check_against_predict(model, tmp_path)


def test_functional_chain(tmp_path):
    x = Input((None, I))
    y = Dense(2, activation="sigmoid")(Bidirectional(GRU(3))(LSTM(4, return_sequences=True)(x)))
    _check_against_predict(_randomize(Model(x, y)), tmp_path)


def test_symbolic_axes_and_standard_ops():
    proto = build_onnx_model(_randomize(_seq(LSTM(5, return_sequences=True), Dense(2))))
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "time", I]
    ops = {n.op_type for n in proto.graph.node}
    assert "LSTM" in ops and "MatMul" in ops and "Loop" not in ops and "Scan" not in ops
    assert proto.opset_import[0].version == 17


def test_opset_13_also_runs(tmp_path):
    model = _randomize(_seq(Bidirectional(GRU(3, return_sequences=True), "ave")))
    path = tmp_path / "m.onnx"
    proto = export_onnx(model, path, opset=13)
    assert proto.opset_import[0].version == 13
    x = np.random.default_rng(3).standard_normal((2, 4, I)).astype(np.float32)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None,
                                                                                   {"input": x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


# ---- refusals -------------------------------------------------------------------------------
class _Custom(Layer):
    def forward(self, x, training=False, mask=None):
        return x


@pytest.mark.parametrize("make, error, match", [
    (lambda: Sequential([Embedding(V, 4, mask_zero=True, name="emb"), LSTM(3)]),
     NotImplementedError, r"emb: mask_zero=True .* no step mask"),
    (lambda: _seq(Masking(name="pad"), LSTM(3)), NotImplementedError, r"pad: Masking"),
    (lambda: Sequential([Input(batch_shape=(2, None, I)), LSTM(3, stateful=True, name="st")]),
     NotImplementedError, r"st: stateful=True"),
    (lambda: _seq(SimpleRNN(3, activation="selu", name="cell")), NotImplementedError,
     r"cell: activation 'selu' inside a SimpleRNN cell .* expected one of"),
    (lambda: _seq(GRU(3, recurrent_activation="gelu", name="g")), NotImplementedError,
     r"g: activation 'gelu' inside a GRU cell"),
    (lambda: _seq(_Custom(name="odd")), NotImplementedError,
     r"odd: _Custom has no ONNX export; supported layers: "),
    (lambda: _seq(TimeDistributed(RepeatVector(2), name="td")), NotImplementedError,
     r"td: TimeDistributed\(RepeatVector\) has no ONNX export"),
    (lambda: _seq(Bidirectional(LSTM(3), backward_layer=GRU(3, go_backwards=True), name="bi")),
     NotImplementedError, r"bi: ONNX's bidirectional ops need the same cell kind"),
])
def test_refusals_name_the_layer(make, error, match, tmp_path):
    with pytest.raises(error, match=match):
        export_onnx(make(), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_refuses_several_inputs_and_bad_opset_and_unbuilt(tmp_path):
    a, b = Input((None, I)), Input((None, I))
    two = Model([a, b], LSTM(3)(Concatenate()([a, b])), name="two")
    with pytest.raises(NotImplementedError, match=r"two: ONNX export handles one input and one "
                                                  r"output, got 2 inputs and 1 outputs"):
        export_onnx(two, tmp_path / "x.onnx")
    with pytest.raises(ValueError, match=r"opset must be between 13 and \d+ .*got 11"):
        build_onnx_model(_seq(LSTM(2)), opset=11)
    with pytest.raises(ValueError, match=r"unbuilt: build the model"):
        build_onnx_model(Sequential([LSTM(2)], name="unbuilt"))


# ---- the benchmark's onnxruntime peer -----------------------------------------------------------
def test_bench_onnx_runner_runs_the_exported_layer():
    notes = set()
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    run = _onnx_runner("gru", (2, 5, 3, 4), x, notes, threads=1)
    assert notes == set() and run is not None
    (y,) = run()
    assert y.shape == (2, 5, 4) and np.abs(y).max() > 0


def test_bench_onnx_runner_notes_missing_onnxruntime(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)
    notes = set()
    assert _onnx_runner("lstm", (2, 5, 3, 4), np.zeros((2, 5, 3), np.float32), notes, 1) is None
    assert any("onnxruntime or onnx is not installed" in n for n in notes)
