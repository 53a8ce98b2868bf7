"""Run an application example's ``--quick`` smoke run as a user would, and read its report.

``run_quick(name, out)`` runs ``python examples/NAME.py --quick --out OUT`` in a subprocess,
skips the test (with the example's own one-line reason) when it exits with status 2 because an
optional source is missing, fails with its stderr on any other non-zero status, and returns
``(stdout, metrics)`` with ``metrics`` read from ``OUT/metrics.json`` (see examples/_common.py).
"""

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED_DATA = ROOT.parent / "shared" / "data"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MISSING_DATA_EXIT = 2


def run_quick(name, out, *args, timeout=300):
    env = dict(os.environ, PYTHONIOENCODING="utf-8", MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out",
                        str(out), *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    if r.returncode == MISSING_DATA_EXIT and "missing data" in r.stderr:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    metrics = json.loads((Path(out) / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["example"] == name
    assert f"held-out {metrics['metric']}: rnn" in r.stdout
    return r.stdout, metrics


def assert_png(path):
    """``path`` is a PNG file (when matplotlib is installed)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not Path(path).exists()
        return
    assert Path(path).read_bytes()[:8] == PNG_MAGIC, f"{path} is not a PNG"


def epoch_losses(stdout, key="loss"):
    """The value of ``key`` that fit's progress lines in ``stdout`` (the tqdm bar, or Keras's
    ``verbose=2`` lines) showed at the end of each epoch, in order: ``[epoch 1, epoch 2, ...]``,
    and a second fit's epochs after the first's."""
    values, last = [], None
    for line in re.split(r"[\r\n]", stdout):
        m = re.match(rf"Epoch (\d+)/(\d+)\b.*?(?<![\w]){re.escape(key)}: ([-\d.e+]+|nan|inf)", line)
        if not m:
            continue
        if m.group(1, 2) != last:
            values.append(None)
            last = m.group(1, 2)
        values[-1] = float(m.group(3))
    return values
