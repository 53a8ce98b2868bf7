"""The digit-caption loader: scikit-learn's real 8x8 digits, their captions, and the errors."""

import sys

import numpy as np
import pytest

from rnnkit.datasets.captions import DIGIT_NAMES, caption_of, load_digit_captions
from rnnkit.datasets.sources import MissingDataError


def test_caption_of():
    assert [caption_of(k) for k in range(10)] == ["zero", "one", "two", "three", "four", "five",
                                                  "six", "seven", "eight", "nine"]
    assert caption_of(np.int64(7)) == "seven"
    with pytest.raises(ValueError, match="0-9, got 10"):
        caption_of(10)


def test_load_digit_captions_real_images():
    sk = pytest.importorskip("sklearn.datasets", reason="scikit-learn (extra 'captioning')")
    images, captions, labels = load_digit_captions()
    assert images.shape == (1797, 64) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.dtype == np.int64 and sorted(set(labels.tolist())) == list(range(10))
    assert len(captions) == 1797
    assert all(c == DIGIT_NAMES[k] for c, k in zip(captions, labels))
    raw = sk.load_digits()
    np.testing.assert_array_equal(images * 16, raw.data)          # same pixels, same order
    np.testing.assert_array_equal(labels, raw.target)
    # an image is its 8x8 picture row by row: the top-left pixel of a digit is blank
    assert np.all(images.reshape(-1, 8, 8)[:, 0, 0] == 0)


def test_missing_scikit_learn_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)           # makes `import sklearn` fail
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(MissingDataError, match=r"pip install 'rnnkit\[captioning\]'") as e:
        load_digit_captions()
    assert "\n" not in str(e.value) and "scikit-learn" in str(e.value)
