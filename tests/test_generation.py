"""Sampling (temperature, top-k, top-p) and generation that carries the recurrent states."""

import numpy as np
import pytest

from rnnkit import Sequential, generation
from rnnkit.data import CharVocab
from rnnkit.generation import generate_text, sample_next, stream_text
from rnnkit.layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN
from rnnkit.layers.streaming import Streamer

P = np.array([0.5, 0.3, 0.15, 0.05])
N = 200_000


def _freq(ids, V=4):
    return np.bincount(ids, minlength=V) / len(ids)


def _assert_close_to(freq, expected):
    # 5 standard errors of a frequency estimated from N draws
    tol = 5 * np.sqrt(np.asarray(expected) * (1 - np.asarray(expected)) / N) + 1e-12
    assert np.all(np.abs(freq - expected) <= tol), (freq, expected)


# ---- sample_next: statistics on a fixed distribution ----------------------------------------
@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_temperature_reshapes_the_distribution(temperature):
    logits = np.tile(np.log(P) + 3.0, (N, 1))             # any shift of logits is the same
    ids = sample_next(logits, temperature=temperature, rng=0)
    expected = P ** (1 / temperature)
    _assert_close_to(_freq(ids), expected / expected.sum())


@pytest.mark.parametrize("kwargs, expected", [
    ({"top_k": 2}, [0.625, 0.375, 0, 0]),
    ({"top_k": 1}, [1, 0, 0, 0]),
    ({"top_k": 10}, list(P)),
    ({"top_p": 0.75}, [0.625, 0.375, 0, 0]),                       # 0.5 < 0.75 <= 0.8
    ({"top_p": 0.85}, list(np.array([0.5, 0.3, 0.15]) / 0.95) + [0]),
    ({"top_p": 0.4}, [1, 0, 0, 0]),                                # at least one token
    ({"top_p": 1.0}, list(P)),
    ({"top_k": 3, "top_p": 0.9}, list(np.array([0.5, 0.3, 0.15]) / 0.95) + [0]),
])
def test_top_k_and_top_p_keep_the_right_tokens(kwargs, expected):
    ids = sample_next(np.tile(np.log(P), (N, 1)), rng=1, **kwargs)
    freq = _freq(ids)
    _assert_close_to(freq, expected)
    assert np.all(freq[np.asarray(expected) == 0] == 0)


def test_temperature_then_top_p_order():
    # temperature 2 flattens P to sqrt(P)/sum = [.372 .288 .204 .136]: top_p=0.6 keeps 2 tokens,
    # top_p=0.7 keeps 3 (it would keep 1 and 2 if applied before the temperature)
    q = np.sqrt(P) / np.sqrt(P).sum()
    ids = sample_next(np.tile(np.log(P), (N, 1)), temperature=2.0, top_p=0.7, rng=2)
    _assert_close_to(_freq(ids), list(q[:3] / q[:3].sum()) + [0])


def test_greedy_and_top1_are_argmax_with_ties_to_the_lower_id():
    logits = np.random.default_rng(0).normal(size=(500, 30))
    np.testing.assert_array_equal(sample_next(logits, temperature=0), logits.argmax(-1))
    np.testing.assert_array_equal(sample_next(logits, top_k=1, rng=5), logits.argmax(-1))
    assert sample_next([1.0, 3.0, 3.0], temperature=0) == 1
    assert sample_next([1.0, 3.0, 3.0], top_k=1, rng=0) == 1
    assert isinstance(sample_next([0.0, 1.0], rng=0), int)


def test_probabilities_input_matches_logits_and_zero_never_drawn():
    probs = np.tile([0.2, 0.0, 0.5, 0.3], (20_000, 1))
    with np.errstate(divide="ignore"):
        a = sample_next(np.log(probs), rng=3)
    b = sample_next(probs * 7.0, rng=3, from_logits=False)    # normalised here
    np.testing.assert_array_equal(a, b)
    assert not (b == 1).any()
    _assert_close_to(_freq(sample_next(np.tile([0.2, 0.0, 0.5, 0.3], (N, 1)), rng=4,
                                       from_logits=False)), [0.2, 0.0, 0.5, 0.3])


def test_seeds_reproduce_and_generators_advance():
    logits = np.zeros((1000, 50))
    np.testing.assert_array_equal(sample_next(logits, rng=7), sample_next(logits, rng=7))
    assert not np.array_equal(sample_next(logits, rng=7), sample_next(logits, rng=8))
    g = np.random.default_rng(7)
    first, second = sample_next(logits, rng=g), sample_next(logits, rng=g)
    np.testing.assert_array_equal(first, sample_next(logits, rng=7))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("args, kwargs, message", [
    ([[np.nan, 0.0]], {}, "contain NaN"),
    ([[np.inf, 0.0]], {}, r"contain \+inf"),
    ([[-np.inf, -np.inf]], {}, "every logit of a row is -inf"),
    ([[0.5, -0.1]], {"from_logits": False}, "finite and >= 0"),
    ([[0.0, 0.0]], {"from_logits": False}, "sums to 0"),
    ([np.zeros((2, 2, 2))], {}, r"shape \(V,\) or \(B, V\)"),
    ([[]], {}, r"shape \(V,\) or \(B, V\)"),
    ([[0.0, 1.0]], {"temperature": -1}, "temperature must be a finite number >= 0"),
    ([[0.0, 1.0]], {"top_k": 0}, "top_k must be a positive int"),
    ([[0.0, 1.0]], {"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
    ([[0.0, 1.0]], {"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
])
def test_sample_next_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_next(*args, **kwargs)


# ---- generation -------------------------------------------------------------------------------
TEXT = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs."


def _model(cells, vocab, softmax=False, dropout=False):
    """Embedding -> cells (return_sequences=True) -> Dense(V), with large random weights so
    that greedy decoding wanders over many characters instead of repeating one."""
    layers = [Embedding(len(vocab), 8)]
    for cell in cells:
        layers.append(cell(12, return_sequences=True))
        if dropout:
            layers.append(Dropout(0.5))
    layers.append(Dense(len(vocab), activation="softmax" if softmax else None))
    model = Sequential(layers)
    model.build((None, None))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 1.0, w.shape) for w in model.get_weights()])
    return model


def _greedy_by_rerunning(model, vocab, prime, length):
    """The slow reference: run the whole prefix through the model for every new character."""
    ids = list(vocab.encode(prime))
    for _ in range(length):
        scores = model.predict(np.array([ids]))[0, -1].astype(np.float64)
        scores[:2] = -np.inf                                   # padding and OOV never emitted
        ids.append(int(np.argmax(scores)))
    return vocab.decode(ids[len(prime):])


STACKS = {"lstm": [LSTM, LSTM], "gru": [GRU, GRU], "simple_rnn": [SimpleRNN, SimpleRNN],
          "mixed": [GRU, LSTM, SimpleRNN]}


@pytest.mark.parametrize("name", sorted(STACKS))
def test_state_carrying_equals_rerunning_the_prefix(float64, name):
    vocab = CharVocab.from_text(TEXT)
    model = _model(STACKS[name], vocab)
    expected = _greedy_by_rerunning(model, vocab, "the fox", 40)
    assert len(set(expected)) >= 4                             # a non-trivial path
    assert generate_text(model, vocab, "the fox", 40, temperature=0) == expected
    assert generate_text(model, vocab, "the fox", 40, top_k=1, seed=3) == expected


@pytest.mark.parametrize("name", sorted(STACKS))
def test_one_step_scores_equal_full_prefix_scores(float64, name):
    vocab = CharVocab.from_text(TEXT)
    model = _model(STACKS[name], vocab)
    parts = generation._char_model_parts(model)
    ids = vocab.encode(TEXT[:30])[None, :].astype(np.int64)
    scores, states = generation._run(parts, ids[:, :10], [None] * len(parts[1]))
    for t in range(10, 30):
        full = model.predict(ids[:, :t])[0, -1]
        np.testing.assert_allclose(scores, full, rtol=1e-12, atol=1e-12)
        scores, states = generation._run(parts, ids[:, t:t + 1], states)


def test_each_new_token_is_one_step_of_each_layer(monkeypatch):
    vocab = CharVocab.from_text(TEXT)
    model = _model([LSTM, GRU], vocab)
    seen, stepped = [], []
    for layer in model.layers[1:3]:
        original = layer.forward

        def spy(x, *a, _original=original, _name=layer.name, **k):
            seen.append((_name, np.shape(x)[1]))
            return _original(x, *a, **k)
        layer.forward = spy
    original_step = Streamer.step

    def spy_step(self, x_t):
        stepped.append((self.layer.name, np.shape(x_t)))
        return original_step(self, x_t)
    monkeypatch.setattr(Streamer, "step", spy_step)
    generate_text(model, vocab, "jumps over", 25, seed=0)
    for layer, width in zip(model.layers[1:3], (8, 12)):
        steps = [T for name, T in seen if name == layer.name]
        assert steps == [10]                     # the prime once, as a whole sequence
        streamed = [shape for name, shape in stepped if name == layer.name]
        assert streamed == [(1, width)] * 24     # then one streamed step per new token
        assert layer.return_state is False       # left as it was


def test_seeded_sampling_and_streaming():
    vocab = CharVocab.from_text(TEXT)
    model = _model([LSTM], vocab)
    a = generate_text(model, vocab, "the", 60, temperature=1.0, top_p=0.9, seed=11)
    assert a == generate_text(model, vocab, "the", 60, temperature=1.0, top_p=0.9, seed=11)
    assert a != generate_text(model, vocab, "the", 60, temperature=1.0, top_p=0.9, seed=12)
    assert len(a) == 60 and "[UNK]" not in a
    chunks = list(stream_text(model, vocab, "the", 60, temperature=1.0, top_p=0.9, seed=11))
    assert len(chunks) == 60 and "".join(chunks) == a
    assert generate_text(model, vocab, "the", 0) == ""


def test_padding_and_oov_are_never_generated():
    vocab = CharVocab.from_text(TEXT)
    model = _model([GRU], vocab)
    bias = model.layers[-1].bias.value
    bias[:2] = 50.0                                  # the model strongly prefers ids 0 and 1
    text = generate_text(model, vocab, "a", 30, temperature=1.0, seed=0)
    assert len(text) == 30 and "[UNK]" not in text


def test_softmax_output_and_dropout_layers(float64):
    vocab = CharVocab.from_text(TEXT)
    logits_model = _model([LSTM], vocab, dropout=True)
    softmax_model = _model([LSTM], vocab, softmax=True, dropout=True)
    softmax_model.set_weights(logits_model.get_weights())
    for kwargs in ({"temperature": 0}, {"temperature": 0.8, "top_k": 5, "seed": 2}):
        assert generate_text(softmax_model, vocab, "dog", 30, **kwargs) == \
            generate_text(logits_model, vocab, "dog", 30, **kwargs)


def test_generation_errors_are_raised_at_the_call():
    vocab = CharVocab.from_text(TEXT)
    model = _model([LSTM], vocab)
    with pytest.raises(ValueError, match="prime must be a non-empty str"):
        stream_text(model, vocab, "", 5)
    with pytest.raises(ValueError, match="length must be a non-negative int"):
        generate_text(model, vocab, "a", -1)
    with pytest.raises(ValueError, match="top_p must be in"):
        stream_text(model, vocab, "a", 5, top_p=2.0)
    other = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match=r"predicts \d+ classes but the vocabulary has 5"):
        generate_text(model, other, "a", 5)
    last_only = Sequential([Embedding(len(vocab), 4), LSTM(4), Dense(len(vocab))])
    with pytest.raises(ValueError, match="needs return_sequences=True"):
        generate_text(last_only, vocab, "a", 5)
    no_rnn = Sequential([Embedding(len(vocab), 4), Dense(3), Dense(len(vocab))])
    with pytest.raises(ValueError, match="is not a recurrent layer"):
        generate_text(no_rnn, vocab, "a", 5)
    with pytest.raises(ValueError, match=r"expected a model Embedding -> .*got \[LSTM, Dense\]"):
        generate_text(Sequential([LSTM(4, return_sequences=True), Dense(len(vocab))]), vocab,
                      "a", 5)
