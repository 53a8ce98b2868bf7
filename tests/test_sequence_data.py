"""pad_sequences against Keras's documented results for every argument; lm_windows; the corpus."""

import os

import numpy as np
import pytest

from rnnkit.data import lm_windows, pad_sequences, stdlib_corpus, stdlib_files
from rnnkit.data.corpus import stdlib_dir

SEQS = [[1, 2, 3, 4, 5], [6, 7], [8]]


# ---- pad_sequences: the examples of keras.utils.pad_sequences' docstring -----------------------
def test_keras_docstring_examples():
    seq = [[1], [2, 3], [4, 5, 6]]
    out = pad_sequences(seq)
    assert out.dtype == np.int32
    assert out.tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad_sequences(seq, value=-1).tolist() == [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]
    assert pad_sequences(seq, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert pad_sequences(seq, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]


# every padding x truncating combination, with sequences both longer and shorter than maxlen
@pytest.mark.parametrize("padding, truncating, expected", [
    ("pre", "pre", [[3, 4, 5], [0, 6, 7], [0, 0, 8]]),
    ("post", "pre", [[3, 4, 5], [6, 7, 0], [8, 0, 0]]),
    ("pre", "post", [[1, 2, 3], [0, 6, 7], [0, 0, 8]]),
    ("post", "post", [[1, 2, 3], [6, 7, 0], [8, 0, 0]]),
])
def test_padding_and_truncating(padding, truncating, expected):
    out = pad_sequences(SEQS, maxlen=3, padding=padding, truncating=truncating)
    assert out.tolist() == expected
    # as numpy arrays and tuples, the same
    as_arrays = pad_sequences([np.array(s) for s in SEQS], maxlen=3, padding=padding,
                              truncating=truncating)
    assert as_arrays.tolist() == expected


def test_maxlen_longer_than_every_sequence_and_none():
    assert pad_sequences(SEQS, maxlen=6, padding="post", value=9).tolist() == \
        [[1, 2, 3, 4, 5, 9], [6, 7, 9, 9, 9, 9], [8, 9, 9, 9, 9, 9]]
    assert pad_sequences(SEQS).shape == (3, 5)
    assert pad_sequences(SEQS, maxlen=np.int64(2), truncating="post").tolist() == \
        [[1, 2], [6, 7], [0, 8]]


def test_dtype_and_value():
    out = pad_sequences([[1.5, 2.7], [3.2]], dtype="float32", value=0.5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[1.5, 2.7], [0.5, 3.2]], np.float32))
    # as Keras: floats are cast to the int dtype (toward zero), value too
    assert pad_sequences([[1.7, -2.7], [3.9]], value=0.9).tolist() == [[1, -2], [0, 3]]
    assert pad_sequences([[1, 2]], dtype="int64").dtype == np.int64
    strings = pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert strings.tolist() == [["a", "b"], ["<pad>", "c"]]
    with pytest.raises(ValueError, match="not compatible with `value`'s type"):
        pad_sequences([[1]], value="x")


def test_empty_sequences_and_item_shapes():
    assert pad_sequences([[], [1, 2]]).tolist() == [[0, 0], [1, 2]]
    assert pad_sequences([[], [1, 2]], padding="post", maxlen=3).tolist() == [[0, 0, 0], [1, 2, 0]]
    # sequences of vectors: the item shape (2,) comes from the first non-empty sequence
    out = pad_sequences([[], [[1, 2], [3, 4]], [[5, 6]]], value=-1)
    assert out.shape == (3, 2, 2)
    assert out.tolist() == [[[-1, -1], [-1, -1]], [[1, 2], [3, 4]], [[-1, -1], [5, 6]]]
    with pytest.raises(ValueError, match=r"shape of sample \(3,\) of sequence at position 1 is "
                                         r"different from expected shape \(2,\)"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])
    # where Keras raises an obscure NumPy error, a defined result
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([], maxlen=4).shape == (0, 4)
    assert pad_sequences(SEQS, maxlen=0).shape == (3, 0)


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match='padding type "middle" not understood'):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match='truncating type "mid" not understood'):
        pad_sequences(SEQS, truncating="mid")
    with pytest.raises(ValueError, match="must be iterable"):
        pad_sequences(5)
    with pytest.raises(ValueError, match="Found non-iterable: 3"):
        pad_sequences([[1], 3])
    with pytest.raises(ValueError, match="maxlen must be a non-negative int"):
        pad_sequences(SEQS, maxlen=-1)
    with pytest.raises(ValueError, match="maxlen must be a non-negative int"):
        pad_sequences(SEQS, maxlen=2.5)


# ---- lm_windows -------------------------------------------------------------------------------
def test_lm_windows_golden_and_shift():
    ids = np.arange(10)
    x, y = lm_windows(ids, seq_len=4)
    assert x.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    x, y = lm_windows(ids, seq_len=3, step=2)
    assert x.tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8]]
    assert y.tolist() == [[1, 2, 3], [3, 4, 5], [5, 6, 7], [7, 8, 9]]


@pytest.mark.parametrize("n, seq_len, step", [(11, 10, None), (100, 7, 1), (101, 10, 3),
                                              (57, 5, 13)])
def test_lm_windows_are_views_with_the_right_count(n, seq_len, step):
    ids = np.random.default_rng(n).integers(0, 50, size=n).astype(np.int32)
    x, y = lm_windows(ids, seq_len, step)
    s = seq_len if step is None else step
    N = (n - 1 - seq_len) // s + 1
    assert x.shape == y.shape == (N, seq_len) and x.dtype == np.int32
    for k in range(N):
        np.testing.assert_array_equal(x[k], ids[k * s:k * s + seq_len])
        np.testing.assert_array_equal(y[k], ids[k * s + 1:k * s + seq_len + 1])
    assert np.shares_memory(x, ids) and np.shares_memory(y, ids)     # no copy
    assert not x.flags.writeable


def test_lm_windows_errors():
    with pytest.raises(ValueError, match="5 tokens are too few for one window of seq_len=5"):
        lm_windows(np.arange(5), 5)
    with pytest.raises(ValueError, match=r"expected a 1-D array of token ids, got shape \(2, 5\)"):
        lm_windows(np.zeros((2, 5)), 2)
    with pytest.raises(ValueError, match="seq_len must be a positive int"):
        lm_windows(np.arange(5), 0)
    with pytest.raises(ValueError, match="step must be a positive int"):
        lm_windows(np.arange(5), 2, step=0)


# ---- the built-in corpus -------------------------------------------------------------------------
def test_stdlib_files_sorted_python_without_tests():
    files = stdlib_files()
    assert files == sorted(files) and len(files) > 100
    assert all(f.endswith(".py") for f in files)
    parts = {p for f in files for p in f.split("/")[:-1]}
    assert not parts & {"test", "tests", "idle_test", "site-packages", "dist-packages"}
    assert "os.py" in files and "json/decoder.py" in files


def test_stdlib_corpus_is_deterministic_and_cut_at_max_bytes():
    a = stdlib_corpus(max_bytes=50_000)
    assert a == stdlib_corpus(max_bytes=50_000)
    assert 49_990 <= len(a.encode()) <= 50_000
    with open(os.path.join(stdlib_dir(), stdlib_files()[0]), encoding="utf-8") as f:
        first = f.read()
    assert a.startswith(first[:1000])
    assert stdlib_corpus(max_bytes=10_000) == a[:len(stdlib_corpus(max_bytes=10_000))]
    with pytest.raises(ValueError, match="max_bytes must be a positive int or None"):
        stdlib_corpus(max_bytes=0)
