"""Strings to indices: ``StringLookup`` and ``TextVectorization``, as Keras's layers.

A vocabulary is a list of tokens; a token's index is its position after the special tokens:

    StringLookup:      [mask_token (if given)] [oov_token x num_oov_indices] [vocabulary...]
    TextVectorization: ["" (padding, index 0)] ["[UNK]" (index 1)] [vocabulary...]

``adapt(data)`` builds the vocabulary from data: every token counted, sorted by count (most
frequent first), ties by the token in reverse order as Keras does, cut to ``max_tokens``
(special tokens included). ``TextVectorization`` first standardises each string (lower case,
punctuation stripped, by default) and splits it into words (``split="whitespace"``) or
characters (``split="character"``), adds n-grams if asked, then looks the tokens up and pads
(or cuts) every row to ``output_sequence_length`` (default: the longest row).

These layers run on the inputs before any weight: they have no gradient (``backward``
returns None) and no weights; the vocabulary is part of the layer's config, and
``save_vocabulary`` / ``vocabulary="file.json"`` keep it as a JSON list. With several OOV
indices, an unknown token goes to ``crc32(token) % num_oov_indices`` (Keras hashes with
farmhash, so the bucket of a given token can differ from Keras's).

>>> from rnnkit.layers.text_lookup import StringLookup, TextVectorization
>>> lookup = StringLookup(vocabulary=["a", "b"])
>>> lookup([["a", "c", "b"]]).tolist()
[[1, 0, 2]]
>>> tv = TextVectorization(output_sequence_length=4)
>>> tv.adapt(["The cat sat.", "the dog"])
>>> tv.get_vocabulary()
['', '[UNK]', 'the', 'sat', 'dog', 'cat']
>>> tv(["The cat ran"]).tolist()
[[2, 5, 1, 0]]
"""

import collections
import json
import numbers
import os
import re
import string
import zlib

import numpy as np

from ..errors import FileFormatError
from .base import Layer

_PUNCTUATION = re.compile("[" + re.escape(string.punctuation) + "]")
_MAX_VOCAB_FILE_BYTES = 64 * 1024 * 1024


def _read_vocabulary(path, where):
    """A vocabulary from a JSON list (``.json``) or a text file of one token per line."""
    try:
        if not os.path.isfile(path):
            raise FileFormatError(f"{where}: vocabulary file {path} is not a regular file")
        if os.path.getsize(path) > _MAX_VOCAB_FILE_BYTES:
            raise FileFormatError(f"{where}: vocabulary file {path} is larger than "
                                  f"{_MAX_VOCAB_FILE_BYTES} bytes")
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{where}: cannot read vocabulary file {path}: {e}") from None
    if str(path).endswith(".json"):
        try:
            tokens = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise FileFormatError(f"{where}: {path} is not valid JSON") from None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise FileFormatError(f"{where}: {path} must hold a JSON list of strings")
        return tokens
    return text.splitlines()


def _ranked(counts, limit):
    """Tokens by count, most frequent first; ties by token, high to low (Keras's order)."""
    ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    tokens = [t for t, _ in ranked]
    return tokens if limit is None else tokens[:max(limit, 0)]


class _StringInput(Layer):
    """Layers whose inputs are strings: a nested list of them is made one object array."""

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)):
            inputs = np.asarray(inputs, dtype=object)
        return super().__call__(inputs, *args, **kwargs)


class StringLookup(_StringInput):
    """Keras's ``StringLookup``: strings -> int64 indices (``invert=True``: the reverse)."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, invert=False, output_mode="int", encoding="utf-8",
                 **kwargs):
        kwargs.pop("dtype", None)                    # outputs are int64 (or strings)
        super().__init__(**kwargs)
        for what, v, low in (("max_tokens", max_tokens, 1),
                             ("num_oov_indices", num_oov_indices, 0)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)
                                  or v < low):
                raise ValueError(f"{self.name}: expected {what} to be an int >= {low}, "
                                 f"got {v!r}")
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"{self.name}: output_mode must be 'int', 'one_hot', 'multi_hot' "
                             f"or 'count', got {output_mode!r}")
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.invert = bool(invert)
        self.output_mode = output_mode
        self.encoding = encoding
        self._tokens = []
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)
        self.built = True

    # ---- the vocabulary ----------------------------------------------------------------------
    def _specials(self):
        return ([] if self.mask_token is None else [self.mask_token]) \
            + [self.oov_token] * self.num_oov_indices

    def get_vocabulary(self, include_special_tokens=True):
        """Every token in index order (the special tokens first, unless asked not to)."""
        return (self._specials() if include_special_tokens else []) + list(self._tokens)

    def vocabulary_size(self):
        return len(self._specials()) + len(self._tokens)

    def set_vocabulary(self, vocabulary):
        """A list of tokens (without the special ones), or a ``.json`` / text file of them."""
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = _read_vocabulary(os.fspath(vocabulary), self.name)
        tokens = [str(t) for t in vocabulary]
        special = set(self._specials())
        if len(set(tokens)) != len(tokens):
            dup = [t for t, n in collections.Counter(tokens).items() if n > 1][:5]
            raise ValueError(f"{self.name}: the vocabulary repeats tokens {dup}")
        if special & set(tokens):
            raise ValueError(f"{self.name}: the vocabulary holds special tokens "
                             f"{sorted(special & set(tokens))}")
        self._tokens = tokens
        self._index = {t: i + len(self._specials()) for i, t in enumerate(tokens)}

    def save_vocabulary(self, path):
        """Write the vocabulary (without special tokens) as a JSON list."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self._tokens, f, ensure_ascii=False)

    def _count(self, tokens, counts):
        for t in tokens:
            if t != self.mask_token:
                counts[t] += 1

    def adapt(self, data, batch_size=None, steps=None):
        """Build the vocabulary from ``data`` (strings, any nesting, or an iterable of
        batches)."""
        counts = collections.Counter()
        self._count(_strings(data), counts)
        limit = None if self.max_tokens is None else self.max_tokens - len(self._specials())
        self.set_vocabulary(_ranked(counts, limit))

    # ---- lookups -----------------------------------------------------------------------------
    def _lookup(self, token):
        i = self._index.get(token)
        if i is not None:
            return i
        if self.mask_token is not None and token == self.mask_token:
            return 0
        if self.num_oov_indices == 0:
            raise ValueError(f"{self.name}: token {token!r} is not in the vocabulary and "
                             "num_oov_indices=0")
        start = 0 if self.mask_token is None else 1
        if self.num_oov_indices == 1:
            return start
        return start + zlib.crc32(token.encode(self.encoding)) % self.num_oov_indices

    def forward(self, x, training=False, mask=None):
        if self.invert:
            return self._invert(x)
        arr = np.asarray(x, dtype=object)
        if not self._tokens and not self._specials():
            raise ValueError(f"{self.name}: the vocabulary is empty: adapt() or pass "
                             "vocabulary=")
        ids = np.vectorize(lambda t: self._lookup(_text(t, self)), otypes=[np.int64])(arr) \
            if arr.size else np.zeros(arr.shape, np.int64)
        return self._encode(ids)

    def _invert(self, x):
        ids = np.asarray(x)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{self.name}: invert=True expects integer indices, got "
                            f"{ids.dtype}")
        vocab = np.array(self.get_vocabulary(), dtype=object)
        if ids.size and (ids.min() < 0 or ids.max() >= len(vocab)):
            raise ValueError(f"{self.name}: index {int(ids.max())} is out of the vocabulary "
                             f"of {len(vocab)} tokens")
        return vocab[ids]

    def _encode(self, ids):
        if self.output_mode == "int":
            return ids
        n = self.vocabulary_size()
        if self.output_mode == "one_hot":
            return np.eye(n, dtype=np.float32)[ids]
        if ids.ndim == 1:
            ids = ids[:, None]
        out = np.zeros((ids.shape[0], n), np.float32)
        np.add.at(out, (np.arange(ids.shape[0])[:, None], ids), 1.0)
        return np.minimum(out, 1.0) if self.output_mode == "multi_hot" else out

    def backward(self, dy):
        return None                      # indices have no gradient

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int" or self.invert:
            return tuple(input_shape)
        return (input_shape[0], self.vocabulary_size())

    def compute_mask(self, inputs, mask=None):
        if self.mask_token is None or self.invert:
            return None
        return np.asarray(inputs, dtype=object) != self.mask_token

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                    "mask_token": self.mask_token, "oov_token": self.oov_token,
                    "vocabulary": list(self._tokens), "invert": self.invert,
                    "output_mode": self.output_mode, "encoding": self.encoding})
        return cfg


def _text(t, layer):
    if isinstance(t, bytes):
        return t.decode(layer.encoding)
    if not isinstance(t, str):
        raise TypeError(f"{layer.name}: expected strings, got {type(t).__name__} {t!r}")
    return t


def _strings(data):
    """Every string in ``data``: a string, an array or nested list of them, or batches."""
    if isinstance(data, (str, bytes)):
        yield data.decode() if isinstance(data, bytes) else data
        return
    if isinstance(data, np.ndarray):
        data = data.ravel().tolist()
    for item in data:
        yield from _strings(item)


_STANDARDIZE = {
    None: lambda s: s,
    "lower": str.lower,
    "strip_punctuation": lambda s: _PUNCTUATION.sub("", s),
    "lower_and_strip_punctuation": lambda s: _PUNCTUATION.sub("", s.lower()),
}
_SPLIT = {None: lambda s: [s], "whitespace": str.split, "character": list}


class TextVectorization(_StringInput):
    """Keras's ``TextVectorization``: strings (B,) -> token indices (B, L), or counts."""

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int",
                 output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 encoding="utf-8", **kwargs):
        kwargs.pop("dtype", None)
        super().__init__(**kwargs)
        if standardize not in _STANDARDIZE or split not in _SPLIT:
            raise ValueError(f"{self.name}: standardize must be one of "
                             f"{[k for k in _STANDARDIZE if k]} or None and split "
                             f"'whitespace', 'character' or None (functions are code, which "
                             f"rnnkit does not save), got {standardize!r}, {split!r}")
        if ngrams is not None and (isinstance(ngrams, bool) or not isinstance(
                ngrams, numbers.Integral) or ngrams < 1):
            raise ValueError(f"{self.name}: ngrams must be None or a positive int")
        if output_mode not in ("int", "multi_hot", "count"):
            raise ValueError(f"{self.name}: output_mode must be 'int', 'multi_hot' or 'count'")
        if output_sequence_length is not None and (isinstance(output_sequence_length, bool) or
                                                   output_sequence_length < 1):
            raise ValueError(f"{self.name}: output_sequence_length must be a positive int")
        self.standardize, self.split, self.ngrams = standardize, split, ngrams
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.max_tokens = max_tokens
        self.encoding = encoding
        self._lookup = StringLookup(max_tokens=max_tokens, num_oov_indices=1, mask_token="",
                                    oov_token="[UNK]", vocabulary=vocabulary,
                                    output_mode="int", name=f"{self.name}_lookup")
        self.built = True

    def _tokens(self, text):
        words = _SPLIT[self.split](_STANDARDIZE[self.standardize](_text(text, self)))
        if self.ngrams and self.ngrams > 1:
            words = words + [" ".join(words[i:i + n]) for n in range(2, self.ngrams + 1)
                             for i in range(len(words) - n + 1)]
        return words

    def adapt(self, data, batch_size=None, steps=None):
        """Build the vocabulary from the strings of ``data``."""
        self._lookup.adapt([self._tokens(s) for s in _strings(data)])

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup.vocabulary_size()

    def set_vocabulary(self, vocabulary):
        self._lookup.set_vocabulary(vocabulary)

    def save_vocabulary(self, path):
        self._lookup.save_vocabulary(path)

    def forward(self, x, training=False, mask=None):
        texts = np.asarray(x, dtype=object)
        if texts.ndim == 2 and texts.shape[1] == 1:
            texts = texts[:, 0]
        if texts.ndim != 1:
            raise ValueError(f"{self.name}: expected a batch of strings (B,) or (B, 1), got "
                             f"shape {texts.shape}")
        rows = [[self._lookup._lookup(t) for t in self._tokens(s)] for s in texts]
        if self.output_mode != "int":
            n = self.vocabulary_size() if not (self.pad_to_max_tokens and self.max_tokens) \
                else self.max_tokens
            out = np.zeros((len(rows), n), np.float32)
            for i, r in enumerate(rows):
                np.add.at(out[i], r, 1.0)
            out[:, 0] = 0.0
            return np.minimum(out, 1.0) if self.output_mode == "multi_hot" else out
        L = self.output_sequence_length or max((len(r) for r in rows), default=0)
        out = np.zeros((len(rows), L), np.int64)
        for i, r in enumerate(rows):
            out[i, :min(len(r), L)] = r[:L]
        return out

    def backward(self, dy):
        return None

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return (input_shape[0], self.output_sequence_length)
        return (input_shape[0], self.vocabulary_size())

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"max_tokens": self.max_tokens, "standardize": self.standardize,
                    "split": self.split, "ngrams": self.ngrams, "output_mode": self.output_mode,
                    "output_sequence_length": self.output_sequence_length,
                    "pad_to_max_tokens": self.pad_to_max_tokens,
                    "vocabulary": self._lookup.get_vocabulary(False),
                    "encoding": self.encoding})
        return cfg
