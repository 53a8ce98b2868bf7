"""LSTM, GRU and SimpleRNN are built on the cell contract, as in Keras (issue #13, item 1).

1. ``layer.cell`` is the matching cell (LSTMCell, GRUCell, SimpleRNNCell) with the layer's
   options, holding the layer's very Weight objects (no copies; names, paths and ``weights``
   order unchanged), and ``cell.step`` is one step of the layer to 1e-12 in float64, for each
   kernel set; ``RNN``'s loop stepping ``layer.cell`` (``RNN([layer.cell])``, no sequence
   kernels) gives the layer's outputs, final states and every gradient, masks included.
2. The streamers' NumPy step is the cell's step (no second copy of the step equations).
3. ``isinstance(LSTM(n), RNN)`` (GRU, SimpleRNN, and the other built-in recurrent layers too),
   and what depends on the class (config round trip, Keras weight groups) is as before.
"""

import importlib.util

import numpy as np
import pytest

from rnnkit.io.keras_layout import layout
from rnnkit.layers import (GRU, LSTM, RNN, GRUCell, LayerNormLSTM, LSTMCell, MinGRU, MinLSTM,
                           SimpleRNN, SimpleRNNCell)
from rnnkit.layers.registry import deserialize, serialize

B, T, I, H = 3, 5, 4, 6

CASES = {  # name: (layer class, options, cell class)
    "lstm": (LSTM, {}, LSTMCell),
    "lstm_no_bias_softsign": (LSTM, {"use_bias": False, "activation": "softsign",
                                     "recurrent_activation": "hard_sigmoid"}, LSTMCell),
    "gru": (GRU, {}, GRUCell),
    "gru_reset_before": (GRU, {"reset_after": False}, GRUCell),
    "gru_reset_before_no_bias": (GRU, {"reset_after": False, "use_bias": False}, GRUCell),
    "rnn_tanh": (SimpleRNN, {}, SimpleRNNCell),
    "rnn_relu": (SimpleRNN, {"activation": "relu"}, SimpleRNNCell),
}


def _layer(name, seed=0, **kw):
    """A built layer, every weight and bias random and non-zero."""
    cls, opts, _ = CASES[name]
    layer = cls(H, return_sequences=True, return_state=True, **opts, **kw)
    layer.build((None, None, I))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    return layer


def _inputs(layer, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.0, (B, T, I)).astype(layer.dtype)
    states = [rng.normal(0, 0.5, (B, H)).astype(layer.dtype) for _ in layer.state_names]
    return x, states


def _close(a, b, tol):
    scale = max(np.abs(b).max(), 1.0)
    assert np.abs(a - b).max() <= tol * scale, (np.abs(a - b).max(), tol * scale)


# ---- 1. the cell of a layer ------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CASES))
def test_cell_holds_the_layers_weights_and_options(name):
    cls, opts, cell_cls = CASES[name]
    layer = cls(H, dropout=0.25, recurrent_dropout=0.5, seed=3, **opts)
    cell = layer.cell                                   # before build: Keras has it too
    assert type(cell) is cell_cls and not cell.built and layer.cell is cell
    layer.build((None, None, I))
    paths = [w.path for w in layer.weights]
    assert layer.cell is cell and cell.built            # the same object, now with weights
    assert [id(w) for w in cell.weights] == [id(w) for w in layer.weights]
    assert (cell.kernel, cell.recurrent_kernel, cell.bias) == \
        (layer.kernel, layer.recurrent_kernel, layer.bias)
    assert [w.path for w in layer.weights] == paths == [
        f"{layer.name}/{w}" for w in ("kernel", "recurrent_kernel", "bias")[:len(paths)]]
    assert cell.name == {LSTMCell: "lstm_cell", GRUCell: "gru_cell",
                         SimpleRNNCell: "simple_rnn_cell"}[cell_cls]        # Keras's names
    assert cell.units == H and cell.state_sizes == [H] * len(layer.state_names)
    for opt in ("activation", "recurrent_activation", "use_bias", "dropout",
                "recurrent_dropout", "reset_after", "unit_forget_bias", "seed"):
        if hasattr(layer, opt):
            assert getattr(cell, opt) == getattr(layer, opt), opt
    assert cell._rng is layer._rng                      # dropout masks from one generator
    assert layer.count_params() == cell.count_params()
    layer.set_weights([w + 1.0 for w in layer.get_weights()])   # in place: the cell sees it
    assert all(np.array_equal(a, b) for a, b in zip(cell.get_weights(), layer.get_weights()))


def test_the_cell_follows_weights_given_later_and_the_cell_of_rnn_cell_is_the_cell():
    layer = LSTM(H)
    layer.build((None, None, I))
    cell = layer.cell
    cell_of_rnn = LSTMCell(H)
    cell_of_rnn.build((None, I))
    seq = cell_of_rnn.sequence_layer()                  # what RNN(LSTMCell(n)) runs
    assert seq.cell is cell_of_rnn
    layer.kernel = seq.kernel                           # a weight object replaced
    assert layer.cell is cell and cell.kernel is seq.kernel
    assert not hasattr(MinGRU(H), "cell")               # no cell class: its step is .step


@pytest.mark.parametrize("name", sorted(CASES))
def test_cell_step_is_one_step_of_the_layer_float64(name, kernels, float64):
    layer = _layer(name)
    x, states = _inputs(layer)
    y, *final = layer.forward(x, initial_state=states)
    cell = layer.cell
    s = states
    for t in range(T):                                  # T steps of the cell, chained
        y_t, s, _ = cell.step(x[:, t], s)
        assert y_t.dtype == np.float64
        _close(y_t, y[:, t], 1e-12)
    for a, b in zip(s, final):
        _close(a, b, 1e-12)
    assert np.abs(y).max() > 0.1                        # not a comparison of zeros


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_loop_over_layer_cell_equals_the_layer_with_every_gradient(name, kernels, float64):
    layer = _layer(name)
    x, states = _inputs(layer)
    mask = np.ones((B, T), dtype=bool)
    mask[0, 3:] = False
    mask[2, :2] = False
    rng = np.random.default_rng(2)
    dy = rng.normal(size=(B, T, H))
    d_final = [rng.normal(size=(B, H)) for _ in layer.state_names]

    def run(lyr):
        for w in layer.weights:
            w.zero_grad()
        out = lyr.forward(x, mask=mask, initial_state=states)
        grads = lyr.backward([dy] + d_final)
        return out, grads, [w.grad.copy() for w in layer.weights]

    loop = RNN([layer.cell], return_sequences=True, return_state=True)   # a stack: the loop
    loop.build(x.shape)
    assert loop._seq is None                            # stepped by RNN's loop, not a kernel
    assert [id(w) for w in loop.weights] == [id(w) for w in layer.weights]
    got, want = run(loop), run(layer)
    for part_got, part_want in zip(got, want):          # outputs+states, dx+d_states0, dW
        assert len(part_got) == len(part_want)
        for a, b in zip(part_got, part_want):
            _close(a, b, 1e-10)
    assert all(np.abs(g).max() > 1e-3 for g in want[2])


# ---- 2. the streamers' NumPy step is the cell's step -----------------------------------------
@pytest.mark.parametrize("name", ["lstm", "gru_reset_before", "rnn_relu"])
def test_the_reference_stream_steps_the_cell(name, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", "reference")
    layer = _layer(name)
    cell_cls = CASES[name][2]
    calls = []
    step = cell_cls.step

    def spy(self, x_t, states, drop=None):
        calls.append(self)
        return step(self, x_t, states, drop)

    monkeypatch.setattr(cell_cls, "step", spy)
    x, states = _inputs(layer)
    stream = layer.streamer(B, initial_state=states)
    assert stream.kernels == "reference"
    h = stream.step(x[:, 0])
    assert len(calls) == 1 and type(calls[0]) is cell_cls
    y_t, _, _ = step(layer.cell, x[:, 0], states)
    np.testing.assert_array_equal(h, y_t)


def test_one_numpy_step_per_cell():
    assert importlib.util.find_spec("rnnkit.kernels.step") is None   # the cells' step only


# ---- 3. LSTM, GRU, SimpleRNN are RNN layers -----------------------------------------------------
@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN, MinGRU, MinLSTM, LayerNormLSTM])
def test_recurrent_layers_are_rnn_layers(cls):
    layer = cls(H, return_sequences=True, stateful=True)
    assert isinstance(layer, RNN)
    assert layer.units == H and layer.states is None
    x = np.random.default_rng(0).normal(size=(2, T, I)).astype("float32")
    y = layer(x)
    assert y.shape == (2, T, H) and len(layer.states) == len(layer.state_names)
    again = deserialize(serialize(layer))               # the layer's own config, not RNN's
    assert type(again) is cls and again.get_config() == layer.get_config()


def test_keras_weight_groups_are_unchanged():
    import rnnkit
    from rnnkit.layers import Dense, Input
    model = rnnkit.Sequential([Input((T, I)), LSTM(H, return_sequences=True), GRU(H),
                               Dense(2)])
    groups = [(g.path, g.name, [w.path for w in g.weights]) for g in layout(model)]
    lstm, gru = model.layers[:2]
    assert groups[:4] == [
        ("layers/lstm/vars", lstm.name, []),
        ("layers/lstm/cell/vars", "lstm_cell", [f"{lstm.name}/kernel",
                                                f"{lstm.name}/recurrent_kernel",
                                                f"{lstm.name}/bias"]),
        ("layers/gru/vars", gru.name, []),
        ("layers/gru/cell/vars", "gru_cell", [f"{gru.name}/kernel",
                                              f"{gru.name}/recurrent_kernel",
                                              f"{gru.name}/bias"]),
    ]
    with pytest.raises(ValueError, match="no Keras weight layout is known for MinGRU"):
        layout(rnnkit.Sequential([Input((T, I)), MinGRU(H)]))
