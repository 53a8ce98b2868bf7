"""A model and its vocabulary reading a text: the per-character traces the page shows.

``CellReader(model, vocab)`` accepts a model whose input is a sequence of token ids
(``Embedding`` first) with one or more LSTM / GRU / SimpleRNN / MinGRU / MinLSTM /
LayerNormLSTM layers, plain or each inside a pre-norm
:class:`~rnnkit.layers.residual.ResidualBlock` (``y = x + f(LN(x))``); layers between them must
keep the time axis (Dropout is the identity at inference). Inside a block, the recurrent layer
reads the block's ``LN(x)`` (what the page shows are its own h and gates, not the block's output
``x + h``); what follows the layer in the stack reads the block's output, as the model does. When the model is a character
language model (its output is ``(1, T, len(vocab))``), it also gives the next-character
probabilities that hover shows: ``softmax(model.predict(ids))``, computed by the layers after the
last recurrent one from the states already traced, without a second forward (the tests compare
them with ``model.predict``), and samples text.
Anything else gets :attr:`CellReader.reason`, a sentence saying why the cells cannot be shown.

>>> import numpy as np, rnnkit
>>> from rnnkit import layers
>>> from rnnkit.data import CharVocab
>>> vocab = CharVocab.from_text("hello world")
>>> m = rnnkit.Sequential([layers.Input((None,), dtype="int32"), layers.Embedding(len(vocab), 4),
...                        layers.LSTM(3, return_sequences=True, seed=0), layers.Dense(len(vocab))])
>>> r = CellReader(m, vocab).read("hello")
>>> r.traces[0]["c"].shape, r.top_ids.shape
((5, 3), (5, 5))
"""

import numpy as np

from ..data.vocab import CharVocab
from ..generation import sample_next
from ..layers.bidirectional import Bidirectional
from ..layers.dropout import Dropout
from ..layers.embedding import Embedding
from ..layers.input_layer import InputLayer
from ..layers.recurrent import Recurrent
from ..layers.residual import ResidualBlock
from ..random import make_rng
from .cells import KINDS, LazyTrace, forward_h, cell_of, step_layer, zero_state

MAX_CHARS = 200_000          # longest text read at once


def _rnn_in(layer):
    """The recurrent layer that ``layer`` is or that a ResidualBlock holds, else None."""
    if isinstance(layer, Recurrent):
        return layer
    if isinstance(layer, ResidualBlock) and isinstance(layer.rnn, Recurrent):
        return layer.rnn
    return None


class Reading:
    """What a model computed over one text (see :meth:`CellReader.read`).

    Attributes: ``text``, ``ids`` (T,), ``oov`` (``{char: count}`` read as [UNK]), ``traces``
    (one ``{kind: (T, H)}`` mapping per recurrent layer, :class:`~rnnkit.view.cells.LazyTrace`),
    ``probs`` ((T, V) next-token probabilities or None), ``top_ids`` / ``top_probs`` ((T, 5) or
    None).
    """

    @property
    def rebuild_errors(self):
        """Per layer, max |h rebuilt from the gates - layer.forward's h| (computes the gates)."""
        return [t.rebuild_error for t in self.traces]


def _softmax(logits):
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class CellReader:
    """Reads texts with ``model`` and ``vocab``; ``reason`` is None when it can."""

    def __init__(self, model, vocab):
        self.model, self.vocab = model, vocab
        self.reason = self._check()

    def _check(self):
        if not isinstance(self.vocab, CharVocab):
            return (f"hidden cells over text need a character vocabulary; this run's is "
                    f"{type(self.vocab).__name__} (its tokens are not characters)")
        stack = [l for l in getattr(self.model, "layers", []) if not isinstance(l, InputLayer)]
        if not stack or not isinstance(stack[0], Embedding):
            names = ", ".join(type(l).__name__ for l in stack) or "no layers"
            return (f"the model's input is not a sequence of token ids (its first layer is not "
                    f"an Embedding: [{names}])")
        for l in stack:
            if isinstance(l, Bidirectional):
                return (f"{l.name}: {type(l).__name__} layers read the text both ways; their "
                        "cells are not shown")
        rec = [k for k, l in enumerate(stack) if _rnn_in(l) is not None]
        if not rec:
            return ("the model has no LSTM, GRU, SimpleRNN, MinGRU, MinLSTM or LayerNormLSTM "
                    "layer (plain or in a ResidualBlock)")
        for k in rec:
            layer = _rnn_in(stack[k])
            if cell_of(layer) is None:
                return f"{layer.name}: {type(layer).__name__} cells are not shown"
            if layer.go_backwards:
                return f"{layer.name}: reads the text backwards (go_backwards=True)"
        self.stack = stack
        self.rnns = [_rnn_in(stack[k]) for k in rec]
        self.before = stack[:rec[-1] + 1]       # embedding ... last recurrent layer (or block)
        self.after = stack[rec[-1] + 1:]        # reads its output (a block's: x + f(LN(x)))
        out_units = getattr(stack[-1], "units", None)
        self.is_lm = (all(l.return_sequences for l in self.rnns) and out_units == len(self.vocab))
        return None

    # ---- description --------------------------------------------------------------------------
    def layers(self):
        """``[{"index", "name", "cell", "units", "kinds"}]`` of the recurrent layers."""
        return [{"index": k, "name": l.name, "cell": cell_of(l), "units": int(l.units),
                 "kinds": list(KINDS[cell_of(l)])} for k, l in enumerate(self.rnns)]

    def check_unit(self, layer, kind, unit):
        """Validate a (layer, kind, unit) request; ValueError naming what exists."""
        if not isinstance(layer, int) or not 0 <= layer < len(self.rnns):
            raise ValueError(f"no recurrent layer {layer!r}: this model has layers 0.."
                             f"{len(self.rnns) - 1}")
        l = self.rnns[layer]
        kinds = KINDS[cell_of(l)]
        if kind not in kinds:
            raise ValueError(f"layer {layer} ({l.name}, {cell_of(l)}) has no {kind!r}; "
                             f"it has {', '.join(kinds)}")
        if not isinstance(unit, int) or not 0 <= unit < l.units:
            raise ValueError(f"layer {layer} ({l.name}) has units 0..{l.units - 1}, not {unit!r}")

    # ---- reading ------------------------------------------------------------------------------
    def encode(self, text):
        """(ids (T,), ``{char: count}`` of characters outside the vocabulary)."""
        if not isinstance(text, str) or not text:
            raise ValueError("the text is empty: type or paste some text to read")
        if len(text) > MAX_CHARS:
            raise ValueError(f"the text has {len(text):,} characters; at most {MAX_CHARS:,} "
                             "are read at once")
        ids = np.asarray(self.vocab.encode(text), dtype=np.int64)
        oov = {}
        for ch, i in zip(text, ids.tolist()):
            if i == 1 and ch != "[UNK]":
                oov[ch] = oov.get(ch, 0) + 1
        return ids, oov

    def read(self, text):
        """Read ``text``: a :class:`Reading` with every layer's trace (and the predictions)."""
        if self.reason:
            raise ValueError(self.reason)
        ids, oov = self.encode(text)
        r = Reading()
        r.text, r.ids, r.oov, r.traces = text, ids, oov, []
        x = ids[None]                                                 # (1, T)
        def run(layer, x):
            if isinstance(layer, Dropout):
                return x                                              # identity at inference
            if isinstance(layer, Recurrent):
                x_in = np.asarray(x[0], dtype=layer.kernel.value.dtype)
                h = forward_h(layer, x_in)                            # (T, H)
                r.traces.append(LazyTrace(layer, x_in, h))            # gates when asked for
                return h[None]                                        # (1, T, H)
            if _rnn_in(layer) is not None:                            # y = x + f(LN(x))
                f = layer.norm.forward(np.asarray(x))
                for inner in layer.layers:
                    f = run(inner, f)
                return x + f
            return layer.forward(x, training=False)

        for layer in self.before:
            x = run(layer, x)
            if np.ndim(x) != 3 or x.shape[1] != len(ids):
                raise ValueError(f"{layer.name}: gives output of shape {np.shape(x)}, which no "
                                 "longer has one row per character")
        r.probs = r.top_ids = r.top_probs = None
        if self.is_lm:
            y = x                                                     # the last layer's h
            for layer in self.after:                                  # (no second forward)
                if not isinstance(layer, Dropout):
                    y = layer.forward(y, training=False)
            r.probs = self._probs(np.asarray(y, np.float64)[0])       # (T, V)
            k = min(5, r.probs.shape[1])
            part = np.argpartition(-r.probs, k - 1, axis=-1)[:, :k]   # the k likeliest, unsorted
            vals = np.take_along_axis(r.probs, part, axis=-1)
            order = np.take_along_axis(part, np.lexsort((part, -vals)), axis=-1)
            r.top_ids = order                                         # most likely first
            r.top_probs = np.take_along_axis(r.probs, order, axis=-1)
        return r

    def _probs(self, out):
        if getattr(getattr(self.stack[-1], "activation", None), "name", None) == "softmax":
            return out
        return _softmax(out)

    # ---- sampling -----------------------------------------------------------------------------
    def sample(self, prime, length, temperature=1.0, top_k=None, top_p=None, seed=None,
               layer=0, kind="h", unit=0):
        """Yield ``(char, value of the chosen unit after reading it)`` for ``length`` new
        characters sampled after ``prime`` (one recurrent step per character)."""
        if self.reason:
            raise ValueError(self.reason)
        if not self.is_lm:
            raise ValueError("sampling needs a character language model (output: one "
                             "probability per vocabulary entry at every step)")
        self.check_unit(layer, kind, unit)
        if isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= 5000:
            raise ValueError(f"length must be an int in 1..5000, got {length!r}")
        sample_next(np.zeros(2), temperature, top_k, top_p, 0)      # checks the options
        ids, _ = self.encode(prime)
        banned = list(getattr(self.vocab, "special_ids", (0, 1)))
        rng = make_rng(seed)
        states = [zero_state(l) for l in self.rnns]

        found = {}

        def run(l, x):                                                # x (D,): one step
            if isinstance(l, Recurrent):
                k = len(found)
                states[k], found[k] = step_layer(l, x, states[k])
                return states[k][0]
            if _rnn_in(l) is not None:                                # y = x + f(LN(x))
                f = l.norm.forward(x[None, None])[0, 0]
                for inner in l.layers:
                    f = run(inner, f)
                return x + f
            if isinstance(l, Dropout):
                return x
            return l.forward(x[None, None], training=False)[0, 0]

        def advance(token):
            x = self.before[0].forward(np.array([[token]]))[0, 0]    # (D,)
            found.clear()
            for l in self.before[1:]:
                x = run(l, x)
            values = found[layer]
            y = x[None, None]
            for l in self.after:
                if not isinstance(l, Dropout):
                    y = l.forward(y, training=False)
            scores = np.asarray(y, np.float64)[0, 0]                 # (V,)
            return scores, float(values[kind][unit])

        for token in ids.tolist():
            scores, _ = advance(token)
        from_logits = getattr(getattr(self.stack[-1], "activation", None), "name",
                              None) != "softmax"
        for _ in range(length):
            scores[banned] = -np.inf if from_logits else 0.0
            token = sample_next(scores, temperature, top_k, top_p, rng, from_logits)
            scores, value = advance(token)
            yield self.vocab.decode([token]), value
