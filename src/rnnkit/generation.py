"""Sampling the next token, and text generation that carries each recurrent layer's state.

A character model ``Embedding -> LSTM/GRU/SimpleRNN (return_sequences=True) ... -> Dense(V)``
reads the prime once as a whole sequence; after that each new character costs one step of each
layer, through a :class:`~rnnkit.layers.streaming.Streamer` per recurrent layer that starts
from the prime's final states (the same compiled single step as ``layer.streamer()``)::

    states = run(prime)                              # (1, P) ids, once, layer.forward
    streams = [layer.streamer(1, s) for ...]         # one per recurrent layer
    repeat:  id = sample_next(logits)                # (V,) -> int
             x = embedding(id)                       # (1, D)
             x = stream.step(x) for each stream      # (1, H): one step, O(1) per token
             logits = dense(x)                       # (V,)

This gives the same numbers as re-running the whole prefix every step (a test checks it for
LSTM, GRU and SimpleRNN stacks) at a fraction of the cost.

    >>> import numpy as np
    >>> sample_next(np.log([0.1, 0.6, 0.3]), temperature=0)          # greedy
    1
    >>> sample_next(np.log([0.1, 0.6, 0.3]), top_k=1, rng=0)          # top-1 is greedy too
    1
"""

import numpy as np

from .layers.dense import Dense
from .layers.dropout import Dropout
from .layers.embedding import Embedding
from .layers.input_layer import InputLayer
from .layers.recurrent import Recurrent
from .random import make_rng


def _check_options(temperature, top_k, top_p):
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) \
            or not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"sample_next: temperature must be a finite number >= 0, "
                         f"got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer))
                              or top_k < 1):
        raise ValueError(f"sample_next: top_k must be a positive int or None, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(
            top_p, (int, float, np.floating)) or not 0.0 < top_p <= 1.0):
        raise ValueError(f"sample_next: top_p must be in (0, 1] or None, got {top_p!r}")


def _log_probs(a, from_logits):
    """Row-normalised log-probabilities of logits or of (unnormalised) probabilities."""
    if np.isnan(a).any():
        raise ValueError("sample_next: the scores contain NaN")
    if from_logits:
        if np.isposinf(a).any():
            raise ValueError("sample_next: the logits contain +inf")
        top = a.max(axis=-1, keepdims=True)
        if np.isneginf(top).any():
            raise ValueError("sample_next: every logit of a row is -inf")
        z = a - top
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    if (a < 0).any() or np.isinf(a).any():
        raise ValueError("sample_next: probabilities must be finite and >= 0")
    total = a.sum(axis=-1, keepdims=True)
    if (total <= 0).any():
        raise ValueError("sample_next: a row of probabilities sums to 0")
    with np.errstate(divide="ignore"):
        return np.log(a / total)


def sample_next(logits_or_probs, temperature=1.0, top_k=None, top_p=None, rng=None,
                from_logits=True):
    """Draw the next token id from a model's scores.

    In order (as Hugging Face's samplers): divide the log-probabilities by ``temperature``;
    keep the ``top_k`` most likely tokens (exactly k; ties go to the lower id); keep the
    smallest set of most likely tokens whose probability reaches ``top_p`` (nucleus sampling,
    at least one token); renormalise and draw. ``temperature=0`` is greedy (``argmax``, the
    lower id on ties).

    Args:
        logits_or_probs: (V,) or (B, V) scores: logits (``from_logits=True``, default), or
            non-negative probabilities (normalised here) with ``from_logits=False``.
        temperature: > 1 flattens, < 1 sharpens, 0 is greedy.
        top_k: keep only the k most likely tokens (None: all).
        top_p: keep the most likely tokens up to this total probability (None: all).
        rng: int seed or ``numpy.random.Generator``; None draws from rnnkit's global seed.
        from_logits: whether the scores are logits.

    Returns:
        An int for a (V,) input, an int64 array (B,) for a (B, V) input.
    """
    _check_options(temperature, top_k, top_p)
    a = np.asarray(logits_or_probs, dtype=np.float64)
    if a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise ValueError(f"sample_next: expected scores of shape (V,) or (B, V), got {a.shape}")
    single = a.ndim == 1
    logp = _log_probs(np.atleast_2d(a), from_logits)             # (B, V)
    B, V = logp.shape
    if temperature == 0:
        ids = logp.argmax(axis=-1)
    else:
        logp = logp / temperature
        order = np.argsort(-logp, axis=-1, kind="stable")         # (B, V), most likely first
        lp = np.take_along_axis(logp, order, axis=-1)
        keep = np.isfinite(lp)                                   # zero-probability tokens out
        if top_k is not None:
            keep[:, top_k:] = False
        p = np.exp(lp - lp[:, :1]) * keep
        p /= p.sum(axis=-1, keepdims=True)
        if top_p is not None:
            mass_before = np.cumsum(p, axis=-1) - p               # probability of better tokens
            keep &= mass_before < top_p
            keep[:, 0] = True
            p = p * keep
            p /= p.sum(axis=-1, keepdims=True)
        # inverse CDF; the kept tokens are a prefix of `order`, rounding cannot leave it
        u = make_rng(rng).random((B, 1))
        pick = (np.cumsum(p, axis=-1) <= u).sum(axis=-1)
        pick = np.minimum(pick, keep.sum(axis=-1) - 1)
        ids = order[np.arange(B), pick]
    return int(ids[0]) if single else ids.astype(np.int64)


# ---- generation --------------------------------------------------------------------------------
def _char_model_parts(model):
    """(embedding, recurrent layers, dense) of an Embedding -> RNNs -> Dense stack."""
    layers = [l for l in getattr(model, "layers", model) if not isinstance(l, InputLayer)]
    layers = [l for l in layers if not isinstance(l, Dropout)]          # identity at inference
    if len(layers) < 3 or not isinstance(layers[0], Embedding) or not isinstance(layers[-1], Dense):
        names = ", ".join(type(l).__name__ for l in layers)
        raise ValueError(f"generate_text: expected a model Embedding -> LSTM/GRU/SimpleRNN "
                         f"layers -> Dense, got [{names}]")
    rnns = layers[1:-1]
    for layer in rnns:
        if not (isinstance(layer, Recurrent) or hasattr(layer, "streamer")):  # or a block
            raise ValueError(f"generate_text: layer {layer.name!r} ({type(layer).__name__}) is "
                             f"not a recurrent layer; expected Embedding -> RNNs -> Dense")
        if not layer.return_sequences or layer.go_backwards:
            raise ValueError(f"generate_text: recurrent layer {layer.name!r} needs "
                             f"return_sequences=True and go_backwards=False")
    return layers[0], rnns, layers[-1]


def _run(parts, ids, states):
    """Feed ids (1, T) through the stack from ``states``; returns (last scores (V,), states)."""
    embedding, rnns, dense = parts
    x = embedding.forward(ids)                                # (1, T, D)
    new_states = []
    for layer, s in zip(rnns, states):
        saved = layer.return_state
        layer.return_state = True                             # restored before anything else runs
        try:
            x, *s = layer.forward(x, training=False, initial_state=s)   # (1, T, H), [(1, H)...]
        finally:
            layer.return_state = saved
        new_states.append(s)
    scores = dense.forward(x[:, -1])                          # (1, V)
    return scores[0], new_states


def _step(parts, streams, token):
    """One new token through the stack: embedding, one step of each stream, dense -> (V,)."""
    embedding, _, dense = parts
    x = embedding.forward(np.array([[token]]))[:, 0]          # (1, D)
    for stream in streams:
        x = stream.step(x)                                    # (1, H)
    return dense.forward(x)[0]                                # (V,)


def _generate_ids(model, vocab, prime, length, temperature, top_k, top_p, seed):
    """Yield None once the arguments are checked and the prime is read, then the new ids."""
    _check_options(temperature, top_k, top_p)
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"generate_text: length must be a non-negative int, got {length!r}")
    if not isinstance(prime, str) or not prime:
        raise ValueError("generate_text: prime must be a non-empty str (the model needs a first "
                         "token to read)")
    parts = _char_model_parts(model)
    n_out = parts[2].units
    if n_out != len(vocab):
        raise ValueError(f"generate_text: the model predicts {n_out} classes but the vocabulary "
                         f"has {len(vocab)} tokens")
    from_logits = getattr(parts[2].activation, "name", None) != "softmax"
    banned = list(getattr(vocab, "special_ids", ()))          # never emit padding or OOV
    rng = make_rng(seed)
    ids = np.asarray(vocab.encode(prime), dtype=np.int64)[None, :]   # (1, P)
    scores, states = _run(parts, ids, [None] * len(parts[1]))
    yield None                                                # ready: checks passed, prime read
    streams = None
    for step in range(length):
        scores = np.array(scores, dtype=np.float64)
        scores[banned] = -np.inf if from_logits else 0.0
        next_id = sample_next(scores, temperature, top_k, top_p, rng, from_logits)
        yield next_id
        if step + 1 < length:                                 # one step of each layer per token
            if streams is None:
                streams = [layer.streamer(1, initial_state=s)
                           for layer, s in zip(parts[1], states)]
            scores = _step(parts, streams, next_id)


def stream_text(model, vocab, prime, length, temperature=1.0, top_k=None, top_p=None, seed=None):
    """Yield the generated text token by token (a character each for a CharVocab).

    Arguments as :func:`generate_text`. The prime runs once; every further token is one step of
    each recurrent layer from the states the previous step returned. Arguments are checked at
    the call, before the first token is asked for.
    """
    ids = _generate_ids(model, vocab, prime, length, temperature, top_k, top_p, seed)
    next(ids)                                                 # checks and reads the prime now
    return (vocab.decode([i]) for i in ids)


def generate_text(model, vocab, prime, length, temperature=1.0, top_k=None, top_p=None,
                  seed=None):
    """Continue ``prime`` by ``length`` tokens sampled from ``model``; returns the new text.

    Args:
        model: a Sequential (or list of layers) Embedding -> one or more LSTM/GRU/SimpleRNN
            with ``return_sequences=True`` (Dropout layers allowed) -> Dense(len(vocab)),
            giving logits (or probabilities with a softmax activation).
        vocab: the vocabulary the model was trained with (``encode``/``decode``).
        prime: the text to start from (at least one token).
        length: how many tokens to generate.
        temperature, top_k, top_p: as :func:`sample_next` (temperature 0 is greedy).
        seed: int or Generator; the same seed gives the same text.

    Returns:
        The generated continuation (without the prime).
    """
    ids = _generate_ids(model, vocab, prime, length, temperature, top_k, top_p, seed)
    next(ids)
    return vocab.decode(list(ids))
