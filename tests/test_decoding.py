"""Greedy and beam-search decoding: width 1 equals greedy; beam finds better sequences than
greedy on seeded toy models; decoding an rnnkit decoder with carried states equals re-running
the whole prefix."""

import numpy as np
import pytest

import rnnkit
from gradcheck import assert_close
from rnnkit.decoding import beam_search, greedy_decode, model_step
from rnnkit.layers import LSTM, Dense, Embedding, Input


def _markov(seed, V=6, sharp=2.0):
    """A toy model: the next-token distribution depends on the last token (and a hidden step
    counter in the state, so that the model is not a pure table)."""
    rng = np.random.default_rng(seed)
    tables = rng.standard_normal((3, V, V)) * sharp

    def step(tokens, states):
        (count,) = states
        z = tables[count % 3, tokens]
        z = z - np.log(np.sum(np.exp(z - z.max(-1, keepdims=True)), -1, keepdims=True)) - z.max(-1, keepdims=True)
        return z, [count + 1]

    return step


def _score(step, tokens, start, end):
    """Total log-probability of ``tokens`` followed by ``end``, step by step."""
    states, prev, total = [np.zeros(1, dtype=int)], start, 0.0
    for tok in list(tokens) + [end]:
        logp, states = step(np.array([prev]), states)
        total += logp[0, tok]
        prev = tok
    return total


@pytest.mark.parametrize("seed", range(8))
def test_beam_width_one_is_greedy(seed):
    step = _markov(seed)
    g = greedy_decode(step, [np.zeros(1, dtype=int)], start_token=0, end_token=5, max_length=12)
    b = beam_search(step, [np.zeros(1, dtype=int)], start_token=0, end_token=5, max_length=12,
                    beam_width=1)
    assert g[0] == b[0]
    assert g[1] == pytest.approx(b[1], abs=1e-12)


def test_beam_search_finds_higher_scoring_sequences_than_greedy():
    better = 0
    for seed in range(30):
        step = _markov(seed)
        s0 = [np.zeros(1, dtype=int)]
        g_tokens, g_score = greedy_decode(step, s0, 0, end_token=5, max_length=8)
        b_tokens, b_score = beam_search(step, s0, 0, end_token=5, max_length=8, beam_width=5)
        # the reported scores are the sequences' real log-probabilities
        if len(g_tokens) < 8:
            assert g_score == pytest.approx(_score(step, g_tokens, 0, 5))
        if len(b_tokens) < 8:
            assert b_score == pytest.approx(_score(step, b_tokens, 0, 5))
            assert b_score >= g_score - 1e-12 or len(g_tokens) == 8
        better += b_score > g_score + 1e-9
    assert better >= 3, f"beam beat greedy on only {better} of 30 seeded toy models"


def test_length_penalty_prefers_longer_finished_hypotheses():
    # start -> end directly (p=.3) or a -> end (.7 * .4 = .28): plain scores prefer "end now",
    # a length penalty > 0 divides the longer one's score by more and flips the choice
    logp = np.log(np.array([[1e-9, 0.7, 0.3], [1e-9, 0.6, 0.4], [1 / 3, 1 / 3, 1 / 3]]))
    step = lambda tokens, states: (logp[tokens], states)   # noqa: E731
    plain = beam_search(step, [], 0, end_token=2, max_length=4, beam_width=3)
    long = beam_search(step, [], 0, end_token=2, max_length=4, beam_width=3, length_penalty=2.0)
    assert plain[0] == []
    assert len(long[0]) >= 1


def _seq2seq(V=7, H=8, seed=0):
    """Keras lstm_seq2seq-style decoder with its inference model."""
    rnnkit.random.set_random_seed(seed)
    dec_in = Input((None,), dtype="int32")
    emb = Embedding(V, 5)
    lstm = LSTM(H, return_sequences=True, return_state=True)
    dense = Dense(V, activation="softmax")
    h_in, c_in = Input((H,)), Input((H,))
    y, h, c = lstm(emb(dec_in), initial_state=[h_in, c_in])
    decoder = rnnkit.Model([dec_in, h_in, c_in], [dense(y), h, c])
    rng = np.random.default_rng(seed)
    decoder.set_weights([rng.standard_normal(w.shape) for w in decoder.weights])
    return decoder, H


def test_decoding_with_carried_state_equals_rerunning_the_prefix(float64):
    decoder, H = _seq2seq()
    rng = np.random.default_rng(1)
    h0, c0 = rng.standard_normal((1, H)), rng.standard_normal((1, H))
    tokens, _ = greedy_decode(model_step(decoder), [h0, c0], start_token=1, max_length=6)
    prefix = [1]
    for tok in tokens:   # re-run the full prefix from the initial state each time
        probs, _, _ = decoder.forward([np.array([prefix]), h0, c0])
        assert int(np.argmax(probs[0, -1])) == tok
        prefix.append(tok)
    step = model_step(decoder)
    b_tokens, b_score = beam_search(step, [h0, c0], 1, max_length=6, beam_width=1)
    assert b_tokens == tokens


def test_beam_search_states_follow_their_parent_hypothesis(float64):
    decoder, H = _seq2seq(seed=3)
    rng = np.random.default_rng(2)
    h0, c0 = rng.standard_normal((1, H)), rng.standard_normal((1, H))
    step = model_step(decoder)
    results = beam_search(step, [h0, c0], 1, end_token=0, max_length=5, beam_width=3,
                          return_all=True)
    for tokens, score in results:
        # re-score each returned hypothesis from scratch on the full prefix
        seq = [1] + tokens
        probs, _, _ = decoder.forward([np.array([seq]), h0, c0])
        targets = tokens + ([0] if len(tokens) < 5 else [])
        logp = sum(np.log(probs[0, i, t]) for i, t in enumerate(targets))
        assert_close(score, logp, rtol=1e-9, what=f"score of {tokens}")
