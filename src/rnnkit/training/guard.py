"""The non-finite guard of one training step: ``compile(skip_nonfinite=True)`` and
``TerminateOnNaN``.

A guarded step is applied only when all three are finite:

1. the loss (checked before anything changes);
2. every gradient (checked before the optimizer runs);
3. the update: the new weights and the optimizer's new slots (Adam's second moment can overflow
   on a finite gradient, a huge learning rate can push a weight to inf). The weights and slots
   are copied into buffers kept between steps before the optimizer runs, and put back when the
   result is not finite; the step counter goes back too.

A skipped step leaves the weights and the optimizer state exactly as after the last good step.
The guard counts what it skipped (``model.skipped_batches``), remembers the first skipped batch
and why, and ``fit`` warns once at the end, e.g. ``fit: skipped 3 of 16 batches with a non-finite
loss, gradient or update (first: epoch 1, batch 5, non-finite gradient of lstm/kernel)``.

Cost when on: one ``min`` and one ``max`` reduction per gradient, weight and slot (no
temporaries; NaN propagates through both, +-inf shows in one of them) and one copy of the
weights and slots per step. Nothing when off.
"""

import numpy as np


def _finite(a):
    """True when every entry of ``a`` is finite, by two reductions without a temporary."""
    if a.size == 0:
        return True
    return bool(np.isfinite(a.min()) and np.isfinite(a.max()))


class NonFiniteGuard:
    """Checks one step and restores the last good weights and optimizer state (module docs)."""

    def __init__(self):
        self.skipped = 0
        self.first = None               # (position, reason) of the first skipped step
        self.last_reason = None         # why the last step was skipped, or None if applied
        self._w_buf = {}                # id(weight) -> copy of its value before the update
        self._s_buf = {}                # (path, slot name) -> copy before the update

    def _skip(self, reason, position):
        self.skipped += 1
        self.last_reason = reason
        if self.first is None:
            self.first = (position, reason)
        return False

    def apply(self, loss, weights, optimizer, check_grads=True, position=None):
        """Apply the optimizer to ``weights`` if the step is finite; return whether it was."""
        self.last_reason = None
        if not np.isfinite(loss):
            return self._skip(f"invalid loss {loss}", position)
        if check_grads:
            for w in weights:
                if w.grad is not None and not _finite(w.grad):
                    return self._skip(f"non-finite gradient of {w.path}", position)
        saved_it = optimizer._iterations
        saved_slots = set(optimizer._slots)
        for w in weights:
            self._copy_into(self._w_buf, id(w), w.value)
        for path, slots in optimizer._slots.items():
            for name, a in slots.items():
                self._copy_into(self._s_buf, (path, name), a)
        optimizer.apply(weights)
        bad = next((w.path for w in weights if not _finite(w.value)), None)
        if bad is None:
            bad = next((f"{path}/{name}" for path, slots in optimizer._slots.items()
                        for name, a in slots.items() if not _finite(a)), None)
            bad = None if bad is None else f"non-finite optimizer slot {bad}"
        else:
            bad = f"non-finite update of {bad}"
        if bad is None:
            return True
        for w in weights:                                     # back to the last good step
            np.copyto(w.value, self._w_buf[id(w)])
        for path in list(optimizer._slots):
            if path not in saved_slots:
                del optimizer._slots[path]                    # created by this very step
                continue
            for name, a in optimizer._slots[path].items():
                np.copyto(a, self._s_buf[(path, name)])
        optimizer._iterations = saved_it
        return self._skip(bad, position)

    @staticmethod
    def _copy_into(buffers, key, a):
        buf = buffers.get(key)
        if buf is None or buf.shape != a.shape or buf.dtype != a.dtype:
            buffers[key] = buf = np.empty_like(a)
        np.copyto(buf, a)

    def message(self, where, total):
        """One line saying what was skipped, or None when nothing was."""
        if not self.skipped:
            return None
        (position, reason) = self.first
        at = "" if position is None else f"epoch {position[0] + 1}, batch {position[1]}, "
        return (f"{where}: skipped {self.skipped} of {total} batches with a non-finite loss, "
                f"gradient or update (first: {at}{reason}); the weights and optimizer state "
                f"are those of the last good batch")
