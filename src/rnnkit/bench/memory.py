"""Peak memory of one training step, measured the same way for rnnkit and torch.

Each competitor (an rnnkit kernel set, or torch) runs in a fresh Python process that:

1. imports numpy and rnnkit (and torch, for torch), builds the layer and the data exactly as the
   timed runners of :mod:`rnnkit.bench.runners` do, and sets the same thread counts;
2. runs one warm-up step (compiled code loaded from the cache, lazy initialisation, weight
   gradients allocated), then ``gc.collect()`` and glibc's ``malloc_trim(0)`` so that freed
   memory the allocator kept goes back to the system;
3. resets the kernel's peak-RSS counter (``5`` written to ``/proc/self/clear_refs``), reads the
   resident set size (``VmRSS``): the *baseline*, i.e. what lives between steps (libraries,
   weights, inputs, compiled code);
4. runs one training step and reads the peak resident set size since the reset (``VmHWM``).

The number is peak − baseline: the memory a training step needs on top of what lives anyway.
``getrusage(RUSAGE_SELF).ru_maxrss`` cannot be used after a warm-up: it is never reset, so it
still holds the warm-up's peak, and without a warm-up it would charge one-time costs (loading
compiled code, torch's lazy set-up) to the step. The counters have page granularity (and
transparent huge pages may round big arrays up to 2 MiB), so tiny shapes read close to zero.
Linux only: elsewhere the rows read "-" and a note says why.
"""

import json
import os
import subprocess
import sys

_CHILD = r"""
import ctypes, gc, json, sys
who, cell = sys.argv[1], sys.argv[2]
shape, threads = tuple(json.loads(sys.argv[3])), int(sys.argv[4])
import numpy as np
from rnnkit.bench import runners as bench_runners


def status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(f"no {key} in /proc/self/status")


B, T, I, H = shape
rng = np.random.default_rng(0)
x = rng.standard_normal((B, T, I)).astype(np.float32)
dy = rng.standard_normal((B, T, H)).astype(np.float32)
if who == "torch":
    import torch
    torch.set_num_threads(threads)
    _, step, _ = bench_runners._torch_runners(torch, cell, shape, x, dy)
else:
    from rnnkit.kernels import dispatch
    if dispatch.fast_available():
        from rnnkit.kernels.fast import _lowlevel, common
        common.set_num_threads(threads)
        _lowlevel.set_blas_threads(threads)
    step, _ = bench_runners._rnnkit_runner(cell, shape, who, x, dy)
step()                                            # warm-up
gc.collect()
try:
    ctypes.CDLL(None).malloc_trim(0)              # glibc: give freed memory back
except (OSError, AttributeError):
    pass
with open("/proc/self/clear_refs", "w") as f:    # reset VmHWM (the peak RSS) to VmRSS
    f.write("5")
base = status_kib("VmRSS")
step()
peak = status_kib("VmHWM")
print(json.dumps({"base_kib": base, "peak_kib": peak}))
"""


def step_peak_mib(who, cell, shape, threads, timeout=300):
    """Peak memory of one training step above the baseline, in MiB, measured in a fresh process.

    ``who``: an rnnkit kernel set (``"fast"``, ``"reference"``) or ``"torch"``. Raises
    RuntimeError with the child's last error line when the measurement cannot be made.
    """
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    if who != "torch":
        env["RNNKIT_KERNELS"] = who
    r = subprocess.run([sys.executable, "-c", _CHILD, who, cell, json.dumps(list(shape)),
                        str(threads)], capture_output=True, text=True, timeout=timeout, env=env)
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        err = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{who}: {err[:160]}")
    got = json.loads(lines[-1])
    return max(0, got["peak_kib"] - got["base_kib"]) / 1024.0


def measure(cell, shape, competitors, threads, notes):
    """{competitor: MiB or None} for one cell at ``shape``; failures become notes."""
    if not os.path.exists("/proc/self/clear_refs"):
        notes.add("peak memory needs Linux's /proc/self/clear_refs: not measured here")
        return {}
    out = {}
    for who in competitors:
        try:
            out[who] = step_peak_mib(who, cell, shape, threads)
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
            notes.add(f"peak memory not measured for {cell} {who} ({e})")
            out[who] = None
    return out
