"""What a run folder holds, read for the page: curves, samples, the model and its vocabulary.

A run folder is what ``rnnkit train-text --out DIR``, ``rnnkit demo`` or ``model.save`` plus a
vocabulary wrote::

    log.jsonl      batch / epoch / sample lines (rnnkit.training.callbacks.RunLog)
    state.json     train-text's settings and per-epoch history (used when there is no log)
    model.rnnkit   the model (else the one other *.rnnkit file; last.rnnkit is train-text's
                   stateful checkpoint and is not read here)
    vocab.json     its vocabulary
    heldout.txt    a slice of held-out text: the default text of the hidden-cell view

Anything unreadable becomes a message, never an exception: :func:`read_run` returns
``{"error": ...}`` for a folder that is not a run, and a run whose model file is broken keeps
its curves with ``model_error`` set.
"""

import json
import os

from ..data.vocab import load_vocab
from ..errors import FileFormatError
from ..io.saving import load_model
from .reader import CellReader

LOG, STATE, MODEL, VOCAB, HELDOUT = "log.jsonl", "state.json", "model.rnnkit", "vocab.json", \
    "heldout.txt"
_MARKERS = (LOG, STATE, MODEL, VOCAB, "last.rnnkit")
DEFAULT_TEXT = ('def greet(name):\n    """Say hello (politely)."""\n    print("Hello, " + name)\n'
                '    return len(name) * 2\n')


def signature(folder):
    """A string that changes whenever the files the page draws from change (for live updates)."""
    parts = []
    for name in (LOG, STATE, MODEL):
        try:
            st = os.stat(os.path.join(folder, name))
            parts.append(f"{name}:{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append(f"{name}:-")
    return "|".join(parts)


def _read_log(path):
    """(epochs, batches, samples, starts) from a RunLog file; the last line of each epoch or
    (epoch, batch) wins (a resumed run repeats some); a torn last line is skipped."""
    epochs, batches, samples, starts = {}, {}, [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                d = json.loads(line)
            except ValueError:
                continue                                        # being written, or damaged
            if not isinstance(d, dict):
                continue
            kind = d.get("kind")
            if kind == "epoch" and isinstance(d.get("epoch"), int):
                epochs[d["epoch"]] = d
            elif kind == "batch" and isinstance(d.get("epoch"), int):
                batches[(d["epoch"], d.get("batch"))] = d
            elif kind == "sample" and isinstance(d.get("text"), str):
                samples.append(d)
            elif kind == "start":
                starts.append(d)
    return ([epochs[k] for k in sorted(epochs)],
            [batches[k] for k in sorted(batches, key=lambda k: (k[0], k[1] or 0))],
            samples, starts)


def _state_history(path):
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        return [dict(h, kind="epoch") for h in state.get("history", []) if isinstance(h, dict)]
    except (OSError, ValueError, AttributeError):
        return []


def _model_path(folder):
    path = os.path.join(folder, MODEL)
    if os.path.exists(path):
        return path
    others = sorted(n for n in os.listdir(folder) if n.endswith(".rnnkit") and n != "last.rnnkit")
    return os.path.join(folder, others[0]) if len(others) == 1 else None


def read_curves(folder):
    """``{"epochs", "batches", "samples", "steps"}`` of a run folder (empty lists if none)."""
    epochs, batches, samples, starts = [], [], [], []
    if os.path.exists(os.path.join(folder, LOG)):
        epochs, batches, samples, starts = _read_log(os.path.join(folder, LOG))
    if not epochs and os.path.exists(os.path.join(folder, STATE)):
        epochs = _state_history(os.path.join(folder, STATE))
    steps = None
    for s in starts:
        steps = (s.get("params") or {}).get("steps") or steps
    return {"epochs": epochs, "batches": batches, "samples": samples, "steps": steps}


class Run:
    """One run folder: its curves (re-read on every :meth:`curves`) and, loaded once, its
    model, vocabulary and :class:`CellReader` (``reader`` None with ``model_error`` set when
    they cannot be read)."""

    def __init__(self, folder):
        self.folder = os.path.abspath(folder)
        self.name = os.path.basename(self.folder.rstrip(os.sep)) or self.folder
        if not os.path.isdir(self.folder):
            raise FileNotFoundError(f"{folder}: no such folder")
        if not any(os.path.exists(os.path.join(self.folder, m)) for m in _MARKERS):
            raise ValueError(f"{folder}: not a run folder (none of {', '.join(_MARKERS)}; "
                             "give a folder written by rnnkit train-text --out, rnnkit demo, "
                             "or model.save with a vocab.json)")
        self.model = self.vocab = self.reader = None
        self.model_error = self.cells_reason = None
        self._load_model()

    def _model_stamp(self):
        path = _model_path(self.folder)
        try:
            return os.stat(path).st_mtime_ns if path else None
        except OSError:
            return None

    def reload_if_changed(self):
        """Load the model again if its file changed (a run saving its best model as it
        trains); returns whether it did."""
        if self._model_stamp() == self.model_stamp:
            return False
        self.model = self.vocab = self.reader = None
        self.model_error = self.cells_reason = None
        self._load_model()
        return True

    def _load_model(self):
        self.model_stamp = self._model_stamp()
        path = _model_path(self.folder)
        if path is None:
            self.model_error = (f"{self.folder}: no model file ({MODEL}), so hidden cells cannot "
                                "be shown")
            return
        try:
            self.model = load_model(path, compile=True)
        except (FileFormatError, ValueError, OSError, TypeError, KeyError) as e:
            msg = " ".join(str(e).split())
            self.model_error = ("cannot read the model file: " +
                                (msg if path in msg else f"{path}: {msg}"))
            return
        vpath = os.path.join(self.folder, VOCAB)
        if not os.path.exists(vpath):
            self.cells_reason = f"{self.folder}: no {VOCAB}, so the model's input cannot be typed"
            return
        try:
            self.vocab = load_vocab(vpath)
        except (FileFormatError, ValueError, OSError) as e:
            msg = " ".join(str(e).split())
            self.model_error = ("cannot read the vocabulary: " +
                                (msg if vpath in msg else f"{vpath}: {msg}"))
            return
        self.reader = CellReader(self.model, self.vocab)
        self.cells_reason = self.reader.reason
        if self.cells_reason:
            self.reader = None

    def default_text(self, limit=2000):
        """The held-out slice if the run saved one, else the newest sample, else a snippet."""
        path = os.path.join(self.folder, HELDOUT)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read(limit)
            if text:
                return text
        except (OSError, UnicodeDecodeError):
            pass
        samples = read_curves(self.folder)["samples"]
        if samples:
            s = samples[-1]
            return (s.get("prime") or "") + s["text"]
        return DEFAULT_TEXT

    def describe(self):
        """A JSON-able summary for the page (re-reads the log)."""
        d = {"name": self.name, "folder": self.folder, "signature": signature(self.folder),
             **read_curves(self.folder), "model_error": self.model_error,
             "cells_reason": self.cells_reason, "layers": [], "is_lm": False,
             "model_stamp": str(self.model_stamp)}
        if self.reader is not None:
            d.update(layers=self.reader.layers(), is_lm=self.reader.is_lm,
                     default_text=self.default_text(),
                     vocab_size=len(self.vocab), params=int(self.model.count_params()))
        return d
