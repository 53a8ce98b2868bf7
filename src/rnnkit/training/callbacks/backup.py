"""``BackupAndRestore``: crash-safe training with Keras 3 semantics.

At the end of every epoch the callback writes one checkpoint file, atomically (temp file,
flush, fsync, rename: :func:`rnnkit.io.safetensors_format.atomic_write`), holding what
``model.save`` holds (architecture, weights, optimizer state, every layer's random generator
state) plus the epoch reached, the History so far and the state of ``fit``'s shuffling
generator. When ``fit`` starts again with the same arguments after a crash, the callback
restores all of it at ``on_train_begin`` and ``fit`` continues from the next epoch: the final
weights and History equal those of a run that was never interrupted. A kill at any moment
leaves either the previous checkpoint or the new one, never a half-written file. On a
successful end of training the checkpoint is deleted (``delete_checkpoint=True``).

Only ``save_freq="epoch"`` (or ``False``: restore, but never write) is supported; Keras's
integer ``save_freq`` (every N batches) is not.

A subclass can keep its own JSON-able state in the same atomic file (``get_extra_state`` /
``set_extra_state``), so that nothing it needs can disagree with the weights after a crash;
:func:`read_checkpoint_state` reads that state (and the epoch) without loading any tensor, to
decide how to rebuild a model before ``fit``. ``rnnkit train-text --resume`` works this way.
"""

import json
import os

import numpy as np

from ...errors import FileFormatError
from ...io.safetensors_format import load, read_header
from ...io.saving import restore_checkpoint, write_checkpoint
from .. import parallel
from .base import Callback

CHECKPOINT_NAME = "latest.rnnkit"
_KEY = "backup_and_restore"


class BackupAndRestore(Callback):
    """Back the training state up at every epoch end; restore it when ``fit`` starts again."""

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is required")
        if save_freq not in ("epoch", False):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or False, got "
                             f"{save_freq!r} (saving every N batches is not supported)")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self._history = {}
        self._epochs = []

    @property
    def checkpoint_path(self):
        return os.path.join(self.backup_dir, CHECKPOINT_NAME)

    # ---- for subclasses ------------------------------------------------------------------------
    def get_extra_state(self):
        """JSON-able state saved with each checkpoint (called after the epoch's other callbacks
        that come before this one); ``None`` by default."""
        return None

    def set_extra_state(self, extra):
        """Receives, at restore, what ``get_extra_state`` returned when the checkpoint was
        written (``None`` if nothing was)."""

    # ---- hooks ---------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._history, self._epochs = {}, []
        if os.path.exists(self.checkpoint_path):
            self._restore(self.checkpoint_path)

    def on_epoch_end(self, epoch, logs=None):
        self._epochs.append(int(epoch))
        for k, v in (logs or {}).items():
            self._history.setdefault(k, []).append(float(v))
        if self.save_freq == "epoch":
            self._write(epoch)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and parallel.writes_files() and \
                os.path.exists(self.checkpoint_path):
            os.remove(self.checkpoint_path)

    # ---- saving / restoring --------------------------------------------------------------------
    def _write(self, epoch):
        if not parallel.writes_files():       # data parallel: the main rank writes for all
            return
        model = self.model
        bitgen = getattr(model, "_fit_bit_generator", None)
        state = {"epoch": int(epoch), "history": self._history, "epochs": self._epochs,
                 "shuffle_rng_state": bitgen.state if bitgen is not None else None,
                 "extra": self.get_extra_state()}
        # atomic: temp file, fsync, rename
        write_checkpoint(model, self.checkpoint_path, {_KEY: json.dumps(state)})

    def _restore(self, path):
        model = self.model
        tensors, meta = load(path)
        state = _parse_state(path, meta)               # every field checked, then assigned
        bitgen, rng_state = getattr(model, "_fit_bit_generator", None), state.get(
            "shuffle_rng_state")
        if bitgen is not None and rng_state is not None:
            try:
                type(bitgen)().state = rng_state        # fit's own kind of generator
            except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
                raise FileFormatError(f"{path}: the {_KEY!r} entry has a bad "
                                      f"shuffle_rng_state ({e})") from None
        restore_checkpoint(model, path, tensors, meta)
        self._history = {k: list(v) for k, v in state["history"].items()}
        self._epochs = list(state.get("epochs", range(state["epoch"] + 1)))
        self.set_extra_state(state.get("extra"))
        model._resume_from = (int(state["epoch"]), {k: list(v) for k, v in
                                                    self._history.items()},
                              state.get("shuffle_rng_state"))


def read_checkpoint_state(path):
    """``{"epoch", "history", "extra", ...}`` of a checkpoint, read from its header only.

    ``epoch`` is the last epoch completed (0-based); raises FileFormatError for a file that is
    not a readable BackupAndRestore checkpoint.
    """
    header, _ = read_header(path)
    return _parse_state(os.fspath(path), header.get("__metadata__", {}))


def _parse_state(path, meta):
    if _KEY not in meta:
        raise FileFormatError(f"{path}: not a BackupAndRestore checkpoint")
    try:
        state = json.loads(meta[_KEY])
    except (json.JSONDecodeError, RecursionError):
        raise FileFormatError(f"{path}: the {_KEY!r} entry is not valid JSON") from None
    if not (isinstance(state, dict) and isinstance(state.get("epoch"), int)
            and state["epoch"] >= 0 and isinstance(state.get("history"), dict)):
        raise FileFormatError(f"{path}: the {_KEY!r} entry has no valid epoch and history")
    _check_fields(path, state)
    return state


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_fields(path, state):
    """Every other field of the state read back, checked before anything is restored."""
    bad = None
    if not all(isinstance(k, str) and isinstance(v, list) and all(map(_is_number, v))
               for k, v in state["history"].items()):
        bad = "history (expected lists of numbers)"
    elif "epochs" in state and not (isinstance(state["epochs"], list) and all(
            isinstance(e, int) and not isinstance(e, bool) for e in state["epochs"])):
        bad = "epochs (expected a list of integers)"
    elif state.get("shuffle_rng_state") is not None:
        rng = state["shuffle_rng_state"]
        kind = rng.get("bit_generator") if isinstance(rng, dict) else None
        try:
            getattr(np.random, kind if kind in _BIT_GENERATORS else "PCG64")().state = rng
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
            bad = f"shuffle_rng_state ({e})"
    if bad is not None:
        raise FileFormatError(f"{path}: the {_KEY!r} entry has a bad {bad}")


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
