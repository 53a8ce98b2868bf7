"""Writing a benchmark table into its own section of a Markdown page (``docs/benchmarks.md``).

One page holds both tables of ``rnnkit bench``: the kernel view (one layer, one thread, CPU
time) and ``--procs`` (the public API, each competitor in its own process, several thread
counts), each between its own pair of markers::

    <!-- begin: rnnkit bench --procs -->
    ... generated: the run's conditions and its table ...
    <!-- end: rnnkit bench --procs -->

A run replaces only its own section, so the other table and the hand-written text around them
stay as they are (``make bench`` runs both). A page without that section gets it appended; a
missing page is created with a title and a short note on noise.
"""

import os

TITLE = "# rnnkit benchmarks"
INTRO = ("Written by `rnnkit bench` (`python benchmarks/bench_recurrent.py` runs the same). "
         "Measured on a shared, noisy machine: other jobs ran alongside, so single numbers can "
         "be off by tens of percent or more; the round-robin medians make the ratios steadier "
         "than the absolute times. Rerun `rnnkit bench` on your own machine before relying on "
         "them.")
MIN_SUFFIX = ", MinGRU and MinLSTM"           # --cells mingru,minlstm: their own sections
HEADINGS = {
    "rnnkit bench": "## One layer, single thread, CPU time (`rnnkit bench`, the kernel view)",
    "rnnkit bench --procs": "## The public API, each competitor in its own process "
                            "(`rnnkit bench --procs`)",
    "rnnkit bench" + MIN_SUFFIX: "## MinGRU and MinLSTM (`rnnkit bench --cells mingru,minlstm`)",
    "rnnkit bench --procs" + MIN_SUFFIX: "## MinGRU and MinLSTM through the public API "
                                                "(`rnnkit bench --procs --cells mingru,minlstm`)",
}


def fmt(v):
    """A table cell: 3 significant digits or so, ``-`` for no number."""
    if v is None:
        return "-"
    return f"{v:.1f}" if v >= 100 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def markers(kind):
    return f"<!-- begin: {kind} -->", f"<!-- end: {kind} -->"


def replace_section(text, kind, block):
    """``text`` with the section ``kind`` replaced by ``block`` (appended when absent)."""
    begin, end = markers(kind)
    section = f"{begin}\n{block.rstrip()}\n{end}"
    i, j = text.find(begin), text.find(end)
    if i >= 0 and j > i:
        return text[:i] + section + text[j + len(end):]
    return f"{text.rstrip()}\n\n{HEADINGS.get(kind, '## ' + kind)}\n\n{section}\n"


def write_section(path, kind, block):
    """Write ``block`` as section ``kind`` of the page at ``path`` (created if missing)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = f"{TITLE}\n\n{INTRO}\n"
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    text = replace_section(text, kind, block)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text


def write_tables(out, kind, block, table, min_rows):
    """Write the main table (section ``kind``) and the MinGRU / MinLSTM table (section ``kind``
    + :data:`MIN_SUFFIX`), each under the run's ``block`` of conditions, to the page ``out``
    when given (a table without rows is not written); returns the text of both."""
    if out and table:
        write_section(out, kind, "\n".join(block + [""] + table + [""]))
    if out and min_rows:
        write_section(out, kind + MIN_SUFFIX, "\n".join(block + [""] + min_rows + [""]))
    return "\n".join(block + [""] + table + ([""] if table and min_rows else []) + min_rows
                     + [""])
