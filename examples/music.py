"""Bach chorale melodies: an LSTM learns the next note, then writes a melody of its own.

The data: the soprano line (the hymn tune) of the 371 Bach chorales in the ``music21`` corpus
(``pip install 'rnnkit[music]'``; 366 have a part named Soprano, about 18,600 notes), read by
``rnnkit.datasets.music.load_chorales`` and cached after the first parse (a minute or two).

The representation: each note or rest is one **event token** for the pair (pitch, duration):
29 pitches (a rest and MIDI A3..C6) x 8 durations (a sixteenth to a whole note), plus a
padding id 0 and a boundary id 1 that starts a chorale (as an input) and ends it (as a
target): 234 tokens (see the loader's docstring). Pitches are absolute, in the chorales' own
keys, so the model has to learn the keys too. The LSTM trains on each training chorale and on
its copies moved up and down by 1..``--transpose`` (2) semitones, five times the data; on the
validation tunes that lowers its NLL by about 0.2 nats. The bigram is offered the same copies
and keeps them only if they lower its validation NLL (with seed 0 they do not; with seed 1,
another split, they do).

The split is by tune: chorales with the same title, or the same melody (even transposed), fall
on the same side, so no held-out tune was ever trained on. 15 % of the tunes are held out; 10 %
of the rest are a validation slice (early stopping for the LSTM, the smoothing constant for the
bigram).

The model (many-to-many: the events so far in, the next event's distribution out at every
step; one-to-many when it generates from the boundary token alone)::

    events (B, T) -> Embedding(234, 48, mask_zero) -> (B, T, 48) -> LSTM(160, seq) -> (B, T, 160)
           -> Dropout(0.3) -> TimeDistributed(Dense(234)) -> next-event logits (B, T, 234)

It trains on chunks of at most 64 steps (batch 16, Adam 3e-3 with clipnorm 1, 25 epochs) and
keeps the epoch with the lowest validation NLL; it is scored on whole chorales.

The metric: the held-out negative log-likelihood per note, in nats (lower is better): the mean
over every held-out note (rests count as notes; the end marker does not) of -log p(note | the
notes before it in its chorale). The baseline, scored on exactly the same notes: a bigram model
p(note | previous note) with add-k smoothing, k tuned on the validation slice and the counts
then taken from every training chorale (validation slice included).

    python examples/music.py             # full run: all chorales, 25 epochs (2-3 min on 2 cores)
    python examples/music.py --quick     # a seconds-long smoke run on 12 chorales

Writes to ``--out`` (runs/music): ``generated.mid`` (a melody sampled from the model, at
temperature 0.9, top-10, at least 40 notes long), ``piano_roll.png`` (the generated melody
above a real held-out chorale of about the same length), ``model.rnnkit`` and ``metrics.json``.
"""

# _common first: it pins BLAS to one thread before NumPy is imported
from _common import Timer, finish_args, parser, pyplot, report, run_main, save_figure

import numpy as np  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402
from rnnkit.datasets.music import (BOUNDARY, PAD, REST, load_chorale_events,  # noqa: E402
                                   load_chorales)
from rnnkit.generation import sample_next  # noqa: E402

QUICK_CHORALES = 12
MAX_GENERATED = 100                        # events
MIN_GENERATED = 40                         # the end marker is not sampled before this


# ---- data ---------------------------------------------------------------------------------------
def tune_groups(seqs, titles, vocab):
    """A group id per chorale: the same title or the same melody up to transposition -> same id."""
    parent = list(range(len(seqs)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = {}
    for i, (seq, title) in enumerate(zip(seqs, titles)):
        events = [vocab.decode(t) for t in seq]
        notes = [(p, d) for p, d in events if p != REST]
        shape = tuple((b[0] - a[0], b[1]) for a, b in zip(notes, notes[1:]))
        for key in (("title", str(title)), ("shape", shape)):
            j = first.setdefault(key, i)
            parent[find(i)] = find(j)
    return np.array([find(i) for i in range(len(seqs))])


def split_by_tune(groups, rng, test_fraction=0.15, val_fraction=0.10):
    """Indices ``(train, val, test)`` of chorales; a group is never split across them."""
    ids = rng.permutation(np.unique(groups))
    n_test = max(1, int(round(test_fraction * len(ids))))
    n_val = max(1, int(round(val_fraction * (len(ids) - n_test))))
    test, val = set(ids[:n_test]), set(ids[n_test:n_test + n_val])
    where = np.array([2 if g in test else 1 if g in val else 0 for g in groups])
    return [np.flatnonzero(where == k) for k in range(3)]


def transpose(seqs, vocab, max_shift):
    """Each chorale plus its copies moved by 1..max_shift semitones up and down (training data
    augmentation); a shift that would take a note outside the vocabulary's range is skipped."""
    out = []
    for seq in seqs:
        events = [vocab.decode(t) for t in seq]
        notes = [p for p, _ in events if p != REST]
        for shift in range(-max_shift, max_shift + 1):
            if shift == 0 or vocab.low <= min(notes) + shift and max(notes) + shift <= vocab.high:
                out.append(np.array([vocab.encode(p + shift if p != REST else REST, d)
                                     for p, d in events], dtype=np.int64))
    return out


def pad_pairs(seqs, max_len=None):
    """Inputs ``[BOUNDARY, e1..eN]`` and targets ``[e1..eN, BOUNDARY]``, zero-padded: (B, T) each.

    With ``max_len`` a chorale longer than that is cut into consecutive chunks of ``max_len``
    steps (training only: a chunk after the first starts without the notes before it).
    """
    xs, ys = [], []
    for seq in seqs:
        x = np.concatenate([[BOUNDARY], seq])
        y = np.concatenate([seq, [BOUNDARY]])
        step = max_len or len(x)
        for s in range(0, len(x), step):
            xs.append(x[s:s + step])
            ys.append(y[s:s + step])
    T = max(len(x) for x in xs)
    X, Y = np.zeros((len(xs), T), np.int64), np.zeros((len(xs), T), np.int64)
    for i, (x, y) in enumerate(zip(xs, ys)):
        X[i, :len(x)], Y[i, :len(y)] = x, y
    return X, Y


# ---- the bigram baseline ------------------------------------------------------------------------
def bigram_counts(seqs, V):
    """(V, V) counts of (previous, next) over ``[BOUNDARY, events..., BOUNDARY]``."""
    counts = np.zeros((V, V))
    for seq in seqs:
        s = np.concatenate([[BOUNDARY], seq, [BOUNDARY]])
        np.add.at(counts, (s[:-1], s[1:]), 1)
    return counts


def bigram_note_nll(counts, k, seqs):
    """Per-note NLL (nats) of add-k bigram on the notes of ``seqs`` (the end marker excluded).

    Every token but padding is a possible outcome: p = (c(prev, next) + k) / (c(prev) + k (V-1)).
    """
    V = counts.shape[0]
    total, n = 0.0, 0
    for seq in seqs:
        prev = np.concatenate([[BOUNDARY], seq[:-1]])
        p = (counts[prev, seq] + k) / (counts[prev].sum(axis=1) + k * (V - 1))
        total -= np.log(p).sum()
        n += len(seq)
    return total / n


def tune_k(train, val, V):
    """The add-k constant with the lowest validation NLL (log grid 1e-4 .. 10), and that NLL."""
    counts = bigram_counts(train, V)
    grid = np.logspace(-4, 1, 26)
    nll = [bigram_note_nll(counts, k, val) for k in grid]
    best = int(np.argmin(nll))
    return float(grid[best]), float(nll[best])


# ---- the model ----------------------------------------------------------------------------------
def build_model(V, embed, units, dropout):
    model = rnnkit.Sequential([
        layers.Input((None,), dtype="int64"),
        layers.Embedding(V, embed, mask_zero=True),
        layers.LSTM(units, return_sequences=True),
        layers.Dropout(dropout),
        layers.TimeDistributed(layers.Dense(V)),
    ])
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=3e-3, clipnorm=1.0),
                  loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def model_note_nll(model, seqs, batch_size=32):
    """Per-note NLL (nats) of the model on whole chorales (the end marker excluded)."""
    X, Y = pad_pairs(seqs)
    logits = model.predict(X, batch_size=batch_size, verbose=0).astype(np.float64)  # (B, T, V)
    top = logits.max(axis=-1, keepdims=True)
    logp = logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(logp, Y[..., None], axis=-1)[..., 0]               # (B, T)
    notes = Y >= 2                                       # events only: no padding, no end marker
    return float(-picked[notes].sum() / notes.sum())


class NoteNLL(rnnkit.callbacks.Callback):
    """After each epoch: the per-note NLL on the validation chorales, logged as ``val_note_nll``."""

    def __init__(self, seqs):
        super().__init__()
        self.seqs, self.history = seqs, []

    def on_epoch_end(self, epoch, logs=None):
        self.history.append(model_note_nll(self.model, self.seqs))
        if logs is not None:
            logs["val_note_nll"] = self.history[-1]


def generate(model, V, rng, temperature=0.9, top_k=10):
    """Sample a melody (event tokens) from the boundary token until the end marker."""
    ids = [BOUNDARY]
    while len(ids) <= MAX_GENERATED:
        logits = model.predict(np.array([ids]), verbose=0)[0, -1].astype(np.float64)  # (V,)
        logits[PAD] = -np.inf
        if len(ids) <= MIN_GENERATED:
            logits[BOUNDARY] = -np.inf
        token = sample_next(logits, temperature=temperature, top_k=top_k, rng=rng)
        if token == BOUNDARY:
            break
        ids.append(token)
    return np.array(ids[1:], dtype=np.int64)


# ---- output -------------------------------------------------------------------------------------
def write_midi(events, path):
    """Write ``[(midi pitch or 0 for a rest, sixteenths), ...]`` as a one-voice MIDI file."""
    from music21 import note, stream, tempo

    part = stream.Stream()
    part.append(tempo.MetronomeMark(number=80))
    for pitch, sixteenths in events:
        n = note.Rest() if pitch == REST else note.Note(midi=int(pitch))
        n.quarterLength = sixteenths / 4
        part.append(n)
    part.write("midi", fp=str(path))
    print(f"wrote {path}")


def plot(generated, real, real_title, nll, path):
    plt = pyplot()
    if plt is None:
        return
    from music21 import pitch as m21pitch

    rolls = [(generated, "generated by the LSTM (temperature 0.9, top-10)", "tab:blue"),
             (real, f"a held-out chorale: {real_title}", "tab:green")]
    notes = [p for events, _, _ in rolls for p, _ in events if p != REST]
    lo, hi = min(notes) - 1, max(notes) + 1
    length = max(sum(d for _, d in events) for events, _, _ in rolls) / 4
    fig, axes = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    for ax, (events, title, colour) in zip(axes, rolls):
        t = 0.0
        for p, d in events:
            if p != REST:
                ax.broken_barh([(t, d / 4 - 0.04)], (p - 0.4, 0.8), color=colour)
            t += d / 4
        for bar in np.arange(0, length + 4, 4):
            ax.axvline(bar, color="0.85", lw=0.8, zorder=0)
        ticks = [p for p in range(lo, hi + 1) if p % 12 in (0, 4, 7)]       # C, E, G
        ax.set_yticks(ticks, [m21pitch.Pitch(midi=p).nameWithOctave for p in ticks])
        ax.set(ylim=(lo, hi), title=title, ylabel="pitch")
    axes[-1].set(xlim=(0, length), xlabel="quarter notes (grey lines every 4)")
    fig.suptitle(f"Bach chorale soprano lines. Held-out NLL per note: LSTM {nll['rnn']:.3f}, "
                 f"bigram {nll['bigram']:.3f} nats")
    save_figure(fig, path)


def main():
    p = parser("music", "Next-note LSTM on Bach chorale melodies (music21); held-out NLL per "
               "note vs an add-k bigram; writes a generated MIDI melody and a piano roll.")
    p.add_argument("--part", default="Soprano", choices=("Soprano", "Alto", "Tenor", "Bass"),
                   help="which voice to learn (default: Soprano)")
    p.add_argument("--units", type=int, default=None, help="LSTM units (default 160; 32 quick)")
    p.add_argument("--transpose", type=int, default=2, metavar="N",
                   help="train on copies moved by up to N semitones up and down (default 2)")
    args = finish_args(p, p.parse_args(), full_epochs=25, quick_epochs=1)
    args.units = args.units or (32 if args.quick else 160)
    rnnkit.random.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    # 1. the data: event tokens per chorale, split by tune
    limit = QUICK_CHORALES if args.quick else None
    seqs, vocab = load_chorales(limit=limit, part=args.part, progress=True)
    titles = load_chorale_events(limit, args.part)["titles"]
    V = len(vocab)
    train, val, test = split_by_tune(tune_groups(seqs, titles, vocab), rng)
    pick = lambda idx: [seqs[i] for i in idx]                      # noqa: E731
    n_notes = [sum(len(seqs[i]) for i in idx) for idx in (train, val, test)]
    print(f"{len(seqs)} chorales ({args.part}), {V} tokens: train {len(train)} chorales "
          f"({n_notes[0]} notes), validation {len(val)} ({n_notes[1]}), held out {len(test)} "
          f"({n_notes[2]})")

    # 2. the baseline: add-k bigram, k (and whether the transposed copies help it) chosen on the
    #    validation slice, then counts from all training tunes
    tried = {n: tune_k(transpose(pick(train), vocab, n), pick(val), V)
             for n in sorted({0, args.transpose})}                   # {shift: (k, val NLL)}
    shift = min(tried, key=lambda n: tried[n][1])
    k = tried[shift][0]
    counts = bigram_counts(transpose(pick(train) + pick(val), vocab, shift), V)
    bigram_nll = bigram_note_nll(counts, k, pick(test))

    # 3. the LSTM, trained on chunks of 64 steps of the chorales and their transposed copies;
    #    the best validation epoch is kept
    x_train, y_train = pad_pairs(transpose(pick(train), vocab, args.transpose), max_len=64)
    model = build_model(V, 48, args.units, 0.3)
    model.summary()
    note_nll = NoteNLL(pick(val))
    stop = rnnkit.callbacks.EarlyStopping(monitor="val_note_nll", patience=6,
                                          restore_best_weights=True)
    timer = Timer()
    model.fit(x_train, y_train, batch_size=16, epochs=args.epochs, callbacks=[note_nll, stop],
              verbose=1, seed=args.seed)
    train_seconds = timer.seconds
    rnn_nll = model_note_nll(model, pick(test))
    model.save(args.out / "model.rnnkit")
    print(f"wrote {args.out / 'model.rnnkit'}")

    # 4. a new melody, as MIDI and beside a real held-out chorale
    melody = [vocab.decode(t) for t in generate(model, V, rng)]
    write_midi(melody, args.out / "generated.mid")
    length = sum(d for _, d in melody)                    # a real melody of about that length
    real = min(test, key=lambda i: abs(sum(vocab.decode(t)[1] for t in seqs[i]) - length))
    nll = dict(rnn=rnn_nll, bigram=bigram_nll)
    plot(melody, [vocab.decode(t) for t in seqs[real]], titles[real], nll,
         args.out / "piano_roll.png")
    report(args.out, "music", "NLL per note (nats)", rnn_nll, bigram_nll,
           f"add-k bigram, k={k:.3g}" + (f", transposed +-{shift}" if shift else ""),
           higher_is_better=False, train_seconds=train_seconds,
           data=f"music21 Bach chorales, {args.part} ({len(seqs)} chorales)",
           held_out_notes=n_notes[2], held_out_chorales=len(test), train_chorales=len(train),
           vocab_size=V, bigram_k=k, bigram_transpose=shift, transpose=args.transpose,
           train_sequences=len(x_train), generated_events=len(melody),
           best_epoch=int(stop.best_epoch) + 1, epochs_run=len(note_nll.history),
           val_note_nll=note_nll.history)
    return 0


if __name__ == "__main__":
    run_main(main)
