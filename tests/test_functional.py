"""The functional Model: graph walking, forward/backward, shared layers, masks, configs.

The graph machinery is tested with the small layers defined below (their maths fits in a line,
so the expected values are computed here by hand in NumPy); test_sequential.py and
test_summary.py import them too. Gradients are checked against central differences in float64.
"""

import json

import numpy as np
import pytest

from gradcheck import assert_close, numeric_grad
from rnnkit.layers.base import Layer
from rnnkit.layers.dense import Dense
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.input_layer import Input, InputLayer
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.merge import Add, Concatenate
from rnnkit.models import Model, Sequential


# ---- small layers for the graph tests ---------------------------------------------------------
class Affine(Layer):
    """y = x @ W + b on the last axis (any rank); passes masks through."""

    supports_masking = True

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight("kernel", (input_shape[-1], self.units), "glorot_uniform")
        self.b = self.add_weight("bias", (self.units,), "random_normal")
        super().build(input_shape)

    def forward(self, x, training=False, mask=None):
        self._cache = x
        return x @ self.w.value + self.b.value

    def backward(self, dy):
        x = self._cache
        x2, dy2 = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
        self.w.grad += x2.T @ dy2
        self.b.grad += dy2.sum(axis=0)
        return dy @ self.w.value.T

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class TwoOut(Layer):
    """A return_state-like layer: h = tanh(x W + h0 U), s = h V; outputs [h, s].

    ``initial_state=h0`` is optional; when given, backward returns [dx, dh0].
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.backward_calls = 0

    def build(self, input_shape):
        n = self.units
        self.w = self.add_weight("kernel", (input_shape[-1], n), "glorot_uniform")
        self.u = self.add_weight("recurrent_kernel", (n, n), "glorot_uniform")
        self.v = self.add_weight("state_kernel", (n, n), "glorot_uniform")
        super().build(input_shape)

    def forward(self, x, training=False, mask=None, initial_state=None):
        h0 = initial_state[0] if isinstance(initial_state, list) else initial_state
        z = x @ self.w.value
        if h0 is not None:
            z = z + h0 @ self.u.value
        h = np.tanh(z)
        self._cache = (x, h0, h, isinstance(initial_state, list))
        return [h, h @ self.v.value]

    def backward(self, dy):
        self.backward_calls += 1
        x, h0, h, listed = self._cache
        dh = np.zeros_like(h) if dy[0] is None else dy[0]
        if dy[1] is not None:
            self.v.grad += h.T @ dy[1]
            dh = dh + dy[1] @ self.v.value.T              # s = h V
        dz = dh * (1 - h ** 2)                              # h = tanh(z)
        self.w.grad += x.T @ dz
        dx = dz @ self.w.value.T
        if h0 is None:
            return dx
        self.u.grad += h0.T @ dz
        return [dx, dz @ self.u.value.T]

    def compute_output_shape(self, input_shape):
        return [(input_shape[0], self.units), (input_shape[0], self.units)]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class ZeroMask(Layer):
    """Like Masking(0.0): keep[b, t] = any(x[b, t] != 0); y = x * keep."""

    supports_masking = True

    def forward(self, x, training=False, mask=None):
        keep = self.compute_mask(x)[..., None]
        self._cache = keep
        return x * keep

    def backward(self, dy):
        return dy * self._cache

    def compute_mask(self, inputs, mask=None):
        return np.any(np.asarray(inputs) != 0, axis=-1)


class MaskedMean(Layer):
    """y[b] = sum_t m[b, t] x[b, t] / sum_t m[b, t]  (m = 1 without a mask); drops the mask."""

    def forward(self, x, training=False, mask=None):
        m = np.ones(x.shape[:2]) if mask is None else np.asarray(mask, dtype=x.dtype)
        n = m.sum(axis=1, keepdims=True)
        self._cache = (m, n, x.shape)
        return (x * m[..., None]).sum(axis=1) / n

    def backward(self, dy):
        m, n, shape = self._cache
        return np.broadcast_to((dy / n)[:, None, :], shape) * m[..., None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def compute_mask(self, inputs, mask=None):
        return None


class TrainScale(Layer):
    """y = 2 x in training, x otherwise (to see which ``training`` a call gets)."""

    def forward(self, x, training=False, mask=None):
        self._cache = 2.0 if training else 1.0
        return x * self._cache

    def backward(self, dy):
        return dy * self._cache


def loss_and_grads(model, xs, seed=0):
    """L = sum_k sum(w_k * y_k) with fixed random w_k; returns (loss fn, dL/dy list)."""
    ys = model.forward(xs)
    ys = ys if isinstance(ys, list) else [ys]
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(y.shape) for y in ys]

    def loss():
        out = model.forward(xs)
        out = out if isinstance(out, list) else [out]
        return float(sum(np.sum(w * y) for w, y in zip(ws, out)))

    return loss, ws


def check_model_gradients(model, xs, rtol=1e-6, check_inputs=True):
    """Compare model.backward with central differences for every weight and every input.

    Returns the input gradient(s) that backward gave.
    """
    loss, ws = loss_and_grads(model, xs)
    single_out = not isinstance(model.forward(xs), list)
    model.zero_grad()
    dxs = model.backward(ws[0] if single_out else ws)
    assert model.trainable_weights
    for w in model.trainable_weights:
        assert_close(w.grad, numeric_grad(loss, w.value), rtol=rtol, what=w.path)
    if check_inputs:
        for i, x in enumerate(xs if isinstance(xs, list) else [xs]):
            dx = dxs[i] if isinstance(xs, list) else dxs
            assert_close(dx, numeric_grad(loss, x), rtol=rtol, what=f"input {i}")
    return dxs


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- forward ------------------------------------------------------------------------------------
def test_diamond_forward_matches_numpy():
    x = Input((3,))
    a, b, c = Affine(4), Affine(2), Affine(2)
    h = a(x)
    y = Add()([b(h), c(h)])
    model = Model(x, y)
    xv = rand(5, 3)
    hv = xv @ a.w.value + a.b.value
    want = hv @ b.w.value + b.b.value + hv @ c.w.value + c.b.value
    assert_close(model.forward(xv), want, what="y")
    assert_close(model(xv), want, what="eager __call__")


def test_layers_order_and_names_follow_keras():
    # Keras orders layers by depth from the outputs, deepest first, ties by traversal order.
    enc_in, dec_in = Input((None, 3)), Input((None, 3))
    enc = TwoOut(4, name="enc")
    _, s = enc(MaskedMean()(enc_in))
    dec = TwoOut(4, name="dec")
    h, _ = dec(MaskedMean()(dec_in), initial_state=[s])
    out = Affine(2, name="out")(h)
    model = Model([enc_in, dec_in], out)
    assert model.name == "functional"
    assert [layer.name for layer in model.layers] == [
        "input_layer", "input_layer_1", "masked_mean", "masked_mean_1", "enc", "dec", "out"]
    assert model.get_layer("dec") is dec
    assert model.get_layer(index=-1).name == "out"
    assert isinstance(model.get_layer(index=0), InputLayer)
    assert Model(enc_in, s).name == "functional_1"


def test_several_inputs_outputs_list_and_dict(float64):
    x1, x2 = Input((3,), name="left"), Input((2,), name="right")
    cat = Concatenate()([Affine(4)(x1), x2])
    h, s = TwoOut(3)(cat)
    model = Model([x1, x2], [h, s])
    v1, v2 = rand(4, 3), rand(4, 2, seed=1)
    ys = model.forward([v1, v2])
    assert [y.shape for y in ys] == [(4, 3), (4, 3)]
    ys_dict = model.forward({"right": v2, "left": v1})
    for a, b in zip(ys, ys_dict):
        assert_close(a, b)
    check_model_gradients(model, [v1, v2])


def test_node_training_argument_overrides_the_model():
    x = Input((2,))
    model = Model(x, [TrainScale()(x, training=True), TrainScale()(x)])
    fixed, free = model.forward(np.ones((1, 2)), training=False)
    assert fixed[0, 0] == 2.0 and free[0, 0] == 1.0
    fixed, free = model.forward(np.ones((1, 2)), training=True)
    assert fixed[0, 0] == 2.0 and free[0, 0] == 2.0


# ---- backward -----------------------------------------------------------------------------------
def test_gradients_of_a_graph_with_shared_layer_states_and_merges(float64):
    """Two inputs, a layer used twice, a state output fed as initial_state, two outputs."""
    x1, x2 = Input((3,)), Input((3,))
    shared = Affine(3)
    a1, a2 = shared(x1), shared(x2)                          # one weight, two calls
    h_enc, s_enc = TwoOut(3)(a1)
    h_dec, s_dec = TwoOut(3)(a2, initial_state=[s_enc])      # state from another layer
    y1 = Add()([h_dec, shared(h_enc)])                       # shared a third time, deeper
    model = Model([x1, x2], [y1, s_dec])
    check_model_gradients(model, [rand(4, 3), rand(4, 3, seed=1)])


def test_tensor_read_by_two_calls_gets_the_sum_of_their_gradients(float64):
    x = Input((3,))
    h = Affine(4)(x)                                         # h feeds two branches
    model = Model(x, Add()([Affine(2)(h), Affine(2)(h)]))
    check_model_gradients(model, rand(5, 3))


def test_shared_layer_gradient_is_the_sum_of_its_calls(float64):
    x1, x2 = Input((3,)), Input((3,))
    shared = Affine(2)
    model = Model([x1, x2], Add()([shared(x1), shared(x2)]))
    v1, v2 = rand(4, 3), rand(4, 3, seed=1)
    dy = rand(4, 2, seed=2)
    model.forward([v1, v2])
    model.zero_grad()
    model.backward(dy)
    assert_close(shared.w.grad, v1.T @ dy + v2.T @ dy, what="dW")
    assert_close(shared.b.grad, 2 * dy.sum(axis=0), what="db")


def test_output_without_gradient_skips_its_branch(float64):
    x = Input((3,))
    trunk = Affine(3)(x)
    branch = TwoOut(3)
    hb, _ = branch(trunk)
    head = Affine(2)
    model = Model(x, [head(trunk), hb])
    xv = rand(4, 3)
    dy = rand(4, 2, seed=3)
    model.forward(xv)
    model.zero_grad()
    dx = model.backward([dy, None])
    assert branch.backward_calls == 0                   # nothing downstream needed it
    assert np.all(branch.w.grad == 0)
    only_head = Model(x, head.output)
    only_head.forward(xv)
    want_dx = only_head.backward(dy)
    assert_close(dx, want_dx, what="dx")


def test_unused_state_output_passes_none(float64):
    """A multi-output layer whose second output is unused gets dy = [dh, None]."""
    x = Input((3,))
    h, _ = TwoOut(3)(x)
    model = Model(x, h)
    check_model_gradients(model, rand(4, 3))


def test_backward_before_forward_is_an_error():
    x = Input((2,))
    with pytest.raises(RuntimeError, match="forward"):
        Model(x, Affine(2)(x)).backward(np.ones((1, 2)))


# ---- masks ---------------------------------------------------------------------------------------
def test_masks_flow_from_node_to_node(float64):
    x = Input((None, 2))
    h = Affine(3)(ZeroMask()(x))          # Affine keeps the mask; its bias makes pads non-zero
    model = Model(x, MaskedMean()(h))
    xv = rand(2, 4, 2)
    xv[0, 2:] = 0.0                       # sample 0: two real steps
    xv[1, 3:] = 0.0                       # sample 1: three real steps
    aff = model.layers[2]
    hv = xv @ aff.w.value + aff.b.value
    want = np.stack([hv[0, :2].mean(axis=0), hv[1, :3].mean(axis=0)])
    assert_close(model.forward(xv), want, what="masked mean")
    # Moving a padded zero by eps would unmask its step, so the input is checked at real steps.
    dx = check_model_gradients(model, xv, check_inputs=False)
    loss, _ = loss_and_grads(model, xv)
    real = np.any(xv != 0, axis=-1)
    assert_close(dx[real], numeric_grad(loss, xv)[real], what="dx at real steps")
    assert np.all(dx[~real] == 0)


def test_model_input_mask_argument():
    x = Input((3, 2))
    model = Model(x, MaskedMean()(x))
    xv = np.arange(12.0).reshape(2, 3, 2)
    mask = np.array([[True, False, False], [True, True, True]])
    y = model.forward(xv, mask=mask)
    assert_close(y, np.stack([xv[0, 0], xv[1].mean(axis=0)]))


# ---- the seq2seq pattern: inference models from trained layers -----------------------------------
def test_inference_models_reuse_trained_layers(float64):
    enc_in, dec_in = Input((3,)), Input((2,))
    encoder, decoder, head = TwoOut(4), TwoOut(4), Affine(2)
    _, enc_state = encoder(enc_in)
    dec_h, _ = decoder(dec_in, initial_state=[enc_state])
    train_model = Model([enc_in, dec_in], head(dec_h))
    ev, dv = rand(5, 3), rand(5, 2, seed=1)
    y_train = train_model.forward([ev, dv])

    # Keras's lstm_seq2seq: an encoder model and a decoder model that calls the trained
    # decoder and head on NEW inputs (the state now comes from an Input).
    encoder_model = Model(enc_in, enc_state)
    state_in = Input((4,))
    h2, s2 = decoder(train_model.input[1], initial_state=[state_in])
    decoder_model = Model([train_model.input[1], state_in], [head(h2), s2])

    assert [layer.name for layer in encoder_model.layers] == ["input_layer", "two_out"]
    assert len(decoder._inbound_nodes) == 2 and len(decoder_model.layers) == 4
    state = encoder_model.forward(ev)
    y_inf, _ = decoder_model.forward([dv, state])
    assert_close(y_inf, y_train, what="inference = training")
    assert_close(train_model.forward([ev, dv]), y_train, what="training model unchanged")
    check_model_gradients(decoder_model, [dv, state])
    check_model_gradients(train_model, [ev, dv])


def test_layer_input_and_output_properties():
    x = Input((3,))
    layer = TwoOut(2)
    h, s = layer(x)
    assert layer.input is x
    assert layer.output == [h, s]
    with pytest.raises(AttributeError, match="never been called"):
        Affine(2).output


# ---- weights -------------------------------------------------------------------------------------
def test_weights_are_listed_once_and_set_in_order():
    x1, x2 = Input((3,)), Input((3,))
    shared, other = Affine(2), Affine(2)
    model = Model([x1, x2], Add()([shared(x1), other(shared(x2))]))
    assert [w.path for w in model.weights] == [
        "affine/kernel", "affine/bias", "affine_1/kernel", "affine_1/bias"]
    assert model.count_params() == (3 * 2 + 2) + (2 * 2 + 2)
    values = [np.full(w.shape, i + 1.0) for i, w in enumerate(model.weights)]
    model.set_weights(values)
    for got, want in zip(model.get_weights(), values):
        assert np.array_equal(got, want)
    with pytest.raises(ValueError, match="expected 4 weight arrays"):
        model.set_weights(values[:3])
    for w in model.weights:
        w.grad += 1.0
    model.zero_grad()
    assert all(np.all(w.grad == 0) for w in model.weights)


def test_trainable_flags():
    x = Input((3,))
    frozen = Affine(2)
    model = Model(x, Affine(1)(frozen(x)))
    frozen.trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 4


# ---- nesting -------------------------------------------------------------------------------------
def test_sequential_and_model_as_layers_inside_a_model(float64):
    inner_in = Input((3,))
    inner = Model(inner_in, Affine(3)(inner_in), name="inner")
    stack = Sequential([Affine(3), Affine(3)], name="stack")
    x = Input((3,))
    y = Add()([inner(x), stack(x), stack(inner(x))])      # each nested model called twice
    model = Model(x, y)
    assert [layer.name for layer in model.layers] == ["input_layer_1", "inner", "stack", "add"]
    assert model.count_params() == 3 * 12
    check_model_gradients(model, rand(4, 3))


# ---- config -------------------------------------------------------------------------------------
def build_graph():
    x1, x2 = Input((3,)), Input((3,))
    shared = Affine(3)
    _, s = TwoOut(3)(shared(x1))
    h, s2 = TwoOut(3)(shared(x2), initial_state=[s])
    y = Concatenate()([h, TrainScale()(shared(h), training=True)])
    return Model([x1, x2], [y, s2], name="graph")


def test_config_round_trip_rebuilds_the_same_graph(float64):
    model = build_graph()
    cfg = json.loads(json.dumps(model.get_config()))
    again = Model.from_config(cfg)
    assert json.dumps(again.get_config(), sort_keys=True) == json.dumps(cfg, sort_keys=True)
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    again.set_weights(model.get_weights())
    xs = [rand(4, 3), rand(4, 3, seed=1)]
    for a, b in zip(model.forward(xs), again.forward(xs)):
        assert_close(b, a)
    check_model_gradients(again, xs)
    calls = {spec["name"]: spec["inbound_nodes"] for spec in cfg["layers"]}
    assert calls["two_out_1"][0]["tensor_kwargs"] == {"initial_state": [["two_out", 0, 1]]}
    assert [c["inputs"] for c in calls["affine"]] == [
        ["input_layer", 0, 0], ["input_layer_1", 0, 0], ["two_out_1", 0, 0]]


def test_config_round_trip_of_a_nested_sequential(float64):
    x = Input((3,))
    model = Model(x, Sequential([Affine(2), Affine(3)])(x))
    cfg = json.loads(json.dumps(model.get_config()))
    again = Model.from_config(cfg, custom_objects={"Affine": Affine})
    again.set_weights(model.get_weights())
    xv = rand(2, 3)
    assert_close(again.forward(xv), model.forward(xv))


def test_unknown_class_in_config_is_a_clear_error():
    x = Input((3,))
    cfg = Model(x, Affine(2)(x)).get_config()
    cfg["layers"][1]["class_name"] = "NoSuchLayer"
    with pytest.raises(ValueError, match="unknown layer class 'NoSuchLayer'"):
        Model.from_config(cfg)


# ---- errors -------------------------------------------------------------------------------------
def test_disconnected_graph_is_an_error():
    x1, x2 = Input((3,)), Input((3,))
    y = Add()([x1, x2])
    with pytest.raises(ValueError, match="graph disconnected"):
        Model(x1, y)


def test_model_inputs_must_be_inputs():
    x = Input((3,))
    h = Affine(2)(x)
    with pytest.raises(ValueError, match="made by Input"):
        Model(h, Affine(2)(h))
    with pytest.raises(TypeError, match="symbolic tensors"):
        Model(x, np.zeros(3))


def test_duplicate_layer_names_are_an_error():
    x = Input((3,))
    with pytest.raises(ValueError, match="'twin' is used 2 times"):
        Model(x, Affine(2, name="twin")(Affine(3, name="twin")(x)))


def test_wrong_inputs_are_clear_errors():
    x1, x2 = Input((3,)), Input((2,))
    model = Model([x1, x2], Concatenate()([x1, x2]))
    with pytest.raises(ValueError, match="expected 2 inputs, got 1"):
        model.forward([np.ones((1, 3))])
    with pytest.raises(ValueError, match=r"expected an array of shape \(None, 2\)"):
        model.forward([np.ones((1, 3)), np.ones((1, 5))])
    with pytest.raises(ValueError, match="no such layer"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="only 3 layers"):
        model.get_layer(index=7)


# ---- with the real layers ---------------------------------------------------------------------
def test_keras_lstm_seq2seq_training_and_inference_models(float64):
    """Keras's lstm_seq2seq example: train graph, then encoder/decoder models from its layers."""
    num_encoder_tokens, num_decoder_tokens, latent_dim = 3, 4, 5
    encoder_inputs = Input(shape=(None, num_encoder_tokens))
    encoder = LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = Input(shape=(None, num_decoder_tokens))
    decoder_lstm = LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = Model([encoder_inputs, decoder_inputs], decoder_outputs)
    ev, dv = rand(2, 4, num_encoder_tokens), rand(2, 3, num_decoder_tokens, seed=1)
    check_model_gradients(model, [ev, dv])

    # the inference part of the example, line for line
    encoder_inputs = model.input[0]
    encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output
    encoder_model = Model(encoder_inputs, [state_h_enc, state_c_enc])
    decoder_inputs = model.input[1]
    decoder_states_inputs = [Input(shape=(latent_dim,)), Input(shape=(latent_dim,))]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(
        decoder_inputs, initial_state=decoder_states_inputs)
    decoder_dense = model.layers[4]
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = Model([decoder_inputs] + decoder_states_inputs,
                          [decoder_outputs, state_h_dec, state_c_dec])

    # decoding one step at a time gives the teacher-forced output of the training model
    states = encoder_model.forward(ev)
    steps = []
    for t in range(dv.shape[1]):
        y, h, c = decoder_model.forward([dv[:, t:t + 1], *states])
        states = [h, c]
        steps.append(y)
    assert_close(np.concatenate(steps, axis=1), model.forward([ev, dv]), what="step by step")
    check_model_gradients(decoder_model, [dv, *encoder_model.forward(ev)])


def test_config_round_trip_with_embedding_lstm_dense(float64):
    enc_in, dec_in = Input((None,), dtype="int32"), Input((None,), dtype="int32")
    _, h, c = LSTM(4, return_state=True, name="encoder")(Embedding(10, 3, mask_zero=True)(enc_in))
    out = LSTM(4, name="decoder")(Embedding(12, 3)(dec_in), initial_state=[h, c])
    model = Model([enc_in, dec_in], Dense(2)(out))
    cfg = json.loads(json.dumps(model.get_config()))
    again = Model.from_config(cfg)
    assert json.dumps(again.get_config(), sort_keys=True) == json.dumps(cfg, sort_keys=True)
    again.set_weights(model.get_weights())
    tokens = [np.array([[1, 2, 0], [3, 4, 5]]), np.array([[1, 2], [3, 4]])]
    assert_close(again.forward(tokens), model.forward(tokens))
    assert again.backward(np.ones((2, 2))) == [None, None]      # integer inputs
