"""Bach's four-part chorales (from the ``music21`` corpus) as sequences of note-event tokens.

``music21.corpus.chorales.Iterator()`` yields the 371 chorales of Riemenschneider's edition as
parsed scores (≈0.2 s each). ``load_chorales`` reads one voice of each (the soprano, which
carries the hymn tune, by default), keeps it as a list of **note events**, and caches the parse
under ``data_home()/cache`` (one ``.npz`` per voice and limit; the full parse takes a minute or
two once). The ``music21`` package is the optional extra ``rnnkit[music]``.

An event is one note or rest: ``(pitch, duration)`` with ``pitch`` a MIDI number (60 is middle
C; ``0`` is a rest) and ``duration`` in sixteenth notes (4 is a quarter note). Notes tied over a
bar line become one event; grace notes (no duration) are dropped. :class:`NoteVocab` turns each
event into one token id, so that a model predicts pitch and duration together with one softmax::

    id 0            padding (never a real event: a model may mask it, Embedding(mask_zero=True))
    id 1            the boundary: start of a chorale (as an input) and its end (as a target)
    id 2 ...        (pitch, duration) for pitch in VOCAB_PITCHES, duration in VOCAB_DURATIONS

The vocabulary is fixed in advance, not learned from the data, so that held-out chorales never
meet an unknown token: pitches outside the soprano range A3..C6 move by octaves into it (the
other voices get their own 28-semitone ranges, ``PART_RANGES``), and a duration is rounded to
the nearest of the eight lengths (in log time: a 5-sixteenth note becomes 6). That changes 16
of the soprano's 18,610 events: the few notes held longer than a whole note become whole notes.

>>> vocab = NoteVocab()
>>> vocab.encode(67, 4), vocab.decode(vocab.encode(67, 4))     # G4, a quarter note
(93, (67, 4))
>>> seqs, vocab = load_chorales(limit=2)                        # doctest: +SKIP
>>> seqs[0][:6].tolist()                                        # doctest: +SKIP
[93, 95, 149, 126, 107, 93]
"""

import numpy as np

from .sources import load_cached_arrays, require_package, save_cached_arrays

PAD, BOUNDARY = 0, 1
REST = 0
VOCAB_PITCHES = (REST,) + tuple(range(57, 85))         # rest, A3 .. C6 (MIDI numbers)
PART_RANGES = {"Soprano": (57, 84), "Alto": (50, 77),  # 28 semitones each, around the range
               "Tenor": (45, 72), "Bass": (36, 63)}     # Bach writes for the voice
VOCAB_DURATIONS = (1, 2, 3, 4, 6, 8, 12, 16)           # sixteenths: 1/16 .. whole note
NUM_CHORALES = 371
CACHE_VERSION = 1


class NoteVocab:
    """Token ids of (pitch, duration) note events; see the module docstring for the layout."""

    def __init__(self, pitches=VOCAB_PITCHES, durations=VOCAB_DURATIONS):
        self.pitches, self.durations = tuple(pitches), tuple(durations)
        self._pitch_index = {p: i for i, p in enumerate(self.pitches)}
        self._log_durations = np.log(np.asarray(self.durations, dtype=np.float64))
        self.low, self.high = min(p for p in self.pitches if p != REST), max(self.pitches)

    @classmethod
    def for_part(cls, part):
        """The vocabulary whose pitches cover ``part``'s range (a name, or 0..3 for S, A, T, B)."""
        names = list(PART_RANGES)
        name = names[part] if isinstance(part, int) and 0 <= part < len(names) else part
        if name not in PART_RANGES:
            raise KeyError(f"no pitch range for part {part!r}; known: {', '.join(names)} "
                           "(or pass a NoteVocab)")
        low, high = PART_RANGES[name]
        return cls(pitches=(REST,) + tuple(range(low, high + 1)))

    def __len__(self):
        return 2 + len(self.pitches) * len(self.durations)

    def snap(self, pitch, duration):
        """The nearest event the vocabulary holds: pitch moved by octaves, duration rounded."""
        pitch, duration = int(pitch), int(duration)
        if duration < 1:
            raise ValueError(f"NoteVocab: a duration must be >= 1 sixteenth, got {duration}")
        if pitch != REST:
            while pitch < self.low:
                pitch += 12
            while pitch > self.high:
                pitch -= 12
        d = int(np.argmin(np.abs(self._log_durations - np.log(duration))))
        return pitch, self.durations[d]

    def encode(self, pitch, duration):
        """The token id of the event (snapped into the vocabulary first)."""
        pitch, duration = self.snap(pitch, duration)
        return 2 + self._pitch_index[pitch] * len(self.durations) + \
            self.durations.index(duration)

    def encode_events(self, pitches, durations):
        """Token ids (N,) int64 of the events given as two arrays (N,)."""
        return np.array([self.encode(p, d) for p, d in zip(pitches, durations)], dtype=np.int64)

    def decode(self, token):
        """``(pitch, duration)`` of an event token; ValueError for padding or the boundary."""
        token = int(token)
        if not 2 <= token < len(self):
            raise ValueError(f"NoteVocab: token {token} is not a note event (0 is padding, 1 the "
                             f"boundary, events are 2..{len(self) - 1})")
        p, d = divmod(token - 2, len(self.durations))
        return self.pitches[p], self.durations[d]


def chorale_events(score, part="Soprano"):
    """``(pitches, durations)``, two int16 arrays, of one voice of a music21 score.

    ``part`` is the part's id (``"Soprano"``, ``"Alto"``, ``"Tenor"``, ``"Bass"``) or its index.
    Raises KeyError naming the parts there are when the score has no such part.
    """
    parts = list(score.parts)
    if isinstance(part, int):
        if not -len(parts) <= part < len(parts):
            raise KeyError(f"part {part}: the score has {len(parts)} parts")
        voice = parts[part]
    else:
        found = [p for p in parts if p.id == part or (p.partName or "") == part]
        if not found:
            raise KeyError(f"no part {part!r}; the score has {[p.id for p in parts]}")
        voice = found[0]
    pitches, durations = [], []
    for n in voice.flatten().notesAndRests:
        ql = float(n.quarterLength)
        if ql <= 0:                                    # grace note
            continue
        if n.isChord:
            pitch = max(p.midi for p in n.pitches)     # the top note (rare in a single voice)
        else:
            pitch = REST if n.isRest else n.pitch.midi
        sixteenths = max(1, int(round(ql * 4)))
        tie = getattr(n, "tie", None)
        if tie is not None and tie.type in ("continue", "stop") and pitches \
                and pitches[-1] == pitch:
            durations[-1] += sixteenths               # one event across the bar line
            continue
        pitches.append(pitch)
        durations.append(sixteenths)
    return np.array(pitches, dtype=np.int16), np.array(durations, dtype=np.int16)


def _parse_corpus(limit, part, progress):
    music21 = require_package("music21", "music", what="Bach chorale corpus")
    pitches, durations, lengths, titles = [], [], [], []
    for i, score in enumerate(music21.corpus.chorales.Iterator()):
        if limit is not None and i >= limit:
            break
        try:
            p, d = chorale_events(score, part)
        except KeyError:
            continue                                   # a chorale without this voice
        if len(p) == 0:
            continue
        title = score.metadata.title if score.metadata is not None else None
        pitches.append(p)
        durations.append(d)
        lengths.append(len(p))
        titles.append(title or f"chorale {i + 1}")
        if progress and (i + 1) % 25 == 0:
            print(f"parsed {i + 1} chorales", flush=True)
    return dict(pitches=np.concatenate(pitches), durations=np.concatenate(durations),
                lengths=np.array(lengths, dtype=np.int64), titles=np.array(titles, dtype=str))


def load_chorale_events(limit=None, part="Soprano", progress=False):
    """The raw events of the first ``limit`` chorales (all 371 when None), parsed or cached.

    Returns a dict of arrays: ``pitches`` and ``durations`` (all events, concatenated),
    ``lengths`` (events per chorale, in corpus order) and ``titles``. Raises MissingDataError
    (one line: what to install) when music21 is not installed.
    """
    if limit is not None and not 1 <= int(limit) <= NUM_CHORALES:
        raise ValueError(f"load_chorales: limit must be in 1..{NUM_CHORALES} or None, got {limit}")
    key = f"chorales_v{CACHE_VERSION}_{part}_{'all' if limit is None else int(limit)}.npz"
    arrays = load_cached_arrays(key)
    if arrays is None or set(arrays) != {"pitches", "durations", "lengths", "titles"}:
        arrays = _parse_corpus(limit, part, progress)
        save_cached_arrays(key, **arrays)
    return arrays


def load_chorales(limit=None, part="Soprano", vocab=None, progress=False):
    """``(sequences, vocab)``: one int64 array of event tokens per chorale, and the NoteVocab.

    Args:
        limit: read only the first ``limit`` chorales (a quick run); None reads all 371.
        part: the voice (``"Soprano"`` default, ``"Alto"``, ``"Tenor"``, ``"Bass"``).
        vocab: a :class:`NoteVocab` (default: ``NoteVocab.for_part(part)``: for the soprano
            the one of the module docstring, for another voice the same layout over its range).
        progress: print a line every 25 chorales while parsing.

    Each sequence holds the chorale's events only (no boundary token), ``(N_i,)`` with
    ``N_i`` between about 20 and 150. The titles are ``load_chorale_events(...)["titles"]``.
    """
    vocab = NoteVocab.for_part(part) if vocab is None else vocab
    arrays = load_chorale_events(limit, part, progress)
    tokens = vocab.encode_events(arrays["pitches"], arrays["durations"])
    bounds = np.cumsum(arrays["lengths"])[:-1]
    return np.split(tokens, bounds), vocab
