"""Greedy and beam-search decoding for encoder-decoder models, one token at a time.

Decoding never re-runs the prefix: a *step function* takes the last token of every hypothesis and
the states carried so far, and returns the next-token log-probabilities and the new states::

    step(tokens (N,), states [array (N, ...), ...]) -> (log_probs (N, V), new_states)

``N`` is the number of live hypotheses (batch x beams). States can be anything batched on the
first axis: an LSTM's h and c, and for attention the encoder outputs (which the step returns
unchanged). :func:`model_step` builds a step function from a Keras-style inference decoder
``Model([token_input, *state_inputs], [probs, *new_states])``, as in the lstm_seq2seq example.

Beam search keeps the ``beam_width`` best partial sequences by total log-probability; a
hypothesis that emits ``end_token`` is finished. Finished hypotheses are ranked by
``score / lp(length)`` with the GNMT length penalty ``lp(n) = ((5 + n) / 6) ** length_penalty``
(``length_penalty=0`` ranks by the plain sum of log-probabilities). With ``beam_width=1`` beam
search is greedy decoding.

>>> import numpy as np
>>> table = np.log(np.array([[0.1, 0.6, 0.3], [0.5, 0.1, 0.4], [0.2, 0.2, 0.6]]))
>>> step = lambda tokens, states: (table[tokens], states)
>>> greedy_decode(step, [], start_token=0, end_token=2, max_length=5)[0]
[1, 0, 1, 0, 1]
"""

import numpy as np

from .activations import log_softmax


def model_step(decoder_model, outputs_are_probs=True):
    """A step function from an inference decoder ``Model([token, *states], [out, *states])``.

    The token input takes shape (N, 1) (integer ids for an Embedding, or one-hot vectors when the
    decoder's first input has a feature axis of size V); ``out`` is (N, 1, V) or (N, V)
    probabilities (softmax) or logits (``outputs_are_probs=False``).
    """
    first = decoder_model.inputs[0]
    one_hot_size = first.shape[-1] if len(first.shape) == 3 else None

    def step(tokens, states):
        tokens = np.asarray(tokens)
        if one_hot_size is not None:
            x = np.zeros((len(tokens), 1, one_hot_size), dtype=decoder_model.dtype)
            x[np.arange(len(tokens)), 0, tokens] = 1.0
        else:
            x = tokens[:, None]
        out, *new_states = decoder_model.forward([x, *states])
        out = out.reshape(len(tokens), -1).astype(np.float64)
        logp = np.log(np.maximum(out, 1e-30)) if outputs_are_probs else log_softmax(out)
        return logp, new_states

    return step


def greedy_decode(step, states, start_token, end_token=None, max_length=50):
    """The most likely next token at every step, for one sequence. Returns (tokens, log_prob)."""
    token, total, out = start_token, 0.0, []
    states = [np.asarray(s) for s in states]
    for _ in range(max_length):
        logp, states = step(np.array([token]), states)
        token = int(np.argmax(logp[0]))
        total += float(logp[0, token])
        if token == end_token:
            break
        out.append(token)
    return out, total


def _penalised(score, length, alpha):
    return score / (((5.0 + length) / 6.0) ** alpha) if alpha else score


def beam_search(step, states, start_token, end_token=None, max_length=50, beam_width=4,
                length_penalty=0.0, return_all=False):
    """Beam search for one sequence; ``states`` are its initial states (batch axis of size 1).

    Returns ``(tokens, score)`` of the best finished hypothesis (``score`` is the total
    log-probability, end token included), or with ``return_all`` a list of ``(tokens, score)``
    for every finished hypothesis, best first by the length-penalised score.
    """
    if beam_width < 1:
        raise ValueError(f"beam_search: beam_width must be >= 1, got {beam_width}")
    states = [np.asarray(s) for s in states]
    seqs, scores = [[]], np.zeros(1)                 # live hypotheses
    tokens = np.array([start_token])
    finished = []                                     # (tokens, score)
    for t in range(max_length):
        logp, states = step(tokens, states)           # (N, V)
        V = logp.shape[1]
        cand = (scores[:, None] + logp).ravel()       # every extension of every hypothesis
        order = np.argsort(-cand, kind="stable")
        new_seqs, new_scores, parents, new_tokens = [], [], [], []
        for flat in order:
            parent, token = divmod(int(flat), V)
            if token == end_token:
                finished.append((seqs[parent], float(cand[flat])))
            else:
                new_seqs.append(seqs[parent] + [token])
                new_scores.append(float(cand[flat]))
                parents.append(parent)
                new_tokens.append(token)
            if len(new_seqs) == beam_width:
                break
        if not new_seqs:
            break
        best_done = max((_penalised(s, len(q) + 1, length_penalty) for q, s in finished),
                        default=-np.inf)
        # stop when no live hypothesis can still beat the best finished one (scores only fall)
        if length_penalty == 0 and finished and best_done >= max(new_scores):
            break
        seqs, scores = new_seqs, np.array(new_scores)
        idx = np.array(parents)
        states = [s[idx] for s in states]             # each beam carries its parent's state
        tokens = np.array(new_tokens)
    else:
        finished.extend(zip(seqs, scores.tolist()))   # out of steps: keep what is live
    if not finished:
        finished = list(zip(seqs, scores.tolist()))
    ranked = sorted(finished, key=lambda qs: -_penalised(qs[1], len(qs[0]) + 1, length_penalty))
    return ranked if return_all else ranked[0]
