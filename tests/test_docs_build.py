"""The docs site builds with warnings as errors, covers every module, and its floor plan is the
one tests/test_import_floors.py enforces.

``mkdocs build --strict`` (what ``make docs`` runs) into a temporary folder: a docstring griffe
cannot parse, a broken link, a page that names a module that is gone, or a module of rnnkit on
no page (docs/hooks.py) fails it. Skipped only where mkdocs is not installed (the ``docs`` and
``test`` extras bring it).
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_import_floors import FLOORS

ROOT = Path(__file__).resolve().parents[1]
HAVE_MKDOCS = all(importlib.util.find_spec(m) for m in ("mkdocs", "mkdocstrings_handlers.python"))
needs_mkdocs = pytest.mark.skipif(not HAVE_MKDOCS, reason="mkdocs / mkdocstrings-python not "
                                  "installed (pip install -e '.[docs]')")


def _build(config, out):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "-f", str(config), "-d", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@needs_mkdocs
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    done = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    pages = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("*.html")}
    for page in ("index.html", "architecture.html", "api/layers.html", "api/cells.html",
                 "api/kernels.html", "api/models.html", "api/training.html", "api/io.html",
                 "api/data.html", "api/cli.html"):
        assert page in pages
    kernels = (tmp_path / "site" / "api" / "kernels.html").read_text(encoding="utf-8")
    assert "c_t = f * c_prev + i * g" in kernels          # the equations, from the docstring
    assert 'id="rnnkit.kernels.lstm.lstm_backward"' in kernels
    cli = (tmp_path / "site" / "api" / "cli.html").read_text(encoding="utf-8")
    assert "usage: rnnkit train-text" in cli and "usage: rnnkit examples gallery" in cli
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "Total params: 164,106" in home                 # the README, included whole


def _hooks():
    """docs/hooks.py, the build's module planner (imports griffe, which mkdocstrings brings)."""
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


def _pages():
    return {p.relative_to(ROOT / "docs").as_posix(): p.read_text(encoding="utf-8")
            for p in sorted((ROOT / "docs").rglob("*.md"))}


@needs_mkdocs
def test_every_module_is_on_exactly_one_page():
    hooks = _hooks()
    modules = hooks.rnnkit_modules()
    assert {"rnnkit.layers.lstm", "rnnkit.kernels.fast.lstm", "rnnkit.cli.gallery"} <= set(modules)
    plan, unplaced = hooks.plan_pages(_pages(), modules)
    assert unplaced == []
    placed = [m for page in plan.values() for hits in page.values() for m in hits]
    assert len(placed) == len(set(placed))                      # no module on two pages
    assert "rnnkit.layers.dense" in plan["api/layers.md"]["rnnkit.layers.**"]
    assert "rnnkit.training.trainer" in plan["api/training.md"]["rnnkit.training.*"]


@needs_mkdocs
def test_a_module_on_no_page_is_reported_and_new_cells_land_on_the_cells_page():
    hooks = _hooks()
    pages = _pages()
    pages["api/models.md"] = pages["api/models.md"].replace("::: rnnkit.models.*", "")
    future = hooks.rnnkit_modules() + ["rnnkit.layers.cells", "rnnkit.layers.rnn"]
    plan, unplaced = hooks.plan_pages(pages, future)
    assert unplaced == ["rnnkit.models.functional", "rnnkit.models.graph",
                        "rnnkit.models.graph_config", "rnnkit.models.sequential",
                        "rnnkit.models.summary"]
    assert "rnnkit.layers.cells" in plan["api/cells.md"]["rnnkit.layers.*cell**"]
    assert "rnnkit.layers.lstm_cell" in plan["api/cells.md"]["rnnkit.layers.*cell**"]
    assert "rnnkit.layers.rnn" in plan["api/cells.md"]["rnnkit.layers.*rnn**"]
    assert "rnnkit.layers.cells" not in plan["api/layers.md"]["rnnkit.layers.**"]


@needs_mkdocs
def test_docstrings_are_read_as_markdown():
    md = _hooks().markdown_docstring(
        "Gates, see :func:`lstm_forward`::\n\n    c_t = f * c_prev\n\n>>> 1 + 1\n2\n\nAfter.")
    assert md == ("Gates, see `lstm_forward`:\n\n    c_t = f * c_prev\n\n"
                  "```pycon\n>>> 1 + 1\n2\n```\n\nAfter.")


# ---- the floor plan -----------------------------------------------------------------------------

def _plan_rows():
    """``{package: (floor number, floor name, may-import text)}`` from docs/architecture.md."""
    rows = {}
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        m = re.match(r"\|\s*(\d+) (\w+)\s*\|\s*`(\w+)`\s*\|[^|]*\|\s*([^|]*?)\s*\|$", line)
        if m:
            rows[m.group(3)] = (int(m.group(1)), m.group(2), m.group(4))
    return rows


def test_the_floor_plan_in_the_docs_is_the_one_the_import_test_enforces():
    rows = _plan_rows()
    expected = {pkg for _, pkgs in FLOORS for pkg in pkgs}
    assert set(rows) == expected, ("docs/architecture.md lists other packages than FLOORS: "
                                   f"missing {sorted(expected - set(rows))}, "
                                   f"extra {sorted(set(rows) - expected)}")
    for number, (name, pkgs) in enumerate(FLOORS, start=1):
        for pkg in pkgs:
            may = "floor 1" if number == 1 else f"floors 1–{number}"
            assert rows[pkg] == (number, name, may), pkg
