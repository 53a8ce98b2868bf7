"""The examples in the docs run: every ``>>>`` example in rnnkit's docstrings (the API pages
of the docs site show them), and the Python blocks of the README's "In code" section (the
site's home page), whose printed summary must be the one the README shows.

Docstring examples that need data from outside carry ``# doctest: +SKIP`` where they are
written; the two that need an optional package (torch, h5py) skip here, naming it, when it is
not installed (the ``test`` extra installs both).
"""

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# module -> the third-party package its examples import
NEEDS = {"rnnkit.io.torch_interop": "torch", "rnnkit.io.keras_h5": "h5py"}


def _modules_with_examples():
    found = []
    for path in sorted((SRC / "rnnkit").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__main__":                       # runs the command on import
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if re.search(r"^\s*>>> (?!#)", path.read_text(encoding="utf-8"), flags=re.M):
            found.append(".".join(parts))
    return found


MODULES = _modules_with_examples()


def test_the_docstrings_have_examples_to_run():
    assert len(MODULES) > 50 and "rnnkit.kernels.lstm" in MODULES


def run_examples(module):
    """``(found, failed, report)`` for the examples of ``module`` (a module object); ``found``
    counts the skipped ones too. Each docstring starts a fresh layer-name session, as a
    reader's Python would ("lstm", not "lstm_7")."""
    from rnnkit.layers import clear_session

    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report, found = [], 0
    for test in doctest.DocTestFinder().find(module, module.__name__):
        clear_session()
        found += len(test.examples)
        runner.run(test, out=report.append)
    return found, runner.summarize(verbose=False).failed, "".join(report)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name], reason=f"{name}'s examples use {NEEDS[name]}")
    monkeypatch.chdir(tmp_path)                            # anything an example writes
    found, failed, report = run_examples(importlib.import_module(name))
    assert found > 0, f"{name} has '>>>' in its source but doctest found no example"
    assert failed == 0, report


def test_a_wrong_example_is_caught():
    import types

    planted = types.ModuleType("planted")
    planted.__doc__ = ">>> from rnnkit import activations\n>>> float(activations.sigmoid(0.0))\n0.25\n"
    found, failed, report = run_examples(planted)
    assert (found, failed) == (2, 1) and "Expected:\n    0.25\nGot:\n    0.5" in report


def _readme_in_code():
    """The README's "In code" section: its ```python blocks, and the output block shown after
    the first one (the model summary)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## In code\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", section, flags=re.M | re.S)
    code = [body for lang, body in blocks if lang == "python"]
    shown = [body for lang, body in blocks if lang == ""]
    return code, shown[0]


def test_the_readme_in_code_blocks_run_and_print_what_the_readme_shows(tmp_path, monkeypatch,
                                                                         capsys):
    from rnnkit.layers import clear_session

    code, summary = _readme_in_code()
    assert len(code) >= 3                                  # more may come; all of them run
    monkeypatch.chdir(tmp_path)                            # model.save("model.rnnkit")
    clear_session()
    namespace = {"__name__": "readme"}
    exec(compile(code[0], "README.md (In code, block 1)", "exec"), namespace)
    printed = capsys.readouterr().out
    assert [ln.rstrip() for ln in printed.strip().splitlines()] == \
        [ln.rstrip() for ln in summary.strip().splitlines()]
    for i, block in enumerate(code[1:], start=2):
        exec(compile(block, f"README.md (In code, block {i})", "exec"), namespace)
    assert (tmp_path / "model.rnnkit").is_file()
    assert namespace["h_seq"].shape == (2, 5, 4) and namespace["dx"].shape == (2, 5, 3)
    assert len(namespace["history"].history["loss"]) == 3
    x = namespace["x"]
    assert (namespace["same"].predict(x, verbose=0) == namespace["model"].predict(x, verbose=0)).all()
