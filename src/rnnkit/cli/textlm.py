"""Character-level language models over one long text, trained with truncated BPTT.

What ``rnnkit train-text`` runs. The text becomes character ids; the stream is cut into
``batch_size`` parallel streams and windows of ``seq_len`` characters
(:func:`rnnkit.training.tbptt.stream_windows`); a model with ``stateful=True`` recurrent layers
carries each stream's state from one window to the next, so the model sees context far beyond
one window while the gradient stops at the window edge.

Two models share one set of weights: the stateful *training* model (fixed batch size) and a
plain *inference* model (any batch, any length) that samples text after each epoch and is what
``model.rnnkit`` holds for ``rnnkit generate``. A run directory holds::

    model.rnnkit     the best model so far (lowest validation loss), inference form
    vocab.json       the character vocabulary
    last.rnnkit      the checkpoint --resume continues from: a BackupAndRestore checkpoint
                     (rnnkit.training.callbacks.backup) of the training model after the last epoch, with
                     its optimizer, random generators, History and the run's settings; written
                     atomically, and a complete model file for rnnkit.load_model
    state.json       a readable copy of the settings, the epoch reached, the best validation
                     loss and the history (written after each checkpoint; --resume reads only
                     last.rnnkit)
    heldout.txt      the first 2,000 characters of the validation text
    log.jsonl        per-batch loss, learning rate and gradient norms before/after clipping,
                     per-epoch losses and the samples, as JSON lines
                     (rnnkit.training.callbacks.RunLog; what ``rnnkit view DIR`` draws)

A run killed at any moment and continued with ``--resume`` ends with exactly the weights of a
run never interrupted (tests/test_cli_text_resume.py kills one with SIGKILL).

The validation loss is in nats per character; divided by ln 2 it is bits per character.
"""

import dataclasses
import hashlib
import json
import math
import numbers
import os
import time

from .. import distributed, layers
from ..data import CharVocab
from ..generation import generate_text
from ..errors import FileFormatError
from ..files import open_regular
from ..models import Sequential
from ..random import set_random_seed
from ..training import losses, optimizers
from ..training.callbacks.backup import BackupAndRestore, read_checkpoint_state
from ..training.callbacks.runlog import RunLog
from ..training.tbptt import ResetStatesOnEpochBegin, stream_windows

CELLS = {"lstm": layers.LSTM, "gru": layers.GRU, "rnn": layers.SimpleRNN,
         "mingru": layers.MinGRU, "minlstm": layers.MinLSTM, "lnlstm": layers.LayerNormLSTM}
BLOCKS = ("plain", "residual")
CHECKPOINT = "last.rnnkit"
RUN_FILES = ("model.rnnkit", "vocab.json", CHECKPOINT, "state.json")   # what a run directory holds
# Sane bounds on every setting, from the command line or read back from a checkpoint:
# (lowest, highest); a float lower bound marks a float setting.
LIMITS = {"units": (1, 16384), "layers": (1, 64), "embedding": (1, 16384),
          "seq_len": (1, 100_000), "batch_size": (1, 100_000), "epochs": (1, 1_000_000),
          "sample_length": (0, 100_000), "seed": (0, 2**63 - 1), "dropout": (0.0, 1.0),
          "clipnorm": (0.0, 1e30), "learning_rate": (0.0, 1e6), "val_fraction": (0.0, 0.5),
          "temperature": (0.0, 1e6)}
MAX_VOCAB = 1_114_112              # every Unicode code point
MAX_PARAMETERS = 1_000_000_000     # 4 GB of float32 weights, and as much again for Adam
MAX_TEXT_BYTES = 1 << 30           # a text file larger than 1 GiB is refused


@dataclasses.dataclass
class TextLMConfig:
    cell: str = "lstm"            # lstm | gru | rnn | mingru | minlstm | lnlstm
    units: int = 256              # hidden units per recurrent layer
    layers: int = 1               # stacked recurrent layers
    embedding: int = 32           # size of the character embedding
    seq_len: int = 100            # window length: where BPTT is truncated
    batch_size: int = 32          # parallel streams (the stateful batch size)
    epochs: int = 20
    dropout: float = 0.0          # between layers and on the inputs of each recurrent layer
    clipnorm: float = 5.0         # per-weight gradient clipping
    learning_rate: float = 0.002  # Adam
    val_fraction: float = 0.05    # the tail of the text kept for validation
    sample_length: int = 200      # characters printed after each epoch
    temperature: float = 0.8      # for those samples
    seed: int = 0
    block: str = "plain"          # plain: cells stacked | residual: LN->cell->add, LN->MLP->add

    def check(self):
        """Every setting of the right type and within :data:`LIMITS` (a checkpoint's settings
        pass here too, so a file cannot ask for unbounded work or memory)."""
        if not isinstance(self.cell, str) or self.cell not in CELLS:
            raise ValueError(f"--cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        for name, (lo, hi) in LIMITS.items():
            v = getattr(self, name)
            flag = f"--{name.replace('_', '-')}"
            if isinstance(v, bool) or not isinstance(v, (numbers.Real if isinstance(lo, float)
                                                         else numbers.Integral)):
                raise ValueError(f"{flag} must be a number, got {v!r}")
            if lo == 1 and v < 1:
                raise ValueError(f"{flag} must be positive, got {v!r}")
            if not (lo <= v <= hi) or (isinstance(v, float) and not math.isfinite(v)):
                raise ValueError(f"{flag} must be in [{lo}, {hi}], got {v!r}")
        if self.block not in BLOCKS:
            raise ValueError(f"--block must be one of {list(BLOCKS)}, got {self.block!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")
        if self.learning_rate <= 0 or self.clipnorm <= 0:
            raise ValueError(f"--learning-rate and --clipnorm must be positive, got "
                             f"{self.learning_rate} and {self.clipnorm}")
        n = self.parameter_count(MAX_VOCAB)
        if n > MAX_PARAMETERS:
            raise ValueError(f"--units {self.units} --layers {self.layers} --embedding "
                             f"{self.embedding} make a model of up to {n:,} parameters, more "
                             f"than the {MAX_PARAMETERS:,} train-text allows")

    def parameter_count(self, vocab_size):
        """An upper bound of the weights of :func:`build_model` for a vocabulary of
        ``vocab_size`` (exact for the plain LSTM/GRU/SimpleRNN stacks; the min cells, which have
        no recurrent kernel, and the LayerNorm and residual extras are counted generously)."""
        gates = {"lstm": 4, "gru": 3, "rnn": 1, "mingru": 2, "minlstm": 3, "lnlstm": 4}
        G = gates[self.cell] * self.units
        E = self.units if self.block == "residual" else self.embedding
        first = G * (E + self.units + 2)                         # kernel, recurrent, 2 biases
        rest = (self.layers - 1) * G * (2 * self.units + 2)
        extra = 0
        if self.cell == "lnlstm":
            extra += self.layers * 4 * (G + self.units)          # the norms' gains and biases
        if self.block == "residual":                             # MLP(2 units) and 2 norms
            extra += self.layers * (4 * self.units * self.units + 7 * self.units)
        return (vocab_size * E + first + rest + extra + (self.units + 1) * vocab_size)


def build_model(cfg, vocab_size, batch_size=None, stateful=False):
    """Input -> Embedding -> [cell(units, return_sequences) (+ Dropout)] x layers -> Dense(V)."""
    cell = CELLS[cfg.cell]
    if cfg.block == "residual":
        return _residual_model(cfg, cell, vocab_size, batch_size, stateful)
    stack = [layers.Input((None,), batch_size=batch_size, dtype="int32"),
             layers.Embedding(vocab_size, cfg.embedding)]
    for k in range(cfg.layers):
        stack.append(cell(cfg.units, return_sequences=True, stateful=stateful,
                          dropout=cfg.dropout, seed=cfg.seed + k))
    if cfg.dropout:
        stack.append(layers.Dropout(cfg.dropout, seed=cfg.seed))
    stack.append(layers.Dense(vocab_size))
    return Sequential(stack, name="char_lm")


def _residual_model(cfg, cell, vocab_size, batch_size, stateful):
    """Input -> Embedding(V, units) -> [LN -> cell -> add, LN -> MLP(2 units, gelu) -> add]
    x layers -> Dense(V): the pre-norm residual stack of the minGRU/minLSTM paper's LMs."""
    D = cfg.units
    stack = [layers.Input((None,), batch_size=batch_size, dtype="int32"),
             layers.Embedding(vocab_size, D)]
    for k in range(cfg.layers):
        stack.append(layers.ResidualBlock([cell(D, return_sequences=True, stateful=stateful,
                                                dropout=cfg.dropout, seed=cfg.seed + k)]))
        stack.append(layers.ResidualBlock([layers.Dense(2 * D, activation="gelu"),
                                           layers.Dense(D)]))
    stack.append(layers.Dense(vocab_size))
    return Sequential(stack, name="char_lm")


def _compile(model, cfg):
    model.compile(optimizer=optimizers.Adam(cfg.learning_rate, clipnorm=cfg.clipnorm),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True))


class _TextRun(BackupAndRestore):
    """After each epoch: the best model, the checkpoint, state.json, bits per char and a sample.

    The checkpoint is BackupAndRestore's (weights, optimizer, every random generator, History),
    written to ``last.rnnkit`` and kept at the end so that ``--resume --epochs N`` can go on;
    the run's settings, best loss and history ride in it as extra state, so that nothing
    ``--resume`` reads can disagree with the weights after a kill. The epoch line is printed
    only once its checkpoint is on disk. The sample draws from its own generator (seed = the
    epoch), never from training's.
    """

    def __init__(self, run, print_fn):
        super().__init__(run.out, delete_checkpoint=False)
        self.run, self.print = run, print_fn

    @property
    def checkpoint_path(self):
        return os.path.join(self.backup_dir, CHECKPOINT)

    def get_extra_state(self):
        state = dict(self.run.state)
        if math.isinf(state["best_val_loss"]):
            state["best_val_loss"] = None                 # JSON has no infinity
        return state

    def set_extra_state(self, extra):
        self.run.state = _check_state(self.checkpoint_path, extra)

    def on_epoch_end(self, epoch, logs=None):
        run = self.run
        val = float(logs["val_loss"])
        run.infer.set_weights(self.model.get_weights())
        improved = val < run.state["best_val_loss"]
        if improved:
            run.state["best_val_loss"] = val
            if run.main:                                  # data parallel: rank 0 writes
                run.infer.save(os.path.join(run.out, "model.rnnkit"))
        run.state["epoch"] = epoch + 1
        run.state["history"].append({"epoch": epoch + 1, "loss": float(logs["loss"]),
                                     "val_loss": val, "seconds": time.perf_counter() - run.t0})
        super().on_epoch_end(epoch, logs)                 # the checkpoint, atomically
        if not run.main:
            return
        _write_json(os.path.join(run.out, "state.json"), run.state)
        self.print(f"epoch {epoch + 1}: val_loss {val:.4f} nats/char = {val / math.log(2):.3f} "
                   f"bits/char{' (best, saved)' if improved else ''}")
        sample = generate_text(run.infer, run.vocab, run.prime, run.cfg.sample_length,
                               temperature=run.cfg.temperature, seed=epoch)
        self.print("  sample: " + (run.prime + sample).replace("\n", "\n          "))
        run.log.record("sample", epoch=epoch + 1, prime=run.prime, text=sample,
                       temperature=run.cfg.temperature)


def _check_state(path, state):
    """The run state kept in a checkpoint, validated (FileFormatError if it is not one)."""
    try:
        state = dict(state)
        cfg = TextLMConfig(**state["config"])
        cfg.check()
        epoch, history = state["epoch"], state["history"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= cfg.epochs:
            raise ValueError(f"bad epoch {epoch!r}")
        if not isinstance(history, list) or len(history) > epoch or not all(
                isinstance(h, dict) and all(isinstance(v, (int, float)) and
                                            not isinstance(v, bool) for v in h.values())
                for h in history):
            raise ValueError("bad history")
        best = state["best_val_loss"]
        if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float))
                                 or not math.isfinite(best)):
            raise ValueError(f"bad best_val_loss {best!r}")
        state["best_val_loss"] = float("inf") if best is None else float(best)
        text = state.get("text")
        if text is not None and not (isinstance(text, dict) and set(text) == {"chars", "sha256"}
                                     and isinstance(text["chars"], int)
                                     and isinstance(text["sha256"], str)):
            raise ValueError("bad text fingerprint")
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        raise FileFormatError(f"{path}: not a train-text checkpoint ({e})") from None
    return state


def _write_json(path, obj):
    from ..io.safetensors_format import atomic_write
    atomic_write(path, [json.dumps(obj, indent=1).encode("utf-8")])


class _Run:
    pass


def read_texts(paths):
    """The concatenated contents of text files, with one-line errors for what cannot be read."""
    parts = []
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file")
        if os.path.isdir(path):
            raise ValueError(f"{path}: is a directory, expected a text file")
        with open_regular(path, "text file", max_bytes=MAX_TEXT_BYTES) as f:   # not /dev/zero
            raw = f.read(MAX_TEXT_BYTES + 1)
        if b"\x00" in raw[:65536]:
            raise ValueError(f"{path}: not a text file (it contains NUL bytes)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        if not text.strip():
            raise ValueError(f"{path}: the file is empty")
        parts.append(text)
    return "\n".join(parts)


def checkpoint_path(out):
    """Where train-text keeps the checkpoint that ``--resume`` continues from."""
    return os.path.join(out, CHECKPOINT)


def text_fingerprint(text):
    """``{"chars", "sha256"}`` of the training text: ``--resume`` checks it is the same text."""
    return {"chars": len(text), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def _other_run(out):
    """The files of a run already in ``out`` (empty when there is none)."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise NotADirectoryError(f"{out}: exists and is not a directory")
    return [name for name in RUN_FILES if os.path.lexists(os.path.join(out, name))]


def train_text(text, out, cfg=None, resume=False, verbose=1, print_fn=print, overwrite=False):
    """Train (or with ``resume`` continue) a character LM on ``text``; returns the state dict.

    With ``resume``, the settings come from the checkpoint (only ``cfg.epochs`` is taken from
    ``cfg``) and the run continues after its last completed epoch; the result equals that of a
    run never interrupted; the text must be the one the run was trained on. Without it, a
    directory that holds another run is refused unless ``overwrite``; everything (settings,
    text, model size) is checked before any file of ``out`` is touched, and the old run's files
    are removed only then.
    """
    run = _Run()
    run.out, run.t0 = out, time.perf_counter()
    run.main = distributed.is_main()              # under mpiexec: only rank 0 prints, writes
    if not run.main:
        print_fn, verbose = (lambda *a, **k: None), 0
    ckpt = checkpoint_path(out)
    if resume:
        if not os.path.exists(ckpt):
            raise FileNotFoundError(f"{out}: nothing to resume (no {CHECKPOINT}); train without "
                                    "--resume first")
        saved = read_checkpoint_state(ckpt)
        state = _check_state(ckpt, saved.get("extra"))
        if state["epoch"] != saved["epoch"] + 1:
            raise FileFormatError(f"{ckpt}: not a train-text checkpoint (epoch {state['epoch']} "
                                  f"does not match the checkpoint's {saved['epoch'] + 1})")
        cfg = TextLMConfig(**{**state["config"], **({"epochs": cfg.epochs} if cfg else {})})
        run.vocab = CharVocab.load(os.path.join(out, "vocab.json"))
        if not isinstance(run.vocab, CharVocab):
            raise FileFormatError(f"{out}: vocab.json is not a character vocabulary")
        fp = text_fingerprint(text)
        if state.get("text") not in (None, fp):
            raise ValueError(f"--resume: this is not the text the run in {out} was trained on "
                             f"({fp['chars']:,} characters, sha256 {fp['sha256'][:12]}..., "
                             f"the run's: {state['text']['chars']:,}, "
                             f"{state['text']['sha256'][:12]}...); give the same files, or "
                             f"train a new run without --resume")
    else:
        cfg = cfg or TextLMConfig()
        cfg.check()
        present = _other_run(out)
        if present and not overwrite:
            raise FileExistsError(f"{out}: holds another run ({', '.join(present)}); continue "
                                  f"it with --resume, or replace it with --overwrite")
        state = {"config": dataclasses.asdict(cfg), "epoch": 0, "best_val_loss": float("inf"),
                 "history": [], "text": text_fingerprint(text)}
        run.vocab = CharVocab.from_text(text)
    cfg.check()
    run.cfg, run.state = cfg, state
    set_random_seed(cfg.seed)                  # on resume every generator is then restored

    ids = run.vocab.encode(text)
    cut = int(len(ids) * (1.0 - cfg.val_fraction))
    x, y = stream_windows(ids[:cut], cfg.batch_size, cfg.seq_len)
    vx, vy = stream_windows(ids[cut:], cfg.batch_size, min(cfg.seq_len, (len(ids) - cut) //
                                                            (cfg.batch_size + 1) or 1))
    run.prime = text[cut:cut + 40].split("\n")[0][:40] or text[:1]

    # data parallel: each rank runs its own streams r, r + N, ... (the batch size is not fixed)
    model = build_model(cfg, len(run.vocab), stateful=True,
                        batch_size=cfg.batch_size if distributed.size() == 1 else None)
    _compile(model, cfg)
    run.infer = build_model(cfg, len(run.vocab))
    run.infer.set_weights(model.get_weights())
    distributed.barrier()                      # every rank has checked DIR before it changes
    if not resume and run.main:                # all checked: now the directory changes
        os.makedirs(out, exist_ok=True)
        for name in _other_run(out):           # only with overwrite: BackupAndRestore must not
            os.remove(os.path.join(out, name))  # restore the old checkpoint
        run.vocab.save(os.path.join(out, "vocab.json"))
    if text and run.main:                      # the page's default text (rnnkit view)
        with open(os.path.join(out, "heldout.txt"), "w", encoding="utf-8") as f:
            f.write(text[cut:cut + 2000])      # held out: one char per id
    distributed.barrier()                      # no rank reads DIR before rank 0 has set it up
    print_fn(f"{len(text):,} characters, vocabulary of {len(run.vocab)}, "
             f"{len(x) // cfg.batch_size} windows of {cfg.seq_len} x {cfg.batch_size} streams "
             f"per epoch, {model.count_params():,} parameters")
    if state["epoch"] >= cfg.epochs:
        print_fn(f"already trained for {state['epoch']} epochs (--epochs {cfg.epochs})")
        return state
    # the checkpoint (if any) is restored by _TextRun at on_train_begin; fit then starts after
    # its epoch. Stateful layers start every epoch from zeros, so epoch checkpoints suffice.
    report = _TextRun(run, print_fn)
    # after the checkpoint: an epoch line is in log.jsonl only once its epoch is safe on disk
    # (rank 0 alone writes it under mpiexec)
    run.log = RunLog(os.path.join(out, "log.jsonl"), fresh=not resume) if run.main else None
    model.fit(x, y, batch_size=cfg.batch_size, epochs=cfg.epochs, shuffle=False,
              validation_data=(vx, vy), verbose=verbose,
              callbacks=[ResetStatesOnEpochBegin(), report] + ([run.log] if run.log else []))
    return run.state
