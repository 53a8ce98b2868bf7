"""Data sets for the examples and experiments: real data read from where it already is.

rnnkit ships no data and downloads nothing at run time (see :mod:`rnnkit.datasets.sources`):

==================  ==========================================  ===============================
application         loader                                      source
==================  ==========================================  ===============================
sentiment           load_sentiment_sentences(path)              UCI sentiment sentences folder
DNA                 load_dna_binding(path=None)                 janggu 0.10.2 wheel (FASTA)
activity            load_basic_motions(), load_gunpoint()       sktime 1.2.0 wheel (.ts files)
speech              load_spoken_digits(path)                    FSDD WAV folder
music               load_chorales(limit=None, part="Soprano")   music21's Bach chorales
time series         load_sunspots()                             statsmodels' sunspots CSV
captioning          load_digit_captions()                       scikit-learn's 8x8 digits
(synthetic)         adding_problem(n, T)                        generated
==================  ==========================================  ===============================

The readers of the file formats involved are here too: ``read_fasta``, ``read_ts`` (sktime/UEA),
``read_wav`` (standard library ``wave``), ``read_series_csv``; and the audio features
``log_mel`` / ``mfcc`` in NumPy.
"""

from .activity import load_basic_motions, load_gunpoint, load_ts_problem
from .adding import adding_problem
from .audio_features import log_mel, mfcc
from .captions import DIGIT_NAMES, load_digit_captions
from .dna import DNA_CLASS_NAMES, chromosome_split, load_dna_binding
from .fasta import one_hot_dna, read_fasta
from .music import NoteVocab, chorale_events, load_chorale_events, load_chorales
from .sentiment import load_sentiment_sentences
from .series import load_sunspots, read_series_csv
from .sources import MissingDataError, data_home
from .speech import load_spoken_digits
from .ts_format import read_ts
from .wav import read_wav

__all__ = ["DIGIT_NAMES", "DNA_CLASS_NAMES", "MissingDataError", "NoteVocab", "adding_problem",
           "chorale_events", "chromosome_split", "data_home", "load_basic_motions",
           "load_chorale_events", "load_chorales", "load_digit_captions", "load_dna_binding",
           "load_gunpoint", "load_sentiment_sentences", "load_spoken_digits", "load_sunspots",
           "load_ts_problem", "log_mel", "mfcc", "one_hot_dna", "read_fasta", "read_series_csv",
           "read_ts", "read_wav"]
