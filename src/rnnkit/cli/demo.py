"""``rnnkit demo``: a character-level LSTM that learns to write Python, in about two minutes.

What it does, top to bottom:

    1. print the summary of the Keras guide's model (64000 / 98816 / 1290 params, 164,106);
    2. read the first 2 MB of the Python standard library's own source (no download), keep the
       last 10 % (other files) for validation, build a character vocabulary and next-character
       windows;
    3. train Embedding -> LSTM -> Dense with a progress bar and a validation loss per epoch, as
       many epochs as fit into the time budget (measured on two batches before training);
    4. generate text from a prime at two temperatures, streamed as it is sampled;
    5. save the model, the vocabulary, a plot of the loss curves and the run's log (``log.jsonl``,
       for ``rnnkit view runs/demo``) into ``runs/demo/``, reload
       the model and check it predicts the same numbers;
    6. report the validation loss in nats and bits per character, and the time taken.
"""

import dataclasses
import math
import os
import sys
import time

import numpy as np

from .. import losses, optimizers, random
from ..data import CharVocab, lm_windows, stdlib_corpus
from ..generation import stream_text
from ..io.saving import load_model
from ..layers import LSTM, Dense, Embedding, clear_session
from ..models import Sequential
from ..training.callbacks import Callback, History, RunLog


@dataclasses.dataclass
class DemoConfig:
    corpus_bytes: int = 2_000_000   # first bytes of stdlib_corpus(): 1.8 MB train, 200 kB val
    val_fraction: float = 0.1       # the END of the slice (other files) is held out
    max_tokens: int = 100           # vocabulary size with padding and OOV: rare chars -> OOV
    seq_len: int = 100              # T: characters per training window (BPTT length)
    batch_size: int = 64            # B: windows per step
    embed_dim: int = 32             # D: size of each character's embedding
    units: int = 128                # H: LSTM state size (in 2 minutes 128 beat 192 and 256)
    learning_rate: float = 1e-2     # Adam; a high rate suits a short run (1e-2 beat 3e-3, 6e-3)
    clipnorm: float = 1.0           # per-weight gradient norm clipping (exploding gradients)
    minutes: float = 2.0            # training budget; epochs are planned to fit in it
    max_epochs: int = 30            # upper bound on the planned epochs
    prime: str = "def "             # where generated text starts
    gen_length: int = 300           # characters generated per temperature
    temperatures: tuple = (0.5, 1.0)

    @classmethod
    def quick(cls):
        """A few seconds end to end: a tiny slice, a small model, one epoch."""
        return cls(corpus_bytes=24_000, seq_len=40, batch_size=32, embed_dim=16, units=64,
                   minutes=0.0, max_epochs=1, gen_length=60)


class _TimeBudget(Callback):
    """Fit the training into ``seconds`` on a machine whose speed changes (shared machines).

    ``planned`` starts from a timing probe. After each epoch the mean epoch time so far says
    how many epochs fit into 1.1x the budget; when that is more than planned, training stops
    so that the caller can resume ``fit`` with the new count (``finished`` stays False).
    Training finishes when the next epoch would end past 1.1x the budget, or in the middle of
    an epoch at 1.5x (fit still validates). Also records every batch's own loss (Keras 3 batch
    logs hold the epoch's running mean) and the number of samples trained on.
    """

    def __init__(self, seconds, planned, max_epochs, n_samples, batch_size):
        super().__init__()
        self.seconds, self.planned, self.max_epochs = seconds, planned, max_epochs
        self.n, self.batch_size = n_samples, batch_size
        self.batch_losses, self.samples_seen = [], 0
        self.t0, self.finished = None, False

    def on_train_begin(self, logs=None):
        if self.t0 is None:                                      # the first of several fits
            self.t0 = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.t_epoch = time.perf_counter()
        self._prev_mean, self._prev_seen = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        seen = min((batch + 1) * self.batch_size, self.n)
        mean = float(logs["loss"])                              # running mean of the epoch
        self.batch_losses.append((mean * seen - self._prev_mean * self._prev_seen) /
                                 (seen - self._prev_seen))
        self.samples_seen += seen - self._prev_seen
        self._prev_mean, self._prev_seen = mean, seen
        if time.perf_counter() - self.t0 > 1.5 * self.seconds:
            self.model.stop_training = self.finished = True

    def on_epoch_end(self, epoch, logs=None):
        if math.isinf(self.seconds):                             # no budget: as planned
            return
        elapsed = time.perf_counter() - self.t0
        t_epoch = max(elapsed / (epoch + 1), 1e-6)               # mean so far, validation included
        fits = min(int(1.1 * self.seconds // t_epoch), self.max_epochs)
        if self.finished or elapsed + t_epoch > 1.1 * self.seconds or epoch + 1 >= self.max_epochs:
            self.model.stop_training = self.finished = True
        elif fits > self.planned:                                # faster than the probe said
            self.planned = fits
            self.model.stop_training = True


def _print_guide_summary():
    model = Sequential([Embedding(input_dim=1000, output_dim=64), LSTM(128), Dense(10)])
    model.summary()
    clear_session()                         # the demo's own layers start at "embedding" again


def _data(cfg):
    text = stdlib_corpus(max_bytes=cfg.corpus_bytes)
    cut = int(len(text) * (1.0 - cfg.val_fraction))
    train_text, val_text = text[:cut], text[cut:]
    vocab = CharVocab.from_text(train_text, max_tokens=cfg.max_tokens)
    x, y = lm_windows(vocab.encode(train_text), cfg.seq_len)
    vx, vy = lm_windows(vocab.encode(val_text), cfg.seq_len)
    return text, vocab, (x, y), (vx, vy)


def _build_model(cfg, vocab_size):
    model = Sequential([
        Embedding(vocab_size, cfg.embed_dim),
        LSTM(cfg.units, return_sequences=True),
        Dense(vocab_size),                  # logits for the next character
    ], name="char_lstm")
    model.compile(optimizer=optimizers.Adam(cfg.learning_rate, clipnorm=cfg.clipnorm),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _seconds_per_batch(model, x, y, batch_size):
    """Time forward + backward on real batches without updating anything."""
    loss = model.compiled_loss[0]
    times = []
    for k in range(3):                       # the first is a warm-up
        bx, by = x[k * batch_size:(k + 1) * batch_size], y[k * batch_size:(k + 1) * batch_size]
        t = time.perf_counter()
        model.zero_grad()
        _, dy = loss.value_and_grad(by, model.forward(bx, training=True))
        model.backward(dy)
        times.append(time.perf_counter() - t)
    model.zero_grad()
    return min(times[1:])


def _plan_epochs(cfg, model, train, val):
    """Epochs that fit into ``cfg.minutes`` from a timing probe, and (seconds/batch, /epoch)."""
    if cfg.minutes <= 0:
        return cfg.max_epochs, None
    t_batch = _seconds_per_batch(model, *train, cfg.batch_size)
    steps = math.ceil(len(train[0]) / cfg.batch_size)
    val_steps = math.ceil(len(val[0]) / cfg.batch_size)
    t_epoch = t_batch * (steps * 1.05 + val_steps / 3)   # optimizer ~5 %, validation ~1/3 step
    epochs = int(np.clip(cfg.minutes * 60 / t_epoch, 1, cfg.max_epochs))
    return epochs, (t_batch, t_epoch)


def _plot(history, batch_losses, steps, path):
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: skipping the loss plot (pip install 'rnnkit[demo]')")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(np.arange(1, len(batch_losses) + 1) / steps, batch_losses, color="tab:blue",
            alpha=0.25, lw=0.8, label="train (per batch)")
    ax.plot(epochs, history["loss"], "o-", color="tab:blue", label="train (epoch mean)")
    ax.plot(epochs, history["val_loss"], "s-", color="tab:orange", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title("rnnkit demo: character-level LSTM on the Python stdlib")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def run_demo(out="runs/demo", quick=False, minutes=None, seed=0):
    """Run the demo (see the module docstring); returns a dict of its results."""
    cfg = DemoConfig.quick() if quick else DemoConfig()
    if minutes is not None:
        if not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
            raise ValueError(f"--minutes must be a positive number, got {minutes!r}")
        cfg = dataclasses.replace(cfg, minutes=float(minutes))
    os.makedirs(out, exist_ok=True)
    random.set_random_seed(seed)
    clear_session()
    t_start = time.perf_counter()

    print("== 1. The Keras guide's model: Embedding(1000, 64) -> LSTM(128) -> Dense(10)")
    _print_guide_summary()

    print("\n== 2. Data: the Python standard library's own source code")
    text, vocab, train, val = _data(cfg)
    print(f"corpus: first {len(text.encode()):,} bytes of the stdlib sources (sorted paths), "
          f"{len(text):,} characters")
    print(f"train {len(train[0]):,} windows x {cfg.seq_len} chars, validation {len(val[0]):,} "
          f"windows (the last {cfg.val_fraction:.0%}); vocabulary {len(vocab)} tokens "
          f"(padding, OOV and {len(vocab) - 2} characters)")

    print("\n== 3. Training a character-level LSTM")
    model = _build_model(cfg, len(vocab))
    model.summary()
    epochs, probe = _plan_epochs(cfg, model, train, val)
    steps = math.ceil(len(train[0]) / cfg.batch_size)
    if probe:
        print(f"measured {probe[0] * 1000:.0f} ms per batch of {cfg.batch_size}x{cfg.seq_len}: "
              f"{epochs} epoch(s) of {steps} batches (~{probe[1]:.0f} s each) fit into "
              f"{cfg.minutes:g} min")
    budget = _TimeBudget(cfg.minutes * 60 if probe else float("inf"), epochs, cfg.max_epochs,
                         len(train[0]), cfg.batch_size)
    recorder = History()
    runlog = RunLog(os.path.join(out, "log.jsonl"), fresh=True)     # for `rnnkit view DIR`
    t0 = time.perf_counter()
    done = 0
    while True:          # one fit, or a few when the re-estimate after an epoch raises the count
        model.fit(*train, batch_size=cfg.batch_size, epochs=budget.planned, initial_epoch=done,
                  validation_data=val, callbacks=[budget, recorder, runlog], shuffle=True,
                  seed=seed + done, verbose=1)
        done = len(recorder.history["loss"])
        if budget.finished or done >= budget.planned:
            break
        print(f"(epochs take {(time.perf_counter() - t0) / done:.1f} s: "
              f"{budget.planned} epochs fit into {cfg.minutes:g} min)")
    if probe and done < budget.planned:
        print(f"(stopped after {done} epoch(s): the {cfg.minutes:g} min budget is spent)")
    history = recorder.history
    train_seconds = time.perf_counter() - t0
    sys.stdout.flush()

    print("\n== 4. Generated text (prime {!r}, {} characters each)".format(cfg.prime,
                                                                          cfg.gen_length))
    samples = {}
    for temperature in cfg.temperatures:
        print(f"--- temperature {temperature}:")
        sys.stdout.write(cfg.prime)
        chars = []
        for ch in stream_text(model, vocab, cfg.prime, cfg.gen_length, temperature=temperature,
                              seed=seed):
            chars.append(ch)
            sys.stdout.write(ch)
            sys.stdout.flush()
        samples[temperature] = "".join(chars)
        runlog.record("sample", epoch=done, prime=cfg.prime, text=samples[temperature],
                      temperature=temperature)
        print()

    print(f"\n== 5. Files in {out}/")
    model_path = os.path.join(out, "model.rnnkit")
    vocab_path = os.path.join(out, "vocab.json")
    model.save(model_path)
    vocab.save(vocab_path)
    with open(os.path.join(out, "heldout.txt"), "w", encoding="utf-8") as f:
        f.write(text[int(len(text) * (1.0 - cfg.val_fraction)):][:2000])   # for rnnkit view
    plot_path = _plot(history, budget.batch_losses, steps, os.path.join(out, "loss.png"))
    reloaded = load_model(model_path)
    probe_x = val[0][:4]
    same = np.array_equal(reloaded.predict(probe_x, verbose=0), model.predict(probe_x, verbose=0))
    for path, what in ((model_path, "model (architecture, weights, optimizer state)"),
                       (vocab_path, "vocabulary (JSON)"), (plot_path, "loss curves"),
                       (runlog.path, "training log (JSON lines; rnnkit view " + out + ")")):
        if path:
            print(f"{path:<28} {os.path.getsize(path):>10,} bytes  {what}")
    print(f"reloaded with rnnkit.load_model: predictions {'identical' if same else 'DIFFERENT'}")

    val_loss = history["val_loss"][-1]
    chars_seen = budget.samples_seen * cfg.seq_len
    print("\n== 6. Results")
    print(f"trained {budget.samples_seen / len(train[0]):.2f} epochs in {train_seconds:.1f} s: "
          f"{chars_seen:,} characters, {chars_seen / train_seconds:,.0f} characters/s")
    print(f"validation loss {val_loss:.3f} nats/char = {val_loss / math.log(2):.3f} bits/char "
          f"(uniform guess: {math.log(len(vocab)):.3f} nats = {math.log2(len(vocab)):.3f} bits)")
    print("per epoch (nats/char): train " + " ".join(f"{v:.3f}" for v in history["loss"]) +
          " | val " + " ".join(f"{v:.3f}" for v in history["val_loss"]))
    print(f"total demo time {time.perf_counter() - t_start:.1f} s")
    if not same:
        raise RuntimeError("the reloaded model predicts different numbers")
    return {"history": history, "train_seconds": train_seconds, "val_loss": val_loss,
            "batch_losses": budget.batch_losses,
            "samples": samples, "model_path": model_path, "vocab_path": vocab_path,
            "plot_path": plot_path}
