"""English -> French: an encoder-decoder LSTM with attention, greedy and beam-search decoding.

Trained on 5,000 short Tatoeba pairs (``english<TAB>french<TAB>attribution``; the attribution
column is kept out of the model). The architecture is the classic one of Luong et al. (2015),
written with Keras layers as in Keras's lstm_seq2seq example::

    english ids (B, Ts) -> Embedding(mask_zero) -> Bidirectional(LSTM, return_sequences,
        return_state) -> encoder outputs (B, Ts, 2U) and states h, c (concatenated, (B, 2U))
    [start] + french ids (B, Tt) -> Embedding(mask_zero) -> LSTM(2U, initial_state=[h, c])
        -> decoder outputs (B, Tt, 2U)            (teacher forcing: the true previous word)
    Attention()([decoder outputs, encoder outputs]) -> context (B, Tt, 2U)
    Concatenate()([decoder outputs, context]) -> Dense(tanh) -> Dense(softmax) -> (B, Tt, V)

After training, an inference decoder Model is built from the same trained layers: it takes one
token, the states h and c and the encoder outputs, and returns the next-word probabilities and
the new states. ``rnnkit.decoding`` runs greedy and beam search over it, with the encoder
outputs carried, unchanged, as one more state.

**Word level**, not character level (``--level char`` is there to compare): the sentences are
1-4 English words and mostly formulaic ("I'm X.", "Tom is X."); a word model decodes ~5 steps
instead of ~20 and never has to learn to spell. Measured with the same split, seed and sizes
(128 units, 22 epochs, greedy decoding): word level 14.2 % held-out exact match, BLEU 23.7;
character level 4.2 %, BLEU 15.8. A char epoch is cheaper (a 65-way softmax instead of 1,135;
French words seen once in training become [UNK], ``--min-count``), yet in our runs the char
model trailed at equal training time too.

**Held-out split and scores.** Many English sentences have several French translations ("Go."
-> "Va !", "Marche.", "Bouge !"). The split is by English sentence (10 %, fixed seed), so a
held-out sentence was never seen in training under any translation, and a hypothesis is scored
against all its references: exact match (equal to one of them), character accuracy
(1 - edit distance / reference length, clipped at 0, best reference) and corpus BLEU-4 (up to
4-grams, brevity penalty from the closest reference length). All three compare normalised text:
lower case, words and punctuation separated by single spaces. The baseline copies the English
input as the output. The headline number (``metrics.json``, see ``examples/_common.py``) is the
beam-search BLEU beside the copy-input baseline's; all three scores of greedy, beam and copy are
kept there too. ``model.rnnkit``, the two vocabularies and ``training.png`` go to ``--out``
(default ``runs/translate``).

The full run (defaults, seed 0, 2-core machine, commit dcc91a3): beam-search BLEU 23.9, exact
match 14.6 %, character accuracy 52.2 % on 260 held-out English sentences (greedy: 20.8,
13.5 %, 48.7 %), against 0.0, 0.0 % and 32.6 % for copying the input; training took 163 s
(25 epochs).

    python examples/translate.py                 # full run, about 5 minutes on 2 cores
    python examples/translate.py --quick         # a seconds-long smoke run
"""

import _common  # first: pins BLAS to one thread (small per-step products, 2 cores)

import collections  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402
from rnnkit.data import CharVocab, WordVocab, pad_sequences  # noqa: E402
from rnnkit.datasets.sources import MissingDataError  # noqa: E402
from rnnkit.decoding import beam_search, greedy_decode, model_step  # noqa: E402

DEFAULT_DATA = _common.shared_data("eng-fra_tatoeba_5000.tsv")

try:                                                     # exported once the layers are final
    Attention = layers.Attention
except AttributeError:
    from rnnkit.layers.attention import Attention


# ---- data ---------------------------------------------------------------------------------------
def read_pairs(path):
    """``[(english, french), ...]`` from a ``english<TAB>french<TAB>attribution`` file."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
                raise ValueError(f"{path}:{n}: expected english<TAB>french<TAB>attribution")
            pairs.append((fields[0], fields[1]))          # the attribution stays out
    if not pairs:
        raise ValueError(f"{path}: no sentence pairs")
    return pairs


def split_by_source(pairs, test_fraction, rng):
    """Train and test pairs; all translations of one English sentence fall on the same side."""
    sources = list(dict.fromkeys(en for en, _ in pairs))   # unique, in file order
    n_test = max(1, round(test_fraction * len(sources)))
    test = set(rng.permutation(len(sources))[:n_test].tolist())
    test_sources = {sources[i] for i in test}
    train = [p for p in pairs if p[0] not in test_sources]
    held = [p for p in pairs if p[0] in test_sources]
    return train, held


class Tokens:
    """Text <-> ids at word or character level, with start and end tokens on the target side."""

    def __init__(self, level, texts, targets, min_count=1):
        self.level = level
        if level == "word":
            base = WordVocab.from_text("\n".join(texts), min_count=min_count)
            specials = ["[start]", "[end]"] if targets else []
            self.vocab = WordVocab(specials + base.get_vocabulary()[2:])
        else:
            base = CharVocab.from_text("\n".join(t.lower() for t in texts))
            specials = ["\t", "\r"] if targets else []          # never in a one-line sentence
            self.vocab = CharVocab(specials + [c for c in base.get_vocabulary()[2:]
                                               if c not in specials])
        if targets:
            self.start, self.end = 2, 3

    def __len__(self):
        return len(self.vocab)

    def encode(self, text):
        return self.vocab.encode(text if self.level == "word" else text.lower())

    def decode(self, ids):
        return self.vocab.decode(ids)


def normalise(text):
    """Lower case, words and punctuation separated by single spaces: what the scores compare."""
    return " ".join(WordVocab.tokenize(text))


def pairs_en(pairs):
    return [en for en, _ in pairs]


def make_arrays(pairs, src, tgt):
    """Encoder ids, decoder input ids ([start] + y) and decoder targets (y + [end]), post-padded."""
    x = pad_sequences([src.encode(en) for en in pairs_en(pairs)], padding="post")
    ys = [tgt.encode(fr) for _, fr in pairs]
    dec_in = pad_sequences([[tgt.start, *y] for y in ys], padding="post")
    dec_out = pad_sequences([[*y, tgt.end] for y in ys], padding="post")
    return x, dec_in, dec_out


# ---- the model ----------------------------------------------------------------------------------
def build(n_src, n_tgt, embed_dim, units, dropout=0.0):
    """The teacher-forced training model and its layers (the inference models reuse them)."""
    L = {
        "enc_embedding": layers.Embedding(n_src, embed_dim, mask_zero=True, name="enc_embedding"),
        "encoder": layers.Bidirectional(layers.LSTM(units, return_sequences=True,
                                                    return_state=True, dropout=dropout),
                                        name="encoder"),
        "dec_embedding": layers.Embedding(n_tgt, embed_dim, mask_zero=True, name="dec_embedding"),
        "decoder": layers.LSTM(2 * units, return_sequences=True, return_state=True,
                               dropout=dropout, name="decoder"),
        "attention": Attention(name="attention"),
        "concat": layers.Concatenate(name="concat"),
        "hidden": layers.Dense(2 * units, activation="tanh", name="attentional"),
        "head": layers.Dense(n_tgt, activation="softmax", name="next_word"),
    }
    enc_in = rnnkit.Input((None,), dtype="int32", name="english")
    enc_out, fh, fc, bh, bc = L["encoder"](L["enc_embedding"](enc_in))   # (B, Ts, 2U), 4x (B, U)
    h = layers.Concatenate(name="enc_h")([fh, bh])                       # (B, 2U)
    c = layers.Concatenate(name="enc_c")([fc, bc])
    dec_in = rnnkit.Input((None,), dtype="int32", name="french_in")
    dec_out, _, _ = L["decoder"](L["dec_embedding"](dec_in), initial_state=[h, c])
    probs = decoder_head(L, dec_out, enc_out)                            # (B, Tt, V)
    model = rnnkit.Model([enc_in, dec_in], probs, name="translator")
    encoder_model = rnnkit.Model(enc_in, [enc_out, h, c], name="encoder_model")
    return model, encoder_model, L


def decoder_head(L, dec_out, enc_out):
    """Attention over the encoder outputs, then the attentional hidden state and the softmax."""
    context = L["attention"]([dec_out, enc_out])                         # (B, Tt, 2U)
    return L["head"](L["hidden"](L["concat"]([dec_out, context])))


def inference_decoder(L, units):
    """``Model([token (N, 1), h, c, encoder outputs], [probs (N, 1, V), h, c])`` from L."""
    token = rnnkit.Input((1,), dtype="int32", name="token")
    h_in, c_in = rnnkit.Input((2 * units,), name="h"), rnnkit.Input((2 * units,), name="c")
    enc_out = rnnkit.Input((None, 2 * units), name="encoder_outputs")
    dec_out, h, c = L["decoder"](L["dec_embedding"](token), initial_state=[h_in, c_in])
    probs = decoder_head(L, dec_out, enc_out)
    return rnnkit.Model([token, h_in, c_in, enc_out], [probs, h, c], name="decoder_model")


def make_step(decoder_model, banned):
    """A decoding step whose states are ``[h, c, encoder outputs]``; the last is passed through."""
    step_hc = model_step(decoder_model)

    def step(tokens, states):
        logp, (h, c) = step_hc(tokens, states)            # (N, V): log p(next word)
        logp[:, banned] = -np.inf                         # never padding, OOV or [start]
        top = logp.max(axis=1, keepdims=True)             # renormalise over the rest
        logp -= top + np.log(np.exp(logp - top).sum(axis=1, keepdims=True))
        return logp, [h, c, states[2]]

    return step


# ---- scores -------------------------------------------------------------------------------------
def edit_distance(a, b):
    """Levenshtein distance between two strings (one row at a time)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_accuracy(hyp, refs):
    return max(max(0.0, 1.0 - edit_distance(hyp, r) / max(len(r), 1)) for r in refs)


def corpus_bleu(hyps, refs_list, max_n=4):
    """Corpus BLEU (Papineni et al. 2002) on space-separated tokens, several references each."""
    matched, total = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hyp, refs in zip(hyps, refs_list):
        h, rs = hyp.split(), [r.split() for r in refs]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]   # closest reference
        for n in range(1, max_n + 1):
            grams = collections.Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            most = collections.Counter()
            for r in rs:
                most |= collections.Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            matched[n - 1] += sum(min(k, most[g]) for g, k in grams.items())
            total[n - 1] += max(len(h) - n + 1, 0)
    if min(matched) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(matched, total)) / max_n
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / max(hyp_len, 1))
    return 100.0 * bp * math.exp(log_p)


def scores(hyps, refs_list):
    """(exact match, character accuracy, BLEU) of normalised hypotheses against references."""
    em = np.mean([h in refs for h, refs in zip(hyps, refs_list)])
    ca = np.mean([char_accuracy(h, refs) for h, refs in zip(hyps, refs_list)])
    return float(em), float(ca), corpus_bleu(hyps, refs_list)


# ---- plot ---------------------------------------------------------------------------------------
def plot(history, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return
    h = history
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, h["loss"], label="train")
    ax1.plot(epochs, h["val_loss"], label="held-out")
    ax1.set(xlabel="epoch", ylabel="cross-entropy per word (nats)", title="loss")
    ax2.plot(epochs, h["accuracy"], label="train")
    ax2.plot(epochs, h["val_accuracy"], label="held-out")
    ax2.set(xlabel="epoch", ylabel="next-word accuracy (teacher forcing)", ylim=(0, 1),
            title="accuracy")
    for ax in (ax1, ax2):
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


# ---- main ---------------------------------------------------------------------------------------
def parse_args(argv):
    p = _common.parser("translate", "English-to-French translation with an LSTM encoder-decoder "
                       "and attention; greedy and beam-search decoding.",
                       data_help=f"english<TAB>french<TAB>attribution file (default: "
                       f"{DEFAULT_DATA})")
    p.add_argument("--level", choices=("word", "char"), default="word",
                   help="tokens are words or characters (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=32, help="default: %(default)s")
    p.add_argument("--units", type=int, default=None,
                   help="LSTM units per encoder direction; the decoder has twice (default 128)")
    p.add_argument("--embed-dim", type=int, default=None, help="default 128")
    p.add_argument("--dropout", type=float, default=0.0,
                   help="input dropout of the encoder and decoder LSTMs (default: %(default)s)")
    p.add_argument("--min-count", type=int, default=2,
                   help="word level: French words seen fewer times in training become [UNK] "
                   "(a smaller softmax; default: %(default)s)")
    p.add_argument("--beam-width", type=int, default=4, help="default: %(default)s")
    p.add_argument("--length-penalty", type=float, default=1.0,
                   help="GNMT length penalty alpha for beam search (default: %(default)s)")
    args = p.parse_args(argv)
    if not 0 <= args.dropout < 1:
        p.error("--dropout must be in [0, 1)")
    args = _common.finish_args(p, args, full_epochs=25, quick_epochs=2)
    args.data = Path(args.data) if args.data is not None else DEFAULT_DATA
    quick = args.quick
    args.units = args.units if args.units is not None else (16 if quick else 128)
    args.embed_dim = args.embed_dim if args.embed_dim is not None else (16 if quick else 128)
    for name in ("batch_size", "units", "embed_dim", "min_count", "beam_width"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if not args.data.is_file():
        raise MissingDataError(f"data file not found: {args.data} (pass --data PATH to an "
                               "english<TAB>french<TAB>attribution file)")
    rng = np.random.default_rng(args.seed)
    rnnkit.random.set_random_seed(args.seed)

    # 1. data: split by English sentence, vocabularies from the training side only
    try:
        pairs = read_pairs(args.data)
    except (ValueError, UnicodeDecodeError) as e:
        print(f"translate.py: {e}", file=sys.stderr)
        return 2
    train, held = split_by_source(pairs, 0.1, rng)
    if args.quick:                                        # a small slice, for a smoke run
        train, held = train[:600], held[:40]
    src = Tokens(args.level, pairs_en(train), targets=False)
    tgt = Tokens(args.level, [fr for _, fr in train], targets=True, min_count=args.min_count)
    x, dec_in, dec_out = make_arrays(train, src, tgt)
    vx, vdec_in, vdec_out = make_arrays(held, src, tgt)
    print(f"{len(pairs)} pairs: {len(train)} for training, {len(held)} held out "
          f"({len(set(pairs_en(held)))} English sentences never seen in training)")
    print(f"{args.level} level: {len(src)} English and {len(tgt)} French tokens; "
          f"sequences up to {x.shape[1]} and {dec_in.shape[1]} tokens")

    # 2. the model, trained with teacher forcing
    model, encoder_model, L = build(len(src), len(tgt), args.embed_dim, args.units, args.dropout)
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=1e-3, clipnorm=5.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if not args.quick:
        model.summary()
    t0, cpu0 = time.perf_counter(), time.process_time()
    history = model.fit([x, dec_in], dec_out, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=([vx, vdec_in], vdec_out),
                        verbose=2 if args.quick else 1, seed=args.seed)
    train_time, train_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(f"training time: {train_time:.1f} s wall, {train_cpu:.1f} s CPU ({args.epochs} epochs)")

    # 3. decode every held-out English sentence, greedy and beam search
    decoder_model = inference_decoder(L, args.units)
    step = make_step(decoder_model, banned=[0, 1, tgt.start])
    max_length = dec_out.shape[1] + 2
    refs = collections.defaultdict(list)
    for en, fr in held:
        refs[en].append(normalise(fr))
    sources = list(refs)
    t0 = time.perf_counter()
    greedy, beam = [], []
    for en in sources:
        enc_out, h, c = encoder_model.forward(src.encode(en)[None, :])     # batch of one
        states = [h, c, enc_out]
        tokens, _ = greedy_decode(step, states, tgt.start, tgt.end, max_length)
        greedy.append(normalise(tgt.decode(tokens)))
        tokens, _ = beam_search(step, states, tgt.start, tgt.end, max_length,
                                beam_width=args.beam_width, length_penalty=args.length_penalty)
        beam.append(normalise(tgt.decode(tokens)))
    decode_time = time.perf_counter() - t0

    # 4. scores beside the copy-input baseline, and a few translations
    refs_list = [refs[en] for en in sources]
    rows = [("copy-input baseline", [normalise(en) for en in sources]),
            ("greedy", greedy), (f"beam (width {args.beam_width})", beam)]
    print(f"\nheld-out: {len(sources)} English sentences, {len(held)} reference translations "
          f"(decoding took {decode_time:.1f} s)")
    print(f"{'':22s}{'exact match':>12s}{'char accuracy':>15s}{'BLEU':>7s}")
    table = {}
    for (name, hyps), key in zip(rows, ("copy", "greedy", "beam")):
        em, ca, bleu = scores(hyps, refs_list)
        table[key] = {"exact_match": em, "char_accuracy": ca, "bleu": bleu}
        print(f"{name:22s}{em:11.1%} {ca:14.1%} {bleu:6.1f}")
    print("\nsamples (English -> beam search | one reference):")
    for i in rng.choice(len(sources), size=min(8, len(sources)), replace=False):
        mark = "=" if beam[i] in refs_list[i] else " "
        print(f"  {sources[i]:16s} -> {beam[i]:28s} {mark}| {refs_list[i][0]}")

    # 5. the model, the vocabularies, the plot and metrics.json (BLEU of beam search vs copying)
    model.save(args.out / "model.rnnkit")
    src.vocab.save(args.out / "english_vocab.json")
    tgt.vocab.save(args.out / "french_vocab.json")
    print(f"wrote {args.out / 'model.rnnkit'} and the two vocabularies")
    plot(history.history, args.out / "training.png")
    _common.report(args.out, "translate", "BLEU", table["beam"]["bleu"], table["copy"]["bleu"],
                   "copy-input", train_seconds=train_time,
                   train_cpu_seconds=round(train_cpu, 1), data=args.data, level=args.level,
                   epochs=args.epochs, units=args.units, heldout_sentences=len(sources),
                   heldout_references=len(held), beam_width=args.beam_width,
                   scores={k: {m: round(v, 4) for m, v in d.items()} for k, d in table.items()})
    return 0


if __name__ == "__main__":
    _common.run_main(main)
