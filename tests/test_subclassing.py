"""Define-by-run training (Keras's subclassing): a Model with __init__ + call() and a custom
Layer with call() train with no hand-written backward. Their gradients equal the same model
built with the functional API (float64, 1e-12) and finite differences; an operation the tape
cannot differentiate is a clear error, never a wrong gradient."""

import numpy as np
import pytest

import rnnkit
from rnnkit import layers, ops
from gradcheck import assert_close, check_layer_gradients

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 5, 2))
Y = RNG.normal(size=(3, 4))


class Residual(rnnkit.Model):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.rnn = layers.LSTM(4, return_sequences=True, dtype="float64")
        self.skip = layers.Dense(4, dtype="float64")
        self.top = layers.GRU(4, dtype="float64")

    def call(self, x, training=False):
        h = self.rnn(x, training=training)
        return self.top(ops.add(h, self.skip(h)))


def _functional():
    i = layers.Input((5, 2), dtype="float64")
    h = layers.LSTM(4, return_sequences=True, dtype="float64")(i)
    s = layers.Add()([h, layers.Dense(4, dtype="float64")(h)])
    return rnnkit.Model(i, layers.GRU(4, dtype="float64")(s))


def _grads(model, x, dy):
    model.zero_grad()
    model.forward(x, training=True)
    dx = model.backward(dy)
    return dx, [w.grad.copy() for w in model.weights]


def test_subclassed_gradients_equal_the_functional_model():
    sub, fun = Residual(), _functional()
    sub(X)
    weights = [RNG.normal(scale=0.5, size=w.shape) for w in fun.weights]
    fun.set_weights(weights)
    sub.set_weights(weights)
    assert [w.shape for w in sub.weights] == [w.shape for w in fun.weights]
    np.testing.assert_allclose(sub.predict(X, verbose=0), fun.predict(X, verbose=0),
                               rtol=1e-12, atol=1e-13)
    dy = RNG.normal(size=(3, 4))
    dx_s, g_s = _grads(sub, X, dy)
    dx_f, g_f = _grads(fun, X, dy)
    assert_close(dx_s, dx_f, 1e-12, 1e-13, "dx")
    for a, b, w in zip(g_s, g_f, fun.weights):
        assert_close(a, b, 1e-12, 1e-13, f"d{w.path}")


class Mixed(rnnkit.Model):
    """Slicing, broadcasting arithmetic, reductions and concatenation between layers."""

    def __init__(self):
        super().__init__()
        self.rnn = layers.SimpleRNN(3, return_sequences=True, dtype="float64")
        self.dense = layers.Dense(4, dtype="float64")

    def call(self, x):
        h = self.rnn(x)
        last = h[:, -1]
        pooled = h.mean(axis=1) * 0.5 - ops.square(last)
        joined = np.concatenate([last, pooled], axis=-1)
        return self.dense(ops.tanh(joined)) / 2.0 + ops.sigmoid(ops.sum(h, axis=1)).mean()


def test_subclassed_model_gradients_by_finite_differences():
    model = Mixed()
    model(X)
    check_layer_gradients(model, X.copy())


class Linear(layers.Layer):
    """A custom layer Keras's way: weights in build, ops in call, no backward."""

    def __init__(self, units, raw=False, **kw):
        super().__init__(**kw)
        self.units, self.raw = units, raw

    def build(self, input_shape):
        self.w = self.add_weight("kernel", (input_shape[-1], self.units), "glorot_uniform")
        self.b = self.add_weight("bias", (self.units,), "ones")
        self.built = True

    def call(self, x):
        if self.raw:                          # the weight's array read directly
            return ops.relu(x @ self.w.value + self.b.value)
        return ops.relu(ops.add(ops.matmul(x, self.w), self.b))


@pytest.mark.parametrize("raw", [False, True])
def test_custom_layer_gradients_by_finite_differences(raw):
    layer = Linear(3, raw=raw, dtype="float64")
    x = RNG.normal(size=(4, 2))
    layer(x)
    check_layer_gradients(layer, x)


class Stack(rnnkit.Model):
    def __init__(self):
        super().__init__()
        self.blocks = [Linear(4, dtype="float64"), Linear(4, dtype="float64")]
        self.out = layers.Dense(4, dtype="float64")

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return self.out(x)


def test_nested_custom_layers_train_through_fit():
    model = Stack()
    x = RNG.normal(size=(16, 3))
    y = x @ RNG.normal(size=(3, 4))
    model.compile(optimizer=rnnkit.optimizers.Adam(0.05), loss="mse")
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert len(model.weights) == 6
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    check_layer_gradients(model, x[:2].copy())


class Sorted(rnnkit.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(2, dtype="float64")

    def call(self, x):
        return self.dense(np.sort(x, axis=-1) + 0)


def test_an_operation_without_adjoint_is_named_not_silently_wrong():
    model = Sorted()
    model.compile(optimizer="sgd", loss="mse")
    x = RNG.normal(size=(2, 3))
    model(x)
    with pytest.raises(TypeError, match="np.sort"):
        model.train_on_batch(x, np.zeros((2, 2)))


def test_layers_that_cannot_train_say_what_to_write():
    class NoCall(layers.Layer):
        pass

    class HandForward(layers.Layer):
        def forward(self, x, training=False, mask=None):
            return x * 2

    with pytest.raises(NotImplementedError, match="neither call"):
        NoCall()(np.ones((1, 2)))
    h = HandForward()
    h(np.ones((1, 2)))
    with pytest.raises(NotImplementedError, match="must be too: define backward"):
        h.backward(np.ones((1, 2)))
    with pytest.raises(TypeError, match="Model\\(\\) needs inputs and outputs"):
        rnnkit.Model()


def test_subclassed_model_weights_round_trip_and_refuses_whole_save(tmp_path):
    model = Residual()
    model(X)
    path = str(tmp_path / "w.rnnkit")
    model.save_weights(path)
    again = Residual()
    again(X)
    again.load_weights(path)
    np.testing.assert_array_equal(again.predict(X, verbose=0), model.predict(X, verbose=0))
    with pytest.raises(NotImplementedError, match="save_weights\\(\\) works"):
        model.save(str(tmp_path / "m.rnnkit"))
