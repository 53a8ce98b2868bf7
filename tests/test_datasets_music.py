"""rnnkit.datasets.music: note events read from music21's Bach chorales, the token vocabulary,
the parse cache, and the errors for a missing package or a missing voice."""

import sys

import numpy as np
import pytest

from rnnkit.datasets import music, sources
from rnnkit.datasets.music import (BOUNDARY, PAD, REST, NoteVocab, chorale_events,
                                   load_chorale_events, load_chorales)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    return tmp_path / "cache"


@pytest.fixture
def music21():
    return pytest.importorskip("music21", reason="music21 (rnnkit[music]) not installed")


def test_vocab_layout_round_trip_and_snapping():
    vocab = NoteVocab()
    assert len(vocab) == 2 + 29 * 8 == 234
    ids = {vocab.encode(p, d) for p in vocab.pitches for d in vocab.durations}
    assert ids == set(range(2, len(vocab)))               # every event id used exactly once
    for p in vocab.pitches:
        for d in vocab.durations:
            assert vocab.decode(vocab.encode(p, d)) == (p, d)
    assert vocab.snap(45, 4) == (57, 4)                   # A2 up an octave into A3..C6
    assert vocab.snap(86, 4) == (74, 4)                   # D6 down an octave
    assert vocab.snap(REST, 5) == (REST, 6)               # 5 sixteenths: nearest in log time
    assert vocab.snap(67, 24) == (67, 16)
    with pytest.raises(ValueError, match="token 1 is not a note event"):
        vocab.decode(BOUNDARY)
    with pytest.raises(ValueError, match="token 0"):
        vocab.decode(PAD)
    with pytest.raises(ValueError, match="duration must be >= 1"):
        vocab.encode(60, 0)


def test_each_voice_has_its_own_range():
    assert NoteVocab.for_part("Soprano").pitches == NoteVocab().pitches
    bass = NoteVocab.for_part(3)
    assert len(bass) == len(NoteVocab()) and bass.pitches[1:] == tuple(range(36, 64))
    assert bass.decode(bass.encode(40, 8)) == (40, 8)             # E2 stays E2 in the bass
    assert NoteVocab().snap(40, 8) == (64, 8)                     # ... and is E4 for a soprano
    with pytest.raises(KeyError, match="no pitch range for part 'Descant'"):
        NoteVocab.for_part("Descant")


def test_chorale_events_reads_a_real_score(music21):
    score = music21.corpus.parse("bwv66.6")               # the corpus's .mxl, parsed by music21
    pitches, durations = chorale_events(score, "Soprano")
    assert pitches.dtype == durations.dtype == np.int16
    assert len(pitches) == len(durations) > 20
    # the soprano of BWV 66.6 opens on C#5 (MIDI 73) and B4 (71), an eighth pickup then quarters
    assert pitches[:2].tolist() == [73, 71] and durations[:2].tolist() == [2, 2]
    assert 4 * sum(n.quarterLength for n in score.parts[0].flatten().notesAndRests) \
        == durations.sum()                                  # ties merge, no time is lost
    bass, _ = chorale_events(score, 3)
    assert np.median(bass) < np.median(pitches) - 12
    with pytest.raises(KeyError, match="no part 'Descant'; the score has"):
        chorale_events(score, "Descant")


def test_tied_notes_become_one_event(music21):
    from music21 import note, stream, tie

    part = stream.Part(id="Soprano")
    a, b, c = note.Note("G4", quarterLength=1), note.Note("G4", quarterLength=1), note.Rest()
    a.tie, b.tie = tie.Tie("start"), tie.Tie("stop")
    for n in (a, b, c, note.Note("A4", quarterLength=0.5)):
        part.append(n)
    score = stream.Score([part])
    pitches, durations = chorale_events(score)
    assert pitches.tolist() == [67, REST, 69] and durations.tolist() == [8, 4, 2]


def test_load_chorales_parses_once_then_reads_the_cache(music21, fresh_cache, monkeypatch):
    seqs, vocab = load_chorales(limit=3)
    assert len(seqs) == 3 and all(s.dtype == np.int64 and s.min() >= 2 for s in seqs)
    events = [vocab.decode(t) for t in seqs[0][:4]]
    # "Aus meines Herzens Grunde": G4 quarter, G4 half, D5 quarter, B4 dotted quarter
    assert events == [(67, 4), (67, 8), (74, 4), (71, 6)]
    assert (fresh_cache / "chorales_v1_Soprano_3.npz").is_file()

    def no_parse(*args):
        raise AssertionError("parsed again instead of reading the cache")
    monkeypatch.setattr(music, "_parse_corpus", no_parse)
    again, _ = load_chorales(limit=3)
    assert all(np.array_equal(a, b) for a, b in zip(seqs, again))
    titles = load_chorale_events(3)["titles"]
    assert titles[0] == "Aus meines Herzens Grunde"


def test_a_cache_with_other_arrays_is_rebuilt(music21, fresh_cache):
    sources.save_cached_arrays("chorales_v1_Soprano_2.npz", junk=np.zeros(3))
    seqs, _ = load_chorales(limit=2)
    assert len(seqs) == 2 and len(seqs[0]) > 20


def test_missing_music21_says_what_to_install(fresh_cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "music21", None)        # import music21 fails
    with pytest.raises(sources.MissingDataError) as e:
        load_chorales(limit=2)
    assert "music21" in str(e.value) and "rnnkit[music]" in str(e.value)
    assert "\n" not in str(e.value)


def test_limit_is_checked():
    with pytest.raises(ValueError, match="limit must be in 1..371"):
        load_chorales(limit=0)
