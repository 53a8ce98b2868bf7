"""Vocabularies: text to integer ids and back, with Keras TextVectorization's conventions.

Index 0 is the padding token ``""`` and index 1 the out-of-vocabulary token ``"[UNK]"``; the
real tokens follow, most frequent first, ties broken by first appearance in the text, so the
same text always gives the same ids. ``max_tokens`` counts the two reserved tokens, as Keras's
``max_tokens`` does; ``min_count`` drops tokens seen fewer times.

    >>> from rnnkit.data import CharVocab, WordVocab
    >>> v = CharVocab.from_text("hello")
    >>> v.get_vocabulary(), v.encode("hole!").tolist(), v.decode([5, 3, 2, 4])
    (['', '[UNK]', 'l', 'h', 'e', 'o'], [3, 5, 2, 4, 1], 'ohle')
    >>> w = WordVocab.from_text("The cat sat. The dog sat!")
    >>> w.encode("the cat ran.").tolist(), w.decode([2, 4, 3])
    ([2, 4, 1, 5], 'the cat sat')

``save(path)`` writes JSON (``{"format": "rnnkit.vocab", "kind": "char", "tokens": [...]}``);
``load(path)`` checks it and says what is wrong with a file it will not read.
"""

import json
import os
import re

import numpy as np

from ..errors import FileFormatError
from ..files import atomic_write, open_regular

PAD_TOKEN = ""          # index 0, as Keras TextVectorization
OOV_TOKEN = "[UNK]"     # index 1
FORMAT = "rnnkit.vocab"
VERSION = 1
MAX_VOCAB_FILE_BYTES = 256 * 1024 * 1024   # a vocabulary file larger than this is refused

# A word is letters/digits/underscore, with inner apostrophes ("don't"); any other
# non-space character is a token of its own (punctuation).
_WORD_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}%")


def _rank(tokens_in_order, counts, max_tokens, min_count):
    """Tokens sorted by count (descending) then first appearance, cut by min_count/max_tokens."""
    first = {}
    for i, tok in enumerate(tokens_in_order):
        first.setdefault(tok, i)
    ranked = sorted((t for t in first if counts[t] >= min_count),
                    key=lambda t: (-counts[t], first[t]))
    if max_tokens is not None:
        ranked = ranked[:max_tokens - 2]
    return ranked


def _check_limits(max_tokens, min_count, where):
    if max_tokens is not None and (isinstance(max_tokens, bool) or
                                   not isinstance(max_tokens, (int, np.integer)) or max_tokens < 3):
        raise ValueError(f"{where}: max_tokens must be an int >= 3 (it counts the padding and "
                         f"OOV tokens), got {max_tokens!r}")
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ValueError(f"{where}: min_count must be a positive int, got {min_count!r}")


class _Vocab:
    """What both vocabularies share: the token table, decode, save/load."""

    kind = None
    pad_token = PAD_TOKEN
    oov_token = OOV_TOKEN
    special_ids = (0, 1)   # never produced by a tokenizer; generation never samples them

    def __init__(self, tokens):
        tokens = list(tokens)
        where = type(self).__name__
        for tok in tokens:
            if not isinstance(tok, str):
                raise TypeError(f"{where}: tokens must be strings, got {tok!r}")
            self._check_token(tok)
        if len(set(tokens)) != len(tokens):
            dup = next(t for t in tokens if tokens.count(t) > 1)
            raise ValueError(f"{where}: token {dup!r} appears more than once")
        if PAD_TOKEN in tokens or OOV_TOKEN in tokens:
            raise ValueError(f"{where}: {PAD_TOKEN!r} and {OOV_TOKEN!r} are reserved (ids 0 and 1)")
        self._tokens = [PAD_TOKEN, OOV_TOKEN] + tokens
        self._index = {tok: i for i, tok in enumerate(self._tokens)}

    def _check_token(self, tok):
        if not tok:
            raise ValueError(f"{type(self).__name__}: empty token")

    def __len__(self):
        return len(self._tokens)

    def __contains__(self, token):
        return token in self._index and self._index[token] > 1

    def __eq__(self, other):
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __repr__(self):
        return f"{type(self).__name__}({len(self)} tokens)"

    def get_vocabulary(self):
        """All tokens by id, ``["", "[UNK]", ...]`` (Keras's ``get_vocabulary()``)."""
        return list(self._tokens)

    def token_to_id(self, token):
        """The id of ``token``, 1 (OOV) when it is not in the vocabulary."""
        return self._index.get(token, 1)

    def id_to_token(self, i):
        return self._tokens[self._check_ids([i])[0]]

    def _check_ids(self, ids):
        ids = np.asarray(ids)
        if ids.size and ids.dtype.kind not in "iu":
            if ids.dtype.kind != "f" or not np.all(ids == np.round(ids)):
                raise TypeError(f"{type(self).__name__}.decode: expected integer ids, got dtype "
                                f"{ids.dtype}")
        ids = ids.astype(np.int64).reshape(-1)
        bad = (ids < 0) | (ids >= len(self))
        if bad.any():
            raise ValueError(f"{type(self).__name__}.decode: id {int(ids[bad][0])} is out of "
                             f"range for a vocabulary of {len(self)} tokens")
        return ids

    def _tokens_of(self, ids):
        """Token strings of ``ids`` (a 1-D sequence), padding (id 0) left out."""
        return [self._tokens[i] for i in self._check_ids(ids) if i != 0]

    # ---- saving ------------------------------------------------------------------------------
    def get_config(self):
        return {"format": FORMAT, "version": VERSION, "kind": self.kind, "tokens": self._tokens[2:]}

    def save(self, path):
        """Write the vocabulary as JSON (atomically: a temporary file, then a rename)."""
        text = json.dumps(self.get_config(), ensure_ascii=False, indent=1) + "\n"
        atomic_write(os.fspath(path), [text.encode("utf-8")])   # no .tmp left on a full disk

    @classmethod
    def _from_config(cls, cfg, where):
        return cls(cfg["tokens"])

    @classmethod
    def load(cls, path):
        """Read a vocabulary written by ``save``; raises FileFormatError for a bad file."""
        cfg = _read_config(path)
        if cls is not _Vocab and cfg["kind"] != cls.kind:
            raise FileFormatError(f"{path}: holds a {cfg['kind']} vocabulary, not a {cls.kind} one "
                                  f"(use rnnkit.data.load_vocab to read either)")
        target = _KINDS[cfg["kind"]]
        try:
            return target._from_config(cfg, path)
        except (TypeError, ValueError) as e:
            raise FileFormatError(f"{path}: {e}") from None


def _read_config(path):
    path = os.fspath(path)
    with open_regular(path, "vocabulary file", max_bytes=MAX_VOCAB_FILE_BYTES) as f:
        raw = f.read(MAX_VOCAB_FILE_BYTES + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(f"{path}: not valid JSON (not UTF-8 text: {e})") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise FileFormatError(f"{path}: not valid JSON ({e})") from None
    except RecursionError:
        raise FileFormatError(f"{path}: not valid JSON (nested too deeply)") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise FileFormatError(f"{path}: not an rnnkit vocabulary file (expected a JSON object "
                              f"with \"format\": \"{FORMAT}\")")
    if cfg.get("version") != VERSION:
        raise FileFormatError(f"{path}: vocabulary format version {cfg.get('version')!r}, this "
                              f"rnnkit reads version {VERSION}")
    if not isinstance(cfg.get("kind"), str) or cfg["kind"] not in _KINDS:
        raise FileFormatError(f"{path}: unknown vocabulary kind {cfg.get('kind')!r} "
                              f"(expected one of {sorted(_KINDS)})")
    tokens = cfg.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise FileFormatError(f"{path}: \"tokens\" must be a list of strings")
    return cfg


class CharVocab(_Vocab):
    """One token per character (Unicode code point).

    Encoding and counting are vectorised over the code points, so a vocabulary of a few MB of
    text builds and encodes in well under a second.
    """

    kind = "char"

    def __init__(self, tokens):
        super().__init__(tokens)
        # code point -> id, as two sorted arrays for a vectorised lookup (np.searchsorted)
        keys = np.array([ord(t) for t in self._tokens[2:]], dtype=np.uint32)
        order = np.argsort(keys)
        self._keys, self._vals = keys[order], (order + 2).astype(np.int32)

    def _check_token(self, tok):
        if len(tok) != 1:
            raise ValueError(f"CharVocab: tokens must be single characters, got {tok!r}")

    @classmethod
    def from_text(cls, text, max_tokens=None, min_count=1):
        """Build from ``text``: characters by frequency, then by first appearance."""
        _check_limits(max_tokens, min_count, "CharVocab.from_text")
        cps = _code_points(text, "CharVocab.from_text")
        uniq, first, counts = np.unique(cps, return_index=True, return_counts=True)
        order = np.lexsort((first, -counts))            # count descending, then first seen
        keep = [int(u) for u, c in zip(uniq[order], counts[order]) if c >= min_count]
        if max_tokens is not None:
            keep = keep[:max_tokens - 2]
        return cls(chr(u) for u in keep)

    def encode(self, text):
        """Ids (int32, shape (len(text),)); characters not in the vocabulary map to 1."""
        cps = _code_points(text, "CharVocab.encode")
        if len(self._keys) == 0:
            return np.ones(len(cps), dtype=np.int32)
        pos = np.searchsorted(self._keys, cps).clip(max=len(self._keys) - 1)
        return np.where(self._keys[pos] == cps, self._vals[pos], np.int32(1)).astype(np.int32)

    def decode(self, ids):
        """The text of ``ids``; padding is dropped, OOV shows as "[UNK]"."""
        return "".join(self._tokens_of(ids))


def _code_points(text, where):
    if not isinstance(text, str):
        raise TypeError(f"{where}: expected a str, got {type(text).__name__}")
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


class WordVocab(_Vocab):
    """Lowercased words and punctuation marks: ``"Don't stop!"`` -> ``don't``, ``stop``, ``!``.

    ``decode`` joins tokens with spaces, without a space before closing punctuation; it is not
    the inverse of ``encode`` (case and spacing are lost).
    """

    kind = "word"

    def _check_token(self, tok):
        if not tok or any(ch.isspace() for ch in tok):
            raise ValueError(f"WordVocab: tokens must be non-empty and without spaces, got {tok!r}")

    @staticmethod
    def tokenize(text):
        """The lowercase word and punctuation tokens of ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"WordVocab.tokenize: expected a str, got {type(text).__name__}")
        return _WORD_RE.findall(text.lower())

    @classmethod
    def from_text(cls, text, max_tokens=None, min_count=1):
        """Build from ``text``: tokens by frequency, then by first appearance."""
        _check_limits(max_tokens, min_count, "WordVocab.from_text")
        tokens = cls.tokenize(text)
        counts = {}
        for tok in tokens:
            counts[tok] = counts.get(tok, 0) + 1
        return cls(_rank(tokens, counts, max_tokens, min_count))

    def encode(self, text):
        """Ids (int32) of the tokens of ``text``; unknown tokens map to 1."""
        get = self._index.get
        return np.array([get(tok, 1) for tok in self.tokenize(text)], dtype=np.int32)

    def decode(self, ids):
        out = []
        for tok in self._tokens_of(ids):
            if out and not (len(tok) == 1 and tok in _NO_SPACE_BEFORE):
                out.append(" ")
            out.append(tok)
        return "".join(out)


_KINDS = {"char": CharVocab, "word": WordVocab}


def load_vocab(path):
    """Read a CharVocab or WordVocab saved with ``save(path)``, whichever the file holds."""
    return _Vocab.load(path)
