"""The hook point where a data-parallel strategy joins training (used by rnnkit.distributed).

``training/`` knows nothing about MPI. It only asks :func:`current` whether a strategy is
active; with none (the default, and always in one process) every call site below is skipped
and training is exactly what it was. :mod:`rnnkit.distributed` installs a strategy object with
four methods, called from :mod:`rnnkit.training.compile`::

    check(model, xs, ys, sw, where, batch_size)   start of _dry_run: all ranks agree on the
                                                  data and the model, before anything changes
    shard(model, xs, ys, sw) -> xs, ys, sw        start of a train / test step: this rank's rows
                                                  of the global batch
    gradients_ready(model, loss, ys, preds, masks, sw) -> loss
                                                  after backward, before the optimizer: every
                                                  .grad becomes the global batch's gradient and
                                                  the loss and metrics the global batch's
    test_ready(model, loss, ys, preds, masks, sw) -> loss
                                                  end of a test step: the same for the loss and
                                                  metrics

:func:`writes_files` tells callbacks that write files (BackupAndRestore) whether this process
is the one that writes: all ranks hold the same state, only the main rank saves it.
"""

_strategy = None


def current():
    """The active data-parallel strategy, or None (one process)."""
    return _strategy


def set_current(strategy):
    """Make ``strategy`` (or None) the active one; returns the previous one."""
    global _strategy
    previous, _strategy = _strategy, strategy
    return previous


def writes_files():
    """False on the ranks of a data-parallel run other than the main one."""
    return _strategy is None or _strategy.is_main
