"""The "Sentiment Labelled Sentences" data set (Kotzias et al., KDD 2015; CC BY 4.0).

Three files of 1,000 review sentences each (IMDb, Amazon, Yelp), 500 positive and 500 negative,
one ``sentence<TAB>label`` per line. rnnkit ships no data: pass the folder that holds them.

>>> texts, labels = load_sentiment_sentences("../shared/data/sentiment_labelled_sentences")  # doctest: +SKIP
>>> len(texts), labels[:3].tolist()                                                         # doctest: +SKIP
(3000, [0, 0, 0])
"""

import os

import numpy as np

from .sources import MissingDataError

FILES = ("imdb_labelled.txt", "amazon_cells_labelled.txt", "yelp_labelled.txt")


def load_sentiment_sentences(path, sources=FILES):
    """``(texts, labels)``: a list of sentences and an int array of 0/1, in file order.

    Raises MissingDataError (a FileNotFoundError) naming the folder and the file names it expects when they are not
    there, and ValueError naming the file and line of a malformed line.
    """
    missing = [f for f in sources if not os.path.isfile(os.path.join(path, f))]
    if missing:
        raise MissingDataError(f"{path}: expected the sentiment files {', '.join(missing)} "
                                "(the UCI 'Sentiment Labelled Sentences' folder); pass its path")
    texts, labels = [], []
    for name in sources:
        with open(os.path.join(path, name), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                sentence, sep, label = line.rstrip("\n").rpartition("\t")
                if not sep or label.strip() not in ("0", "1"):
                    raise ValueError(f"{name}:{lineno}: expected 'sentence<TAB>0|1', "
                                     f"got {line[:60]!r}")
                texts.append(sentence.strip())
                labels.append(int(label))
    return texts, np.array(labels, dtype=np.int64)
