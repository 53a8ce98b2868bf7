"""Masks end to end: Embedding(mask_zero=True) -> recurrent layer (or Bidirectional) -> Dense /
TimeDistributed(Dense) -> masked loss. A padded batch gives the same outputs, loss and gradients
as running the unpadded sequences one by one, with "post" and "pre" padding."""

import numpy as np
import pytest

import rnnkit
from gradcheck import assert_close
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Masking, SimpleRNN, TimeDistributed

# every test here runs with the reference kernels and with the compiled fast ones
pytestmark = pytest.mark.usefixtures("kernels")

V, E, H, K = 9, 3, 4, 5
LENGTHS = [5, 3, 1]


def _build(cls, bidirectional, per_step):
    rnn = cls(H, return_sequences=per_step)
    if bidirectional:
        rnn = Bidirectional(rnn)
    head = TimeDistributed(Dense(K)) if per_step else Dense(K)
    model = rnnkit.Sequential([Embedding(V, E, mask_zero=True), rnn, head])
    model.build((None, None))
    rng = np.random.default_rng(0)
    model.set_weights([rng.standard_normal(w.shape) * 0.5 for w in model.weights])
    return model


def _run(model, x, y, loss):
    model.zero_grad()
    out = model.forward(x, training=True)
    value, dout = loss.value_and_grad(y, out, mask=model.output_mask)
    model.backward(dout)
    return out, value, [w.grad.copy() for w in model.weights]


@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN])
def test_padded_batch_equals_sequences_one_by_one(float64, cls, bidirectional, per_step, padding):
    rng = np.random.default_rng(1)
    seqs = [rng.integers(1, V, n) for n in LENGTHS]
    labels = [rng.integers(0, K, n) if per_step else rng.integers(0, K) for n in LENGTHS]
    T = max(LENGTHS)
    x = np.zeros((len(seqs), T), dtype=np.int64)
    y = np.zeros((len(seqs), T) if per_step else (len(seqs),), dtype=np.int64)
    for b, (s, lab) in enumerate(zip(seqs, labels)):
        sl = slice(0, len(s)) if padding == "post" else slice(T - len(s), T)
        x[b, sl] = s
        if per_step:
            y[b, sl] = lab
        else:
            y[b] = lab
    model = _build(cls, bidirectional, per_step)
    loss = rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")

    out, value, grads = _run(model, x, y, loss)
    total, summed = 0.0, [np.zeros_like(g) for g in grads]
    for b, (s, lab) in enumerate(zip(seqs, labels)):
        o1, v1, g1 = _run(model, s[None], np.asarray(lab)[None], loss)
        if per_step:
            sl = slice(0, len(s)) if padding == "post" else slice(T - len(s), T)
            assert_close(out[b, sl], o1[0], what=f"outputs of sequence {b}")
        else:
            assert_close(out[b], o1[0], what=f"output of sequence {b}")
        total += v1
        summed = [a + g for a, g in zip(summed, g1)]
    assert_close(value, total, what="summed loss")
    for w, g, s in zip(model.weights, grads, summed):
        assert_close(g, s, what=f"gradient of {w.path}")


def test_masking_layer_feeds_the_same_mask(float64):
    """Masking(0.0) on float inputs gives the same as the unpadded sequence."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 3))
    x[0, 4:] = 0.0
    model = rnnkit.Sequential([rnnkit.Input((None, 3)), Masking(0.0), LSTM(4), Dense(2)])
    full = model.predict(x)
    alone = model.predict(x[:1, :4])
    assert_close(full[0], alone[0], what="masked vs unpadded")
