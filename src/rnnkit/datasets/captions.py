"""Digit captions: scikit-learn's bundled 8x8 handwritten digits, each captioned by its name.

The images are scikit-learn's ``load_digits`` (1,797 images, 8x8 pixels of 17 grey levels 0-16,
from the UCI "Optical Recognition of Handwritten Digits" set; it ships inside the package, so
nothing is downloaded). The caption of an image of digit k is the English name of k, spelled
out: "zero", "one", ..., "nine" -- a tiny captioning task whose captions are character
sequences of 3 to 5 letters, for the one-to-many (image -> sequence) pairing.

Needs the optional extra ``captioning`` (``pip install 'rnnkit[captioning]'``, i.e.
scikit-learn); without it ``load_digit_captions`` raises MissingDataError saying so.

>>> images, captions, labels = load_digit_captions()       # doctest: +SKIP
>>> images.shape, images.dtype, captions[:3], labels[:3]    # doctest: +SKIP
((1797, 64), dtype('float32'), ['zero', 'one', 'two'], array([0, 1, 2]))
"""

import numpy as np

from .sources import MissingDataError, require_package  # noqa: F401  (documented)

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def caption_of(label):
    """The caption of digit ``label`` (0-9): its English name."""
    if not 0 <= int(label) <= 9:
        raise ValueError(f"caption_of: a digit label is 0-9, got {label!r}")
    return DIGIT_NAMES[int(label)]


def load_digit_captions():
    """``(images, captions, labels)`` of scikit-learn's digits, in its order.

    Returns:
        images: (1797, 64) float32 pixels scaled from 0-16 to [0, 1], rows of the 8x8 image;
        captions: list of 1797 str, the digit's name;
        labels: (1797,) int64 digits 0-9.

    Raises:
        MissingDataError (one line: what to install) when scikit-learn is not installed.
    """
    sklearn_datasets = require_package("sklearn.datasets", "captioning", "digit images",
                                       pip_name="scikit-learn")
    load_digits = sklearn_datasets.load_digits
    bunch = load_digits()
    images = (np.asarray(bunch.data, dtype=np.float32) / 16.0).reshape(len(bunch.data), 64)
    labels = np.asarray(bunch.target, dtype=np.int64)
    return images, [caption_of(k) for k in labels], labels
