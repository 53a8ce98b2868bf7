"""Sequence to sequence learning for performing number addition, on rnnkit.

A port of the Keras example "Sequence to sequence learning for performing number addition"
(keras-io, examples/nlp/addition_rnn.py, by Smerity and others): the model reads a question such
as "535+61" one character at a time and writes the answer "596". The model, the data and the
training settings are the example's; what changed:

- ``import rnnkit`` / ``from rnnkit import layers`` instead of keras;
- randomness comes from one seeded ``numpy.random.Generator`` (``--seed``);
- the per-step classifier is written ``TimeDistributed(Dense(...))`` (Keras 3's plain ``Dense``
  does the same on a 3-D input);
- the score is **exact match** (every character of the answer right) on the held-out 10 %,
  besides Keras's per-character accuracy; one ``fit`` call with a callback replaces the loop of
  one-epoch ``fit`` calls, and the model and a plot go to ``--out``;
- the learning rate decays by 15 % per epoch over the second half of training (Adam at a fixed
  1e-3 reaches 99.7 % exact match by epoch 25 here but keeps jumping down to 90-94 % for an
  epoch, so the score at a fixed last epoch was a matter of luck).

    python examples/addition.py              # full run: 50,000 questions, 3-digit numbers
    python examples/addition.py --quick      # a seconds-long smoke run

The encoder LSTM reads the (reversed, space-padded) question; its last output, repeated once
per answer character by RepeatVector, is the input of the decoder LSTM at every step; a softmax
over the 12 characters picks each answer character::

    "  54+321" (7, 12) -> LSTM(128) -> (128,) -> RepeatVector(4) -> (4, 128)
                       -> LSTM(128, return_sequences=True) -> (4, 128)
                       -> TimeDistributed(Dense(12, softmax)) -> (4, 12) -> "375 "
"""

import argparse
import json
import sys
import time
from pathlib import Path

# Threads: rnnkit's policy (rnnkit.config.set_num_threads / RNNKIT_NUM_THREADS) decides; the
# per-step products here are small ((32, 128) @ (128, 512)) and numpy's BLAS is held at one
# thread inside rnnkit's steps, where its own threads cost more than they give.

import numpy as np  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class CharacterTable:
    """One-hot encoding of a fixed set of characters, and decoding back to a string."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.char_indices = {c: i for i, c in enumerate(self.chars)}
        self.indices_char = dict(enumerate(self.chars))

    def encode(self, text, num_rows):
        """``text`` as a (num_rows, len(chars)) one-hot array (rows past the text stay zero)."""
        x = np.zeros((num_rows, len(self.chars)), dtype="float32")
        for i, c in enumerate(text):
            x[i, self.char_indices[c]] = 1.0
        return x

    def decode(self, x, calc_argmax=True):
        """A string from one-hot rows or probabilities (argmax), or from ids (calc_argmax=False)."""
        if calc_argmax:
            x = x.argmax(axis=-1)
        return "".join(self.indices_char[int(i)] for i in x)


def make_questions(n, digits, reverse, rng):
    """``n`` distinct questions "a+b" (a+b and b+a count once) padded with spaces, and answers.

    As in the Keras example each number has 1 to ``digits`` digits (length drawn uniformly),
    the question is padded to ``2 * digits + 1`` characters and the answer to ``digits + 1``;
    with ``reverse`` the question is read backwards ("12+345 " -> " 543+21").
    """
    maxlen = digits + 1 + digits
    limit = (10 ** digits) * (10 ** digits + 1) // 2      # unordered pairs that exist
    if n > limit:
        raise ValueError(f"--size {n}: only {limit} distinct questions with {digits} digits")

    def number():
        length = int(rng.integers(1, digits + 1))
        return int("".join(rng.choice(list("0123456789"), size=length)))

    questions, expected, seen = [], [], set()
    while len(questions) < n:
        a, b = number(), number()
        key = tuple(sorted((a, b)))          # skip a question seen already, or its mirror b+a
        if key in seen:
            continue
        seen.add(key)
        query = f"{a}+{b}".ljust(maxlen)
        answer = str(a + b).ljust(digits + 1)
        questions.append(query[::-1] if reverse else query)
        expected.append(answer)
    return questions, expected


class ExactMatch(rnnkit.callbacks.Callback):
    """After each epoch: exact-match accuracy of whole answers on the validation set."""

    def __init__(self, x_val, y_val):
        super().__init__()
        self.x_val, self.y_val = x_val, y_val
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        self.history.append(exact_match(self.model, self.x_val, self.y_val))
        if logs is not None:
            logs["val_exact_match"] = self.history[-1]   # shown on the progress bar


def exact_match(model, x, y, batch_size=1024):
    """Fraction of samples whose every output character (argmax) equals the target's."""
    pred = model.predict(x, batch_size=batch_size, verbose=0).argmax(axis=-1)   # (N, DIGITS+1)
    return float(np.mean(np.all(pred == y.argmax(axis=-1), axis=1)))


def plot(history, exact, path):
    """Validation accuracy (per character, as Keras reports it) and exact match per epoch."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return
    epochs = np.arange(1, len(exact) + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, history["val_accuracy"], label="per character")
    ax.plot(epochs, exact, label="exact match (whole answer)")
    ax.axhline(0.99, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1.01),
           title="addition: held-out accuracy per epoch")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def parse_args(argv):
    p = argparse.ArgumentParser(description="Keras's addition_rnn example on rnnkit: an "
                                "encoder-decoder LSTM that learns to add numbers given as text.")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default 40; 3 with --quick)")
    p.add_argument("--batch-size", type=int, default=32, help="default: %(default)s (as Keras)")
    p.add_argument("--size", type=int, default=None,
                   help="number of questions, 10%% held out (default 50000; 2000 with --quick)")
    p.add_argument("--digits", type=int, default=3, help="at most this many digits per number "
                   "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    p.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "addition",
                   help="where to write model.rnnkit and val_accuracy.png (default: %(default)s)")
    args = p.parse_args(argv)
    args.epochs = args.epochs if args.epochs is not None else (3 if args.quick else 40)
    args.size = args.size if args.size is not None else (2000 if args.quick else 50000)
    for name in ("epochs", "batch_size", "size", "digits"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    rnnkit.random.set_random_seed(args.seed)              # weight initialisation
    DIGITS, REVERSE = args.digits, True
    MAXLEN = DIGITS + 1 + DIGITS                          # "345+678"

    # 1. the data: distinct questions, one-hot, 10% set apart and never trained on
    chars = "0123456789+ "                                # digits, plus sign, padding space
    ctable = CharacterTable(chars)
    print("Generating data...")
    questions, expected = make_questions(args.size, DIGITS, REVERSE, rng)
    print("Total questions:", len(questions))
    x = np.stack([ctable.encode(q, MAXLEN) for q in questions])        # (N, MAXLEN, 12)
    y = np.stack([ctable.encode(a, DIGITS + 1) for a in expected])     # (N, DIGITS + 1, 12)
    indices = rng.permutation(len(y))                     # later questions are the larger ones
    x, y = x[indices], y[indices]
    split_at = len(x) - len(x) // 10
    (x_train, x_val), (y_train, y_val) = (x[:split_at], x[split_at:]), (y[:split_at], y[split_at:])
    print("Training data:", x_train.shape, y_train.shape)
    print("Validation data:", x_val.shape, y_val.shape)

    # 2. the model, as in Keras
    model = rnnkit.Sequential()
    model.add(layers.Input((MAXLEN, len(chars))))
    model.add(layers.LSTM(128))                           # encoder: the question -> (128,)
    model.add(layers.RepeatVector(DIGITS + 1))            # one copy per answer character
    model.add(layers.LSTM(128, return_sequences=True))    # decoder
    model.add(layers.TimeDistributed(layers.Dense(len(chars), activation="softmax")))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.summary()

    # 3. train; exact match on the held-out questions after every epoch
    exact = ExactMatch(x_val, y_val)
    decay_from = args.epochs // 2                         # Adam's 1e-3, then -15 % per epoch
    schedule = rnnkit.callbacks.LearningRateScheduler(
        lambda epoch: 1e-3 * 0.85 ** max(0, epoch - decay_from))
    t0, cpu0 = time.perf_counter(), time.process_time()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_val, y_val), callbacks=[schedule, exact],
                        verbose=2 if args.quick else 1, seed=args.seed)
    train_time, train_cpu = time.perf_counter() - t0, time.process_time() - cpu0

    # 4. a few answers from the held-out set, then the scores
    for ind in rng.choice(len(x_val), size=8, replace=False):
        rowx, rowy = x_val[ind:ind + 1], y_val[ind:ind + 1]
        guess = ctable.decode(model.predict(rowx, verbose=0)[0])
        q, correct = ctable.decode(rowx[0]), ctable.decode(rowy[0])
        print("Q", q[::-1] if REVERSE else q, "T", correct,
              ("☑ " if guess == correct else "☒ ") + guess)
    n_val = len(x_val)
    em = exact.history[-1]
    print(f"held-out per-character accuracy: {history.history['val_accuracy'][-1]:.2%}")
    print(f"held-out exact match: {em:.2%} ({round(em * n_val)}/{n_val})")
    print(f"training time: {train_time:.1f} s wall, {train_cpu:.1f} s CPU ({args.epochs} "
          f"epochs, {len(x_train)} questions, batch {args.batch_size})")

    # 5. the model and the plot
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "model.rnnkit")
    print(f"wrote {args.out / 'model.rnnkit'}")
    plot(history.history, exact.history, args.out / "val_accuracy.png")
    metrics = dict(example="addition", exact_match=float(em), n_correct=round(em * n_val),
                   n_val=n_val, val_accuracy=float(history.history["val_accuracy"][-1]),
                   epochs=args.epochs, n_train=len(x_train), train_seconds=round(train_time, 1),
                   train_cpu_seconds=round(train_cpu, 1), argv=sys.argv[1:] if argv is None
                   else list(argv))
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n",
                                           encoding="utf-8")   # what the README gallery reads
    print(f"wrote {args.out / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
