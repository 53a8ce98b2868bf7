"""CharVocab and WordVocab: Keras's reserved ids, deterministic order, encode/decode, JSON files."""

import json

import numpy as np
import pytest

from rnnkit import FileFormatError
from rnnkit.data import CharVocab, WordVocab, load_vocab, stdlib_corpus


# ---- golden values ----------------------------------------------------------------------------
def test_char_vocab_order_is_frequency_then_first_appearance():
    v = CharVocab.from_text("hello")
    assert v.get_vocabulary() == ["", "[UNK]", "l", "h", "e", "o"]
    # b and a both twice: b was seen first; c once comes last
    assert CharVocab.from_text("bbaac").get_vocabulary()[2:] == ["b", "a", "c"]
    assert CharVocab.from_text("abab").get_vocabulary()[2:] == ["a", "b"]


def test_char_encode_decode():
    v = CharVocab.from_text("hello")
    ids = v.encode("hole!")
    assert ids.dtype == np.int32 and ids.tolist() == [3, 5, 2, 4, 1]   # "!" is OOV -> 1
    assert v.decode([5, 3, 2, 4]) == "ohle"
    assert v.decode([0, 0, 3, 1]) == "h[UNK]"                          # padding dropped
    assert v.decode(v.encode("hello")) == "hello"
    assert v.encode("").shape == (0,)
    assert len(v) == 6 and "l" in v and "z" not in v and "" not in v
    assert v.token_to_id("e") == 4 and v.token_to_id("z") == 1 and v.id_to_token(3) == "h"


def test_char_vocab_unicode_beyond_bmp():
    v = CharVocab.from_text("é😀é")
    assert v.get_vocabulary()[2:] == ["é", "😀"]
    assert v.decode(v.encode("😀é😀")) == "😀é😀"


def test_max_tokens_counts_padding_and_oov_and_min_count():
    text = "aaaabbbcc d"
    assert CharVocab.from_text(text, max_tokens=4).get_vocabulary() == ["", "[UNK]", "a", "b"]
    assert CharVocab.from_text(text, min_count=2).get_vocabulary()[2:] == ["a", "b", "c"]
    assert CharVocab.from_text(text, max_tokens=3, min_count=2).get_vocabulary()[2:] == ["a"]
    v = WordVocab.from_text("a a a b b c", max_tokens=4)
    assert v.get_vocabulary() == ["", "[UNK]", "a", "b"]
    assert v.encode("c b").tolist() == [1, 3]


def test_vectorised_char_encode_matches_a_dict_lookup():
    text = stdlib_corpus(max_bytes=60_000)
    v = CharVocab.from_text(text[:30_000], max_tokens=60)
    index = {t: i for i, t in enumerate(v.get_vocabulary())}
    expected = [index.get(ch, 1) for ch in text]
    ids = v.encode(text)
    assert ids.tolist() == expected
    assert (ids == 1).any() and (ids > 1).any()


def test_word_tokenizer_and_decode():
    assert WordVocab.tokenize("Don't STOP, World!  x_1=2") == \
        ["don't", "stop", ",", "world", "!", "x_1", "=", "2"]
    w = WordVocab.from_text("The cat sat. The dog sat!")
    assert w.get_vocabulary() == ["", "[UNK]", "the", "sat", "cat", ".", "dog", "!"]
    assert w.encode("the cat ran.").tolist() == [2, 4, 1, 5]
    assert w.decode([2, 4, 3, 5, 0, 0]) == "the cat sat."
    assert w.decode(w.encode("The dog, it ran!")) == "the dog [UNK] [UNK] [UNK]!"


def test_building_is_deterministic():
    text = stdlib_corpus(max_bytes=20_000)
    assert CharVocab.from_text(text) == CharVocab.from_text(text)
    assert WordVocab.from_text(text).get_vocabulary() == WordVocab.from_text(text).get_vocabulary()
    assert CharVocab.from_text(text) != WordVocab.from_text(text)


# ---- files ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [CharVocab, WordVocab])
def test_save_load_roundtrip(tmp_path, cls):
    v = cls.from_text("Zebras eat grass; grass grows. Ünïcode ok?")
    path = tmp_path / "v.json"
    v.save(path)
    for loaded in (cls.load(path), load_vocab(path)):
        assert type(loaded) is cls and loaded == v
        assert loaded.get_vocabulary() == v.get_vocabulary()
    cfg = json.loads(path.read_text(encoding="utf-8"))
    assert cfg["format"] == "rnnkit.vocab" and cfg["kind"] == cls.kind
    v.save(path)                                      # same bytes every time
    first = path.read_bytes()
    cls.load(path).save(path)
    assert path.read_bytes() == first


def test_load_the_wrong_kind(tmp_path):
    path = tmp_path / "w.json"
    WordVocab.from_text("a b").save(path)
    with pytest.raises(FileFormatError, match="holds a word vocabulary, not a char one"):
        CharVocab.load(path)


GOOD = {"format": "rnnkit.vocab", "version": 1, "kind": "char", "tokens": ["a", "b"]}


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "not an rnnkit vocabulary file"),
    (json.dumps({**GOOD, "format": "other"}), "not an rnnkit vocabulary file"),
    (json.dumps({**GOOD, "version": 2}), "format version 2"),
    (json.dumps({**GOOD, "kind": "byte"}), "unknown vocabulary kind 'byte'"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "tokens"}), "must be a list of strings"),
    (json.dumps({**GOOD, "tokens": "ab"}), "must be a list of strings"),
    (json.dumps({**GOOD, "tokens": ["a", 7]}), "must be a list of strings"),
    (json.dumps({**GOOD, "tokens": ["a", "a"]}), "'a' appears more than once"),
    (json.dumps({**GOOD, "tokens": ["ab"]}), "single characters"),
    (json.dumps({**GOOD, "kind": "word", "tokens": ["[UNK]", "a"]}), "reserved"),
    (json.dumps({**GOOD, "tokens": ["", "a"]}), "single characters, got ''"),
    (json.dumps({**GOOD, "kind": "word", "tokens": ["two words"]}), "without spaces"),
])
def test_load_rejects_malformed_files_clearly(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FileFormatError, match=message) as err:
        load_vocab(path)
    assert str(path) in str(err.value)


def test_load_missing_file():
    with pytest.raises(FileNotFoundError):
        load_vocab("/nonexistent/vocab.json")


# ---- bad input -----------------------------------------------------------------------------------
def test_bad_arguments():
    with pytest.raises(ValueError, match="max_tokens must be an int >= 3"):
        CharVocab.from_text("abc", max_tokens=2)
    with pytest.raises(ValueError, match="min_count must be a positive int"):
        WordVocab.from_text("abc", min_count=0)
    with pytest.raises(TypeError, match="expected a str, got bytes"):
        CharVocab.from_text(b"abc")
    with pytest.raises(TypeError, match="expected a str, got list"):
        WordVocab.from_text(["a"])
    with pytest.raises(ValueError, match="reserved"):
        WordVocab(["[UNK]"])
    with pytest.raises(TypeError, match="tokens must be strings"):
        CharVocab([1])
    v = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match="id 5 is out of range for a vocabulary of 5 tokens"):
        v.decode([2, 5])
    with pytest.raises(ValueError, match="id -1 is out of range"):
        v.decode([-1])
    with pytest.raises(TypeError, match="expected integer ids"):
        v.decode([2.5])
    assert v.decode(np.array([2.0, 3.0])) == "ab"
