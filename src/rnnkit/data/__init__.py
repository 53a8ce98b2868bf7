"""Text tools: vocabularies, padding and language-model windows, the built-in corpus."""

from .corpus import stdlib_corpus, stdlib_files
from .sequence import lm_windows, pad_sequences
from .vocab import CharVocab, WordVocab, load_vocab

__all__ = ["CharVocab", "WordVocab", "lm_windows", "load_vocab", "pad_sequences",
           "stdlib_corpus", "stdlib_files"]
