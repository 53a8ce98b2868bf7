"""Spoken digits: the Free Spoken Digit Dataset (FSDD, CC BY-SA 4.0) as log-mel or MFCC frames.

Each recording is one digit 0-9 said by one speaker: an 8 kHz mono 16-bit WAV file named
``{digit}_{speaker}_{take}.wav`` (e.g. ``7_jackson_32.wav``), trimmed to near-minimal silence,
0.14-1.3 s long. rnnkit ships no audio: pass the folder (the tests and examples use
``../shared/data/fsdd_subset``, 6 speakers x 10 digits x 10 takes = 600 files).

``load_spoken_digits`` reads every file with :func:`rnnkit.datasets.wav.read_wav`, computes
its features with :mod:`rnnkit.datasets.audio_features` (``log_mel``: (T, n_mels); ``mfcc``:
(T, n_mfcc); T = 1 + ceil((N - frame) / hop), 14-131 frames at 25 ms / 10 ms) and caches them
in ``data_home()/cache`` (an ``.npz`` keyed by the files' names, sizes and times and by the
feature options), so the second load takes milliseconds.

>>> d = load_spoken_digits("../shared/data/fsdd_subset")                 # doctest: +SKIP
>>> len(d.features), d.features[0].shape, d.labels[:3], d.speakers[0]    # doctest: +SKIP
(600, (29, 40), array([0, 0, 0]), 'george')
"""

import hashlib
import json
import re
from collections import namedtuple
from pathlib import Path

import numpy as np

from . import audio_features
from .sources import MissingDataError, load_cached_arrays, save_cached_arrays
from .wav import read_wav

FILE_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")

SpokenDigits = namedtuple("SpokenDigits", "features labels speakers takes files sample_rate")
SpokenDigits.__doc__ = """Spoken digits as feature sequences, in file-name order.

features: list of N float32 arrays (T_i, F) (variable length); labels: (N,) int64 digits;
speakers: (N,) str; takes: (N,) int64 take numbers; files: list of N file names;
sample_rate: the recordings' rate in Hz."""


def parse_file_name(name):
    """``(digit, speaker, take)`` of an FSDD file name ``{digit}_{speaker}_{take}.wav``, or None."""
    m = FILE_NAME.match(Path(name).name)
    return None if m is None else (int(m.group(1)), m.group(2), int(m.group(3)))


def list_recordings(path):
    """The sorted ``{digit}_{speaker}_{take}.wav`` files of folder ``path``.

    Raises MissingDataError (one line, what to pass) when the folder or the files are absent.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise MissingDataError(f"{folder}: no such folder (the Free Spoken Digit Dataset, "
                               "{digit}_{speaker}_{take}.wav files): pass --data PATH to it")
    files = sorted(p for p in folder.iterdir() if parse_file_name(p.name) and p.is_file())
    if not files:
        raise MissingDataError(f"{folder}: no {{digit}}_{{speaker}}_{{take}}.wav recordings "
                               "in this folder (the Free Spoken Digit Dataset): pass --data PATH")
    return files


def featurize(samples, sample_rate, features="log_mel", n_mels=40, n_mfcc=13, frame_ms=25.0,
              hop_ms=10.0):
    """One recording's feature frames: ``log_mel`` (T, n_mels) or ``mfcc`` (T, n_mfcc)."""
    options = dict(n_mels=n_mels, frame_ms=frame_ms, hop_ms=hop_ms)
    if features == "log_mel":
        return audio_features.log_mel(samples, sample_rate, **options)
    if features == "mfcc":
        return audio_features.mfcc(samples, sample_rate, n_mfcc=n_mfcc, **options)
    raise ValueError(f"features must be 'log_mel' or 'mfcc', got {features!r}")


def _cache_name(files, options):
    """A cache file name that changes when a file or an option changes."""
    h = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return f"fsdd_{options['features']}_{h.hexdigest()[:16]}.npz"


def load_spoken_digits(path, features="log_mel", n_mels=40, n_mfcc=13, frame_ms=25.0,
                       hop_ms=10.0, cache=True):
    """Every recording of an FSDD folder as feature frames, with its digit and speaker.

    Args:
        path: the folder of ``{digit}_{speaker}_{take}.wav`` files.
        features: ``"log_mel"`` (n_mels bands) or ``"mfcc"`` (n_mfcc coefficients).
        n_mels, n_mfcc, frame_ms, hop_ms: the feature options (see audio_features).
        cache: read and write the parsed features in ``data_home()/cache``.

    Returns:
        a :class:`SpokenDigits` ``(features, labels, speakers, takes, files, sample_rate)``.

    Raises:
        MissingDataError: when the folder or its recordings are absent.
        ValueError: naming the file, when one is not a PCM WAV file or its sample rate differs
            from the others'.
    """
    files = list_recordings(path)
    options = dict(features=features, n_mels=n_mels, n_mfcc=n_mfcc, frame_ms=frame_ms,
                   hop_ms=hop_ms)
    name = _cache_name(files, options)
    arrays = load_cached_arrays(name) if cache else None
    if arrays is None:
        arrays = _parse(files, options)
        if cache:
            save_cached_arrays(name, **arrays)
    lengths = arrays["lengths"]
    seqs = np.split(arrays["frames"], np.cumsum(lengths)[:-1])           # N x (T_i, F)
    return SpokenDigits(seqs, arrays["labels"].astype(np.int64), arrays["speakers"].astype(str),
                        arrays["takes"].astype(np.int64), [str(f) for f in arrays["files"]],
                        int(arrays["sample_rate"]))


def _parse(files, options):
    """Read and featurize every file: the arrays that go into the cache."""
    seqs, labels, speakers, takes, rate = [], [], [], [], None
    for p in files:
        samples, sr = read_wav(p, mono=True)
        if rate is None:
            rate = sr
        elif sr != rate:
            raise ValueError(f"{p}: sample rate {sr} Hz differs from the other files' {rate} Hz")
        digit, speaker, take = parse_file_name(p.name)
        seqs.append(featurize(samples, sr, **options))
        labels.append(digit)
        speakers.append(speaker)
        takes.append(take)
    return dict(frames=np.concatenate(seqs).astype(np.float32),
                lengths=np.array([len(s) for s in seqs], dtype=np.int64),
                labels=np.array(labels, dtype=np.int64), speakers=np.array(speakers),
                takes=np.array(takes, dtype=np.int64), files=np.array([p.name for p in files]),
                sample_rate=np.array(rate, dtype=np.int64))
