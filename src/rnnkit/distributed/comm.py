"""Which process am I, and the MPI calls data-parallel training makes (through mpi4py).

mpi4py is imported only when the process was started by an MPI launcher with more than one
process (``mpiexec -n 4``, ``mpirun``, Slurm's ``srun``): the launcher says so in the
environment (``PMI_SIZE`` for MPICH, Intel MPI and Slurm's PMI, ``OMPI_COMM_WORLD_SIZE`` for
Open MPI, ``MV2_COMM_WORLD_SIZE`` for MVAPICH, ``SLURM_STEP_NUM_TASKS`` for ``srun``). A plain
``python script.py`` never imports it: ``size()`` is 1 and ``rank()`` 0.

Faults. MPI has no timeout: a rank that stops calling collectives leaves the others waiting
forever. A rank that *dies* (SIGKILL, a segfault) is seen by the launcher, which stops the job
(MPICH's ``mpiexec``: within a second, exit status 9). A rank that *raises* must therefore not
simply exit: :func:`abort_on_error` (a context manager, and the ``sys.excepthook`` installed by
:func:`install_excepthook`) prints which rank failed and why, then calls ``MPI_Abort``, which
stops every rank with a non-zero status.
"""

import contextlib
import os
import sys
import time
import traceback

_LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE",
                       "SLURM_STEP_NUM_TASKS")
_comm = None


def launched_size():
    """How many processes the launcher started (1 when none did); reads only the environment."""
    for var in _LAUNCHER_SIZE_VARS:
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 1


def world():
    """``MPI.COMM_WORLD`` (imports mpi4py, which initialises MPI)."""
    global _comm
    if _comm is None:
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError(
                f"rnnkit.distributed: started by an MPI launcher with {launched_size()} "
                f"processes, but mpi4py is not installed; pip install 'rnnkit[mpi]' "
                f"(mpi4py and MPICH)") from None
        _comm = MPI.COMM_WORLD
    return _comm


def size():
    """The number of processes (ranks) in the job; 1 without an MPI launcher."""
    return 1 if launched_size() <= 1 else world().Get_size()


def rank():
    """This process's rank, 0 .. size() - 1; 0 without an MPI launcher."""
    return 0 if launched_size() <= 1 else world().Get_rank()


def is_main():
    """True on rank 0: the rank that prints, writes files and shows progress bars."""
    return rank() == 0


def barrier():
    """Wait until every rank gets here (nothing in one process)."""
    if size() > 1:
        world().Barrier()


def abort(message, status=1):
    """Print ``message`` on stderr with this rank's number and stop every rank of the job."""
    print(f"rnnkit.distributed: rank {rank()} of {size()}: {message}; stopping all ranks",
          file=sys.stderr, flush=True)
    if size() > 1:
        time.sleep(0.5)       # let the launcher forward this rank's last output lines first
        world().Abort(status)
    raise SystemExit(status)


@contextlib.contextmanager
def abort_on_error(what="training"):
    """Around code that takes part in collectives: an exception on one rank aborts the job
    (with a one-line message, or the traceback for an unexpected error) instead of leaving the
    other ranks waiting. In one process it does nothing."""
    if size() <= 1:
        yield
        return
    try:
        yield
    except KeyboardInterrupt:
        abort(f"{what} interrupted", 130)
    except Exception as e:
        if not isinstance(e, (ValueError, OSError, TypeError, NotImplementedError)) or \
                os.environ.get("RNNKIT_DEBUG"):
            traceback.print_exc()
        abort(f"{what} failed: {type(e).__name__}: {' '.join(str(e).split())}")


def local_size():
    """How many ranks run on this machine (the launcher says; 1 when it does not)."""
    for var in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return max(1, int(value))
    return 1


def share_cores():
    """Give each rank on this machine its share of the cores for rnnkit's batch split and for
    OpenBLAS, unless ``RNNKIT_NUM_THREADS`` says otherwise (N ranks each taking every core
    would oversubscribe them N times)."""
    if os.environ.get("RNNKIT_NUM_THREADS"):
        return
    from ..kernels.fast import common
    threads = max(1, common.usable_cores() // local_size())
    common.set_num_threads(threads)
    if not os.environ.get("OPENBLAS_NUM_THREADS"):
        try:
            from ..kernels.fast import _lowlevel
            _lowlevel.set_blas_threads(threads)
        except Exception:                        # no OpenBLAS handle: leave BLAS as it is
            pass


def install_excepthook():
    """An uncaught exception on any rank aborts the whole job (as ``python -m mpi4py`` does)."""
    if size() <= 1 or getattr(sys.excepthook, "_rnnkit_abort", False):
        return
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.flush()
        abort(f"uncaught {kind.__name__}")

    hook._rnnkit_abort = True
    sys.excepthook = hook
