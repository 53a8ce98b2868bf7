"""Data-parallel training on several processes and machines, over MPI (``rnnkit[mpi]``).

Run the same script under an MPI launcher; ``fit`` then trains on every rank at once with the
results of one process given the same global ``batch_size``::

    # train.py                                   mpiexec -n 4 python train.py
    from rnnkit import distributed
    distributed.set_distribution(distributed.DataParallel())
    model.fit(x, y, batch_size=64, epochs=3)     # each rank: 16 rows of every batch

``rank()``, ``size()``, ``is_main()`` say which process this is (0 and 1 without a launcher,
where mpi4py is never imported). See :mod:`rnnkit.distributed.data_parallel` for what a step
does and docs/distributed.md for the choice of API, faults, resuming and the cost model.
"""

from .comm import abort, abort_on_error, barrier, install_excepthook, is_main, rank, size
from .data_parallel import DataParallel

_distribution = None


def set_distribution(value):
    """Make ``value`` (a :class:`DataParallel`, or None) the distribution ``fit`` uses, as
    ``keras.distribution.set_distribution``. With one process it is kept but changes nothing.
    Under a launcher an uncaught exception on any rank then aborts the whole job."""
    global _distribution
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"set_distribution: expected a DataParallel or None, got "
                        f"{type(value).__name__}")
    from ..training import parallel
    if _distribution is not None:
        parallel.set_current(None)
    _distribution = value
    if value is not None and value.size > 1:
        parallel.set_current(value)
        install_excepthook()


def distribution():
    """The distribution set by :func:`set_distribution`, or None."""
    return _distribution


__all__ = ["DataParallel", "abort", "abort_on_error", "barrier", "distribution",
           "install_excepthook", "is_main", "rank", "set_distribution", "size"]
