"""Data-parallel training over MPI ranks: the same steps as one process with the global batch.

Every rank holds the whole model and is given the same data (the same ``fit`` call). For each
global batch of ``B`` samples, rank ``r`` of ``N`` takes rows ``r, r + N, r + 2N, ...``
(for stateful streams, :func:`rnnkit.training.tbptt.stream_windows`, that is streams
``r, r + N, ...``: each rank carries its own streams' states from window to window) and runs
forward, loss and backward on them. Then ONE ``Allreduce`` over one flat buffer sums::

    [ d_r * g_r (every trainable weight's gradient, flattened) | d_r * L_r | d_r |
      metric (total, count) increments | a checksum of the global batch, in slot r ]

where ``L_r`` and ``g_r`` are the loss and gradient of the rank's shard and ``d_r`` is the
number the loss divides by (Keras's ``sum_over_batch_size``: the shard's loss values, or its
valid steps under a mask; ``mean_with_sample_weight``: its sum of weights). Since the loss of
the global batch is ``sum_r d_r L_r / D`` with ``D = sum_r d_r``, dividing the sums by ``D``
gives every rank exactly the global batch's loss and gradient (to rounding: the sum runs in
another order), uneven shards and masks included. Every rank then applies the same optimizer
step (clipping by global norm sees the averaged gradient), so the weights stay identical. The
metrics' (total, count) become the global running sums on every rank, so logs, History,
callbacks and validation losses are those of one process.

With several outputs the shards' shares must be the same for every loss (no masks, all
``sum_over_batch_size``, or all ``sum``); other cases raise ``NotImplementedError``.
Dropout draws a different mask than one process would (each rank draws for its own rows).
"""

import hashlib
import json
import time
import zlib

import numpy as np

from .. import random as random_module
from ..training import parallel
from ..training.data import take
from ..training.losses.base import broadcast_weights
from . import comm as comm_module

_MEAN = ("sum_over_batch_size", "mean")


def _mean_states(model):
    """The (total, count) holders of every compiled metric (rnnkit's metrics are Means)."""
    states = []
    for _, name, m in getattr(model, "_metrics", []):
        m = getattr(m, "resolved", m) if hasattr(m, "resolved") else m
        if m is None:                          # an AutoAccuracy not yet resolved: no state yet
            continue
        if not (hasattr(m, "total") and hasattr(m, "count")):
            raise NotImplementedError(f"rnnkit.distributed: metric {name!r} keeps no (total, "
                                      f"count) state and cannot be averaged across ranks")
        states.append(m)
    return states


def _divisor(loss_fn, pred, mask, sw):
    """``d`` with shard loss = sum(values * weights) / d (see the module docstring)."""
    shape = pred.shape[:-1]
    reduction = loss_fn.reduction
    if reduction == "sum":
        return None
    if reduction in _MEAN:
        if mask is None:
            return float(np.prod(shape))
        return float(broadcast_weights(mask, shape, "mask", loss_fn.name).sum())
    # mean_with_sample_weight
    w = None if mask is None else broadcast_weights(mask, shape, "mask", loss_fn.name)
    if sw is not None:
        s = broadcast_weights(sw, shape, "sample_weight", loss_fn.name)
        w = s if w is None else s * w
    return float(np.prod(shape)) if w is None else float(np.sum(w, dtype=np.float64))


def _digest(obj):
    # values JSON cannot hold (a callable learning rate) count by their type's name only
    return int.from_bytes(hashlib.sha256(json.dumps(obj, sort_keys=True,
                                                    default=lambda o: type(o).__name__)
                                         .encode()).digest()[:7], "little")


class DataParallel:
    """Train on all MPI ranks at once, with one process's results (see the module docstring).

    Keras 3's ``keras.distribution.DataParallel`` in spirit: set it once, then ``fit``,
    ``evaluate`` and the callbacks work as in one process with the same global ``batch_size``::

        from rnnkit import distributed
        distributed.set_distribution(distributed.DataParallel())
        model.fit(x, y, batch_size=64, epochs=3)      # under mpiexec -n 4: 16 rows per rank

    Args:
        comm: an mpi4py communicator (default ``MPI.COMM_WORLD``).
    """

    def __init__(self, comm=None):
        if comm is None and comm_module.launched_size() > 1:
            comm = comm_module.world()
        self.comm = comm                  # None in one process: mpi4py is never imported
        self.rank, self.size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
        self.is_main = self.rank == 0
        if self.size > 1:
            comm_module.share_cores()
        self._sync = None                 # "fit" / "evaluate": broadcast before the next step
        self._buffers = {}
        self.allreduce_seconds = 0.0      # time spent in Allreduce (gradient steps)
        self.allreduce_calls = 0
        self.allreduce_bytes = 0          # bytes of the last gradient step's buffer

    # ---- before training -----------------------------------------------------------------------
    def check(self, model, xs, ys, sw, where, batch_size):
        """Refuse, on every rank and before anything changes, empty shards and ranks that
        disagree on the data, the batch size or the model; share rank 0's random state."""
        n, N = len(xs[0]), self.size
        arrays = [a for a in (xs + (ys or []) + ([sw] if sw is not None else []))]
        data = [[list(a.shape), str(a.dtype), zlib.adler32(np.ascontiguousarray(a).data)]
                for a in arrays]
        compiled = [type(model.optimizer).__name__, sorted(model.optimizer.get_config().items()),
                    [l.get_config() for l in model.compiled_loss], model.metrics_names]
        self._agree(where, [n, batch_size, _digest(data), _digest(compiled)],
                    ["the number of samples", "the batch size",
                     "the data (shapes, dtypes or contents)",
                     "the compiled optimizer, loss or metrics"])
        # the same on every rank once they agree (a rank must never leave a collective alone)
        smallest = min(batch_size, n - (-(-n // batch_size) - 1) * batch_size)
        if smallest < N:
            raise ValueError(f"{where}: a batch of {smallest} samples cannot be split over {N} "
                             f"ranks (rank {N - 1} would get an empty shard); use a batch_size "
                             f"of at least {N} and a sample count whose last batch has at least "
                             f"{N} samples ({n} samples, batch_size {batch_size})")
        if where in ("fit", "evaluate"):
            # unseeded shuffling draws from rnnkit.random's root generator: rank 0's for all
            root = random_module._root.bit_generator
            root.state = self.comm.bcast(root.state if self.is_main else None, root=0)
            self._sync = where

    def _agree(self, where, values, names):
        """Raise the same clear ValueError on every rank unless all ranks hold the same
        ``values`` (ints; the first two are shown as they are, the others are digests)."""
        mine = np.array(values, dtype=np.int64)
        everyone = np.empty((self.size, len(mine)), dtype=np.int64)
        self.comm.Allgather(mine, everyone)
        for k, what in enumerate(names):
            differ = [r for r in range(self.size) if everyone[r, k] != everyone[0, k]]
            if differ:
                shown = (f": {', '.join(f'rank {r}: {v}' for r, v in enumerate(everyone[:, k]))}"
                         if what in ("the number of samples", "the batch size") else "")
                raise ValueError(f"{where}: the ranks disagree on {what}{shown}; rank(s) "
                                 f"{differ} differ from rank 0. Every rank must run the same "
                                 f"script on the same data")

    def _broadcast_state(self, model, optimizer_too):
        """Rank 0's weights (one flat Bcast) and optimizer state on every rank, once all
        ranks are known to hold the same model (it is built by now: the first step)."""
        weights = model.weights
        self._agree("fit" if optimizer_too else "evaluate",
                    [_digest([[w.path, list(w.shape), str(w.dtype)] for w in weights])],
                    ["the model (its weights' names, shapes and dtypes)"])
        flat = np.concatenate([w.value.ravel().astype(np.float64) for w in weights]) \
            if weights else np.zeros(0)
        self.comm.Bcast(flat, root=0)
        offset = 0
        for w in weights:
            w.value[...] = flat[offset:offset + w.value.size].reshape(w.shape)
            offset += w.value.size
        if optimizer_too:
            state = self.comm.bcast(model.optimizer.get_state() if self.is_main else None, root=0)
            model.optimizer.set_state(state)

    # ---- one step --------------------------------------------------------------------------
    def shard(self, model, xs, ys, sw):
        """This rank's rows ``r, r + N, ...`` of the global batch (and a note of what to sum)."""
        if self._sync is not None:
            self._broadcast_state(model, self._sync == "fit")
            self._sync = None
        m = len(xs[0])
        if m < self.size:
            raise ValueError(f"rnnkit.distributed: a batch of {m} samples cannot be split over "
                             f"{self.size} ranks")
        rows = np.arange(self.rank, m, self.size)
        self._checksum = float(np.sum(xs[0], dtype=np.float64))
        self._metrics_before = {id(s): (s.total, s.count) for s in _mean_states(model)}
        return take(xs, rows), take(ys, rows), take(sw, rows)

    def _shares(self, model, ys, preds, masks, sw):
        """``(d, summed)``: this rank's divisor and whether the divisors are summed (False:
        reduction "sum", the shards' sums simply add up)."""
        losses = model.compiled_loss
        if len(losses) == 1:
            d = _divisor(losses[0], preds[0], masks[0], sw)
            return (1.0, False) if d is None else (d, True)
        kinds = {l.reduction for l in losses}
        if any(mk is not None for mk in masks) or not (kinds <= set(_MEAN) or kinds == {"sum"}):
            raise NotImplementedError(
                "rnnkit.distributed: with several outputs, data-parallel training needs losses "
                "without masks and all with reduction 'sum_over_batch_size' (or all 'sum'); got "
                f"reductions {sorted(kinds)} and masks on outputs "
                f"{[k for k, mk in enumerate(masks) if mk is not None]}")
        if kinds == {"sum"}:
            return 1.0, False
        return float(len(preds[0])), True

    def _reduce(self, model, loss, ys, preds, masks, sw, grads):
        """Pack, Allreduce, unpack (see the module docstring); returns the global loss."""
        d, summed = self._shares(model, ys, preds, masks, sw)
        states = _mean_states(model)
        before = [self._metrics_before.get(id(s), (0.0, 0.0)) for s in states]
        P = sum(w.value.size for w in grads)
        # the weights' float type, float32 at least (counts and sums ride in the same buffer)
        dtype = np.result_type(np.float32, *[w.dtype for w in grads]) if grads else np.float64
        n_extra = 2 + 2 * len(states) + self.size
        key = (P, n_extra, np.dtype(dtype).str)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.empty(P + n_extra, dtype=dtype)
        offset = 0
        for w in grads:                                  # d_r * g_r, flattened
            size = w.value.size
            np.multiply(w.grad.reshape(-1), d, out=buf[offset:offset + size])
            offset += size
        extra = buf[P:]
        extra[:] = 0.0
        extra[0], extra[1] = loss * d, d if summed else 0.0
        for k, (s, (t0, c0)) in enumerate(zip(states, before)):
            extra[2 + 2 * k], extra[3 + 2 * k] = s.total - t0, s.count - c0
        extra[2 + 2 * len(states) + self.rank] = self._checksum
        from mpi4py import MPI
        t = time.perf_counter()
        self.comm.Allreduce(MPI.IN_PLACE, buf)
        if grads:
            self.allreduce_seconds += time.perf_counter() - t
            self.allreduce_calls += 1
            self.allreduce_bytes = buf.nbytes
        sums = extra[2 + 2 * len(states):]
        if np.any(sums != sums[0]):
            raise RuntimeError(
                "rnnkit.distributed: the ranks are not on the same global batch (their data or "
                "shuffling order differ: give every rank the same data and the same fit(seed=...))")
        D = float(extra[1]) if summed else 1.0
        scale = 0.0 if D == 0 else 1.0 / D               # Keras: divide_no_nan
        offset = 0
        for w in grads:
            size = w.value.size
            np.multiply(buf[offset:offset + size].reshape(w.shape), scale, out=w.grad)
            offset += size
        for k, (s, (t0, c0)) in enumerate(zip(states, before)):
            s.total, s.count = t0 + float(extra[2 + 2 * k]), c0 + float(extra[3 + 2 * k])
        return float(extra[0]) * scale

    def gradients_ready(self, model, loss, ys, preds, masks, sw):
        """After backward: every ``.grad`` becomes the global batch's gradient."""
        grads = [w for w in model.trainable_weights]
        return self._reduce(model, loss, ys, preds, masks, sw, grads)

    def test_ready(self, model, loss, ys, preds, masks, sw):
        """After a test step: the global batch's loss, and the metrics summed over ranks."""
        return self._reduce(model, loss, ys, preds, masks, sw, [])

    # ---- activation ------------------------------------------------------------------------
    def __enter__(self):
        self._previous = parallel.set_current(self if self.size > 1 else None)
        return self

    def __exit__(self, *exc):
        parallel.set_current(self._previous)
        return False

    def scope(self):
        """``with strategy.scope(): model.fit(...)``: data parallel inside the block only."""
        return self
