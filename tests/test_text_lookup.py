"""StringLookup and TextVectorization: Keras's index layout and vocabulary order, adapt,
character and word level, n-grams, padding, JSON vocabularies, masks, inversion, and use in a
model that trains; bad input named."""

import json

import numpy as np
import pytest

import rnnkit
from rnnkit import FileFormatError, layers


def test_string_lookup_layout_oov_mask_and_invert():
    lk = layers.StringLookup(vocabulary=["a", "b", "c"], mask_token="")
    assert lk.get_vocabulary() == ["", "[UNK]", "a", "b", "c"]
    assert lk([["a", "", "z"], ["c", "b", "a"]]).tolist() == [[2, 0, 1], [4, 3, 2]]
    np.testing.assert_array_equal(lk.compute_mask(np.array([["a", ""]], dtype=object)),
                                  [[True, False]])
    inv = layers.StringLookup(vocabulary=["a", "b", "c"], mask_token="", invert=True)
    assert inv(np.array([[2, 0, 1]])).tolist() == [["a", "", "[UNK]"]]
    two = layers.StringLookup(vocabulary=["a"], num_oov_indices=2)
    out = two(["a", "x", "y", "x"]).tolist()
    assert out[0] == 2 and out[1] in (0, 1) and out[1] == out[3]


def test_adapt_orders_by_count_then_token_descending_and_caps_max_tokens():
    lk = layers.StringLookup(max_tokens=4)
    lk.adapt([["b", "a", "c"], ["a", "d", "c"], ["a"]])
    # a x3, c x2, then b and d tie at 1: "d" before "b"; max_tokens counts the OOV token
    assert lk.get_vocabulary() == ["[UNK]", "a", "c", "d"]


def test_one_hot_and_multi_hot():
    lk = layers.StringLookup(vocabulary=["a", "b"], output_mode="multi_hot")
    np.testing.assert_array_equal(lk([["a", "a", "z"]]), [[1, 1, 0]])
    oh = layers.StringLookup(vocabulary=["a", "b"], output_mode="one_hot")
    np.testing.assert_array_equal(oh(["b"]), [[0, 0, 1]])


def test_text_vectorization_words_ngrams_and_padding():
    tv = layers.TextVectorization(output_sequence_length=5, ngrams=2)
    tv.adapt(["Hello, world! Hello.", "world peace"])
    vocab = tv.get_vocabulary()
    assert vocab[:4] == ["", "[UNK]", "world", "hello"]
    assert "hello world" in vocab and "world peace" in vocab
    out = tv(["hello peace now"])
    assert out.shape == (1, 5) and out[0, 2] == 1          # "now" is unknown
    counts = layers.TextVectorization(output_mode="count", vocabulary=["a", "b"])
    np.testing.assert_array_equal(counts(["a b a c"]), [[0, 1, 2, 1]])   # "c" counts as OOV


def test_character_level_and_json_vocabulary(tmp_path):
    tv = layers.TextVectorization(split="character", standardize=None)
    tv.adapt(["abca", "cab"])
    assert tv.get_vocabulary(include_special_tokens=False) == ["a", "c", "b"]
    path = str(tmp_path / "vocab.json")
    tv.save_vocabulary(path)
    assert json.load(open(path)) == ["a", "c", "b"]
    again = layers.TextVectorization(split="character", standardize=None, vocabulary=path)
    np.testing.assert_array_equal(again(["cab", "ax"]), [[3, 2, 4], [2, 1, 0]])
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(FileFormatError, match="JSON list of strings"):
        layers.StringLookup(vocabulary=str(bad))


def test_in_a_model_that_trains_and_saves(tmp_path):
    texts = ["good film", "bad film", "good good", "bad plot", "good plot", "bad bad"] * 4
    y = np.array([1, 0, 1, 0, 1, 0] * 4, "float32")
    tv = layers.TextVectorization(output_sequence_length=2)
    tv.adapt(texts)
    ids = tv(texts)
    model = rnnkit.Sequential([layers.Input((2,), dtype="int64"),
                               layers.Embedding(tv.vocabulary_size(), 4, mask_zero=True),
                               layers.LSTM(4), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(ids, y, epochs=40, verbose=0, seed=0)
    assert model.evaluate(ids, y, verbose=0)[1] == 1.0
    cfg = tv.get_config()
    assert layers.TextVectorization.from_config(cfg).get_vocabulary() == tv.get_vocabulary()


@pytest.mark.parametrize("make, err, words", [
    (lambda: layers.StringLookup(vocabulary=["a", "a"]), ValueError, "repeats tokens"),
    (lambda: layers.StringLookup(vocabulary=["[UNK]", "b"]), ValueError, "special tokens"),
    (lambda: layers.TextVectorization(split=str.split), ValueError, "functions are code"),
    (lambda: layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(["b"]), ValueError,
     "not in the vocabulary"),
    (lambda: layers.StringLookup(vocabulary=["a"])([1, 2]), TypeError, "expected strings"),
    (lambda: layers.StringLookup(vocabulary=["a"], invert=True)(np.array([5])), ValueError,
     "out of the vocabulary"),
])
def test_bad_input(make, err, words):
    with pytest.raises(err, match=words):
        make()
