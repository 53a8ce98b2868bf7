"""The ``rnnkit examples`` subcommand: list the worked examples and run one.

    rnnkit examples [--dir DIR] [list]        name, what it shows, its last result
    rnnkit examples [--dir DIR] run NAME [ARGS...]   python examples/NAME.py ARGS... (--quick)
    rnnkit examples [--dir DIR] gallery [--no-run] [--only KEY,...] [--readme FILE]
                                              every full run, then the README's gallery tables

The examples are scripts in the source checkout's ``examples/`` folder (they are not part of the
installed package): ``--dir`` or ``$RNNKIT_EXAMPLES`` names another folder. A script's summary
is the first line of its module docstring, read with :mod:`ast` (nothing is imported or run to
list them); its last result is ``runs/NAME/metrics.json`` when a run wrote one (see
``examples/_common.py``). ``run`` starts the script with this Python in a child process and
returns its exit status; arguments after NAME pass through unchanged. ``gallery`` runs the
full run of every row of the README's results tables into ``runs/gallery/`` and rewrites the
tables from their ``metrics.json`` (:mod:`rnnkit.cli.gallery`).
"""

import argparse
import ast
import json
import os
import subprocess
import sys
from pathlib import Path


def examples_dir(given=None):
    """The examples folder: ``given``, ``$RNNKIT_EXAMPLES``, or the checkout's ``examples/``."""
    candidates = [given, os.environ.get("RNNKIT_EXAMPLES"),
                  Path(__file__).resolve().parents[3] / "examples"]
    for c in candidates:
        if c:
            path = Path(c)
            if not path.is_dir():
                if c is not candidates[-1]:
                    raise OSError(f"{path} is not a folder")
                continue
            return path
    raise OSError("no examples/ folder here (the examples ship with the source "
                  "checkout, not the installed package); pass --dir DIR or set RNNKIT_EXAMPLES")


def find_examples(folder):
    """``{name: path}`` of the runnable scripts in ``folder`` (``*.py`` not starting with ``_``)."""
    return {p.stem: p for p in sorted(Path(folder).glob("*.py")) if not p.name.startswith("_")}


def summary_line(path):
    """The first line of the script's module docstring ("" when it has none or does not parse)."""
    try:
        doc = ast.get_docstring(ast.parse(Path(path).read_text(encoding="utf-8")))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return ""
    return doc.strip().splitlines()[0].strip() if doc else ""


def last_result(runs, name):
    """"accuracy 0.93 (baseline 0.80)" from ``runs/name/metrics.json``, or "" when absent/bad."""
    try:
        m = json.loads((Path(runs) / name / "metrics.json").read_text(encoding="utf-8"))
        return f"{m['metric']} {m['rnn']:.4g} (baseline {m['baseline']:.4g})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def list_examples(folder, runs, print_fn=print):
    found = find_examples(folder)
    if not found:
        raise OSError(f"no example scripts in {folder}")
    width = max(map(len, found))
    print_fn(f"{len(found)} examples in {folder} (run one: rnnkit examples run NAME [--quick])")
    for name, path in found.items():
        result = last_result(runs, name)
        print_fn(f"  {name:<{width}}  {summary_line(path)}"
                 + (f"\n  {'':<{width}}  last run: {result}" if result else ""))
    return 0


def run_example(folder, name, argv):
    found = find_examples(folder)
    if name not in found:
        raise ValueError(f"no example {name!r}; choose one of {', '.join(found)}")
    return subprocess.call([sys.executable, str(found[name]), *argv])


def _add_examples(subparsers):
    p = subparsers.add_parser(
        "examples", help="list the worked examples, or run one",
        description="List the worked examples (one per application: text, sentiment, "
                    "translation, music, speech, time series, DNA, activity, captioning, and "
                    "the gradient demonstrations) with their last result, or run one: "
                    "`rnnkit examples run NAME --quick` is a seconds-long smoke run.")
    p.add_argument("action", nargs="?", choices=("list", "run", "gallery"), default="list")
    p.add_argument("name", nargs="?", help="the example to run (with `run`)")
    p.add_argument("args", nargs=argparse.REMAINDER,
                   help="everything after NAME goes to the example unchanged (e.g. --quick)")
    p.add_argument("--dir", default=None, metavar="DIR",
                   help="the examples folder (default: $RNNKIT_EXAMPLES or the checkout's)")
    p.add_argument("--runs", default=None, metavar="DIR",
                   help="where the examples wrote their results (default: runs; for gallery: "
                        "runs/gallery)")
    p.set_defaults(run=_run_examples)


def _gallery_parser():
    """``rnnkit examples gallery``'s own options (they come after the word ``gallery``)."""
    p = argparse.ArgumentParser(
        prog="rnnkit examples gallery",
        description="Run the full run of every row of the README's results tables into "
                    "runs/gallery/KEY (about half an hour) and rewrite the tables from their "
                    "metrics.json.")
    p.add_argument("--no-run", action="store_true",
                   help="only rewrite the tables from the metrics.json already there")
    p.add_argument("--only", default=None, metavar="KEY,...",
                   help="run only these rows (the tables are still rewritten whole)")
    p.add_argument("--readme", default=None, metavar="FILE",
                   help="the README to rewrite (default: the checkout's README.md)")
    p.add_argument("--runs", default=None, metavar="DIR",
                   help="where the runs go and are read from (default: runs/gallery)")
    return p


def _run_gallery(folder, args):
    from . import gallery

    opts = _gallery_parser().parse_args(([args.name] if args.name else []) + args.args)
    runs = Path(opts.runs or args.runs or Path("runs") / "gallery")
    readme = Path(opts.readme) if opts.readme else folder.parent / "README.md"
    rows = gallery.all_rows()
    if opts.only:
        keys = opts.only.split(",")
        unknown = sorted(set(keys) - {row.key for row in rows})
        if unknown:
            raise ValueError(f"gallery: no row {', '.join(unknown)}; the rows are "
                             f"{', '.join(row.key for row in rows)}")
        rows = [row for row in rows if row.key in keys]
    failed = [] if opts.no_run else gallery.run_all(folder, runs, rows, run_example)
    if failed:
        raise OSError(f"gallery: these runs failed, the README is unchanged: {', '.join(failed)}")
    gallery.rewrite_readme(readme, runs)
    print(f"rewrote the gallery tables of {readme} from {runs}")
    return 0


def _run_examples(args):
    folder = examples_dir(args.dir)
    if args.action == "gallery":
        return _run_gallery(folder, args)
    if args.action == "list":
        if args.name:
            raise ValueError("`list` takes no name (did you mean `run NAME`?)")
        return list_examples(folder, args.runs or "runs")
    if not args.name:
        raise ValueError(f"run: which one? choose one of "
                         f"{', '.join(find_examples(folder))}")
    return run_example(folder, args.name, args.args)


COMMANDS = [_add_examples]
