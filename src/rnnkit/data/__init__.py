"""Sequence data tools: vocabularies, padding, language-model and time-series windows, and the
built-in text corpus."""

from .corpus import stdlib_corpus, stdlib_files
from .sequence import lm_windows, pad_sequences
from .timeseries import TimeseriesDataset, timeseries_dataset_from_array
from .vocab import CharVocab, WordVocab, load_vocab

__all__ = ["CharVocab", "TimeseriesDataset", "WordVocab", "lm_windows", "load_vocab",
           "pad_sequences", "stdlib_corpus", "stdlib_files", "timeseries_dataset_from_array"]
