"""rnnkit.diagnostics: dL/dh_t through time checked by splitting the sequence, gradient norms
around clipping checked by hand, and the promise that nothing in the model changes."""

import numpy as np
import pytest

import rnnkit
from gradcheck import assert_close
from rnnkit import layers, optimizers
from rnnkit.diagnostics import (GradientNormHistory, gradient_norms, recurrent_layers,
                                state_gradient_norms, state_gradients)

B, T, I, H = 4, 9, 3, 5
CELLS = {"LSTM": layers.LSTM, "GRU": layers.GRU, "SimpleRNN": layers.SimpleRNN}


def _randomize(model, rng, scale=0.5):
    """Every weight and bias random and non-zero (a zero bias can hide a bug)."""
    for w in model.weights:
        w.assign(rng.standard_normal(w.shape) * scale)


def _model(cell, rng, return_sequences=False, go_backwards=False, optimizer="sgd"):
    rnn = CELLS[cell](H, return_sequences=return_sequences, go_backwards=go_backwards, seed=0)
    model = rnnkit.Sequential([layers.Input((T, I)), rnn, layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    _randomize(model, rng)
    return model


def _copy(rnn, **overrides):
    """A second layer with the same weights (a fresh object: independent of the diagnostics)."""
    cfg = rnn.get_config()
    cfg.update(name=rnn.name + "_copy" + "_".join(map(str, overrides.values())), **overrides)
    other = type(rnn).from_config(cfg)
    other.build((None, None, I))
    other.set_weights(rnn.get_weights())
    return other


def _split_reference(model, x, y, k):
    """dL/dh of the state after reading x[:, k-1] (forward) or x[:, k] (go_backwards), by running
    the sequence in two pieces and taking the gradient of the second piece's initial state."""
    rnn, dense = model.layers
    loss = model.compiled_loss[0]
    first = _copy(rnn, return_state=True)           # reads the first piece, hands over its state
    second = _copy(rnn, return_state=False)         # starts from that state
    piece_a, piece_b = (x[:, k:], x[:, :k]) if rnn.go_backwards else (x[:, :k], x[:, k:])
    out_a, *states = first.forward(piece_a)
    out_b = second.forward(piece_b, initial_state=states)
    if rnn.return_sequences:                        # outputs back in the model's order
        out = np.concatenate([out_a, out_b], axis=1)
    else:
        out = out_b
    _, d_pred = loss.value_and_grad(y, dense.forward(out))
    d_out = dense.backward(d_pred)
    if not rnn.return_sequences:
        return second.backward(d_out)[1]            # [dx, dh0, (dc0)] -> dh0
    n_a = piece_a.shape[1]
    dh0 = second.backward(d_out[:, n_a:])[1]
    return dh0 + d_out[:, n_a - 1]                  # plus the direct gradient of the output there


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_state_gradients_equal_the_gradient_of_a_split_sequence(float64, cell, go_backwards,
                                                                return_sequences):
    rng = np.random.default_rng(0)
    model = _model(cell, rng, return_sequences, go_backwards)
    x = rng.standard_normal((B, T, I))
    y = rng.standard_normal((B, T, 2) if return_sequences else (B, 2))
    grads = state_gradients(model, x, y)                              # (B, T, H)
    norms = state_gradient_norms(model, x, y)                         # (T,)
    assert grads.shape == (B, T, H) and norms.shape == (T,)
    for k in (1, 4, T - 1):
        t = k if go_backwards else k - 1              # the input step the handed-over state read
        ref = _split_reference(model, x, y, k)
        assert np.max(np.abs(ref)) > 1e-6             # a real gradient, not zeros on both sides
        assert_close(grads[:, t], ref, rtol=1e-6, what=f"{cell} dL/dh after x[:, {t}]")
        assert norms[t] == pytest.approx(np.linalg.norm(ref, axis=1).mean(), rel=1e-6)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_state_gradients_match_recording_by_hand_at_the_last_step(float64, cell):
    """For a many-to-one model dL/dh_T is just the Dense layer's input gradient."""
    rng = np.random.default_rng(1)
    model = _model(cell, rng)
    x, y = rng.standard_normal((B, T, I)), rng.standard_normal((B, 2))
    rnn, dense = model.layers
    _, d_pred = model.compiled_loss[0].value_and_grad(y, model.forward(x))
    dh_T = dense.backward(d_pred)
    assert_close(state_gradients(model, x, y)[:, -1], dh_T, what="dL/dh_T")


def test_nothing_in_the_model_or_optimizer_changes(float64):
    rng = np.random.default_rng(2)
    model = _model("LSTM", rng, optimizer=optimizers.Adam(0.01, clipnorm=0.5))
    x, y = rng.standard_normal((B, T, I)), rng.standard_normal((B, 2))
    model.fit(x, y, epochs=2, batch_size=2, verbose=0)               # optimizer has state now
    rnn = model.layers[0]
    for w in model.weights:                                           # grads someone else left
        w.grad[...] = rng.standard_normal(w.shape)
    weights = [w.value.copy() for w in model.weights]
    grads = [w.grad.copy() for w in model.weights]
    opt_state = model.optimizer.get_state()
    sentinel = np.zeros(1)
    rnn.state_grads = sentinel
    for flag in (False, True):
        rnn.record_state_grads = flag
        state_gradient_norms(model, x, y)
        state_gradients(model, x, y)
        gradient_norms(model, x, y)
        assert rnn.record_state_grads is flag
        assert rnn.state_grads is sentinel
    for w, v, g in zip(model.weights, weights, grads):
        assert np.array_equal(w.value, v), w.path
        assert np.array_equal(w.grad, g), w.path
    state = model.optimizer.get_state()
    assert sorted(state) == sorted(opt_state)
    for key in state:
        assert np.array_equal(state[key], opt_state[key]), key


def _hand_grads(model, x, y):
    """Weight gradients of the compiled loss by one plain forward/backward."""
    model.zero_grad()
    _, d_pred = model.compiled_loss[0].value_and_grad(y, model.forward(x))
    model.backward(d_pred)
    return [w.grad.astype(np.float64).copy() for w in model.trainable_weights]


@pytest.mark.parametrize("clip", [None, "clipnorm", "global_clipnorm", "clipvalue"])
def test_gradient_norms_match_a_hand_computation(float64, clip):
    rng = np.random.default_rng(3)
    model = _model("SimpleRNN", rng)
    x, y = rng.standard_normal((B, T, I)) * 2, rng.standard_normal((B, 2)) * 3
    g = _hand_grads(model, x, y)
    per_weight = np.array([np.sqrt(np.sum(a ** 2)) for a in g])
    before = np.sqrt(np.sum(per_weight ** 2))
    c = float(np.median(per_weight))                # clips some weights and not others
    if clip == "clipnorm":                          # each array scaled to norm <= c on its own
        after = np.sqrt(np.sum(np.minimum(per_weight, c) ** 2))
    elif clip == "global_clipnorm":                 # all scaled together to global norm <= c
        after = min(before, c)
    elif clip == "clipvalue":
        c = 0.5 * float(np.max(np.abs(np.concatenate([a.ravel() for a in g]))))
        after = np.sqrt(sum(np.sum(np.clip(a, -c, c) ** 2) for a in g))
    else:
        after = before
    kwargs = {} if clip is None else {clip: c}
    model.compile(optimizer=optimizers.SGD(0.1, **kwargs), loss="mse")
    r = gradient_norms(model, x, y)
    assert r["norm_before"] == pytest.approx(before, rel=1e-10)
    assert r["norm_after"] == pytest.approx(after, rel=1e-10)
    if clip is not None:
        assert r["norm_after"] < r["norm_before"] * 0.99    # the setting really clipped
        assert r["clipping"] == f"{clip}={c}"
    else:
        assert r["clipping"] is None
    assert list(r["weight_norms"]) == [w.path for w in model.trainable_weights]
    np.testing.assert_allclose(list(r["weight_norms"].values()), per_weight, rtol=1e-10)
    loss, _ = model.compiled_loss[0].value_and_grad(y, model.forward(x))
    assert r["loss"] == pytest.approx(float(loss), rel=1e-12)


def test_gradient_norm_history_records_what_the_optimizer_clipped(float64):
    rng = np.random.default_rng(4)
    model = _model("GRU", rng, optimizer=optimizers.SGD(0.05, global_clipnorm=0.3))
    x, y = rng.standard_normal((B, T, I)), rng.standard_normal((B, 2)) * 3
    expected = gradient_norms(model, x, y)           # before any update: the first batch
    history = GradientNormHistory()
    model.fit(x, y, batch_size=B, epochs=3, verbose=0, shuffle=False, callbacks=[history])
    assert history.epochs == [0, 1, 2] and history.batches == [0, 0, 0]
    assert history.norm_before[0] == pytest.approx(expected["norm_before"], rel=1e-10)
    assert history.norm_after[0] == pytest.approx(expected["norm_after"], rel=1e-10)
    assert expected["norm_before"] > 0.3
    assert all(a == pytest.approx(min(b, 0.3), rel=1e-10)
               for a, b in zip(history.norm_after, history.norm_before))
    assert history.loss[0] == pytest.approx(expected["loss"], rel=1e-10)
    assert len(set(history.norm_before)) == 3         # weights moved between batches


def test_bidirectional_directions_and_layer_choice(float64):
    rng = np.random.default_rng(5)
    bi = layers.Bidirectional(layers.LSTM(H, return_sequences=True, seed=0), name="bi")
    model = rnnkit.Sequential([layers.Input((T, I)), bi, layers.LSTM(3, name="top"),
                               layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    _randomize(model, rng)
    x, y = rng.standard_normal((B, T, I)), rng.standard_normal((B, 2))
    assert [r.name for r in recurrent_layers(model)] == ["forward_lstm", "backward_lstm", "top"]

    def recorded(layer):                              # record during a plain backward by hand
        layer.record_state_grads = True
        _hand_grads(model, x, y)
        layer.record_state_grads = False
        return layer.state_grads

    fwd, bwd = bi.forward_layer, bi.backward_layer
    np.testing.assert_array_equal(state_gradients(model, x, y), recorded(fwd))
    np.testing.assert_array_equal(state_gradients(model, x, y, layer="bi"), recorded(fwd))
    np.testing.assert_array_equal(state_gradients(model, x, y, layer=bwd), recorded(bwd))
    np.testing.assert_array_equal(state_gradients(model, x, y, layer="backward_lstm"),
                                  recorded(bwd))
    top = state_gradients(model, x, y, layer="top")
    assert top.shape == (B, T, 3)
    assert not np.allclose(recorded(fwd), recorded(bwd))


def test_errors_are_clear(float64):
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((B, T, I)), rng.standard_normal((B, 2))
    dense_only = rnnkit.Sequential([layers.Input((T, I)), layers.Flatten(), layers.Dense(2)])
    dense_only.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no recurrent layer"):
        state_gradient_norms(dense_only, x, y)
    model = rnnkit.Sequential([layers.Input((T, I)), layers.LSTM(H), layers.Dense(2)])
    with pytest.raises(RuntimeError, match="compile"):
        state_gradient_norms(model, x, y)
    with pytest.raises(RuntimeError, match="compile"):
        gradient_norms(model, x, y)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no recurrent layer named 'nope'"):
        state_gradient_norms(model, x, y, layer="nope")
    with pytest.raises(ValueError, match="not a recurrent layer of this model"):
        state_gradient_norms(model, x, y, layer=layers.GRU(2))
    with pytest.raises(ValueError, match="y is required"):
        state_gradient_norms(model, x, None)
