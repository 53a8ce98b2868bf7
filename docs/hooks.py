"""MkDocs build helpers for rnnkit's site (named under ``hooks:`` and ``extensions:`` in
mkdocs.yml; not part of the package).

1. ``::: rnnkit.pkg.*`` on a line of its own (a pattern: ``*`` matches within one part of a
   dotted name, ``**`` across parts) expands into one ``::: module`` block per module of rnnkit
   it matches that no other page names: pages list whole packages, so a module added later shows
   up without editing the docs, and a pattern that matches nothing (a name not written yet) is
   simply empty. A module named exactly (``::: rnnkit.layers.lstm``) stays on that page; among
   patterns the most specific (the most characters besides ``*``) claims a module first.
2. Every public module of rnnkit (no part starting with ``_``) must land on some page; one that
   does not is a warning, which ``mkdocs build --strict`` turns into a failed build.
3. ``<!-- rnnkit --help -->`` on a line of its own becomes the ``--help`` text of the
   ``rnnkit`` command and of each subcommand, from the parser itself (so the CLI page cannot
   drift from the code).
4. ``PlainTextDocstrings`` (a griffe extension) reads the docstrings, written to read well as
   plain text in ``help()``, as Markdown: reST roles (``:class:`Loss```, ``:func:`f```) become
   code, a doctest block (``>>>`` lines and their output, up to a blank line) becomes a fenced
   ``pycon`` block, and the ``::`` that opens an indented literal block becomes ``:`` (the
   indented block is already code in Markdown).
"""

import logging
import os
import re
from pathlib import Path

import griffe

log = logging.getLogger("mkdocs.plugins.rnnkit")

SRC = Path(__file__).resolve().parents[1] / "src"
DIRECTIVE = re.compile(r"^:::\s+(rnnkit[\w.*]*)\s*$", re.M)
_plan = {}          # page path -> {pattern: [modules]}


def rnnkit_modules():
    """Dotted names of rnnkit's public modules, from the source tree (nothing is imported)."""
    found = []
    for path in sorted((SRC / "rnnkit").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        found.append(".".join(parts))
    return found


def _regex(pattern):
    """``rnnkit.layers.*cell*`` -> a regex; ``*`` stays within a dotted part, ``**`` crosses."""
    parts = re.split(r"(\*\*|\*)", pattern)
    return re.compile("".join({"**": ".*", "*": "[^.]*"}.get(p, re.escape(p)) for p in parts)
                      + "$")


def plan_pages(texts, modules):
    """``(plan, unplaced)``: for each page, ``{pattern: [modules]}`` its patterns expand into,
    and the modules on no page. ``texts`` is ``{page: markdown}`` in navigation order."""
    claimed = {m for t in texts.values() for m in DIRECTIVE.findall(t) if "*" not in m}
    patterns = [(uri, p) for uri, text in texts.items() for p in DIRECTIVE.findall(text)
                if "*" in p]
    plan = {}
    for uri, pattern in sorted(patterns, key=lambda up: -len(up[1].replace("*", ""))):
        hits = [m for m in modules if _regex(pattern).match(m) and m not in claimed]
        claimed.update(hits)
        plan.setdefault(uri, {})[pattern] = hits
    return plan, [m for m in modules if m not in claimed]


def on_nav(nav, config, files):
    """Decide, once per build, which page documents which module."""
    pages = [p.file for p in nav.pages] + [f for f in files.documentation_pages()
                                          if f not in [p.file for p in nav.pages]]
    texts = {f.src_uri: Path(f.abs_src_path).read_text(encoding="utf-8") for f in pages}
    plan, unplaced = plan_pages(texts, rnnkit_modules())
    _plan.clear()
    _plan.update(plan)
    for module in unplaced:
        log.warning("rnnkit module %s is on no page of the docs: add `::: %s` (or a "
                    "pattern that matches it) to a page under docs/api/", module, module)
    return nav


HELP = "<!-- rnnkit --help -->"


def command_help(width=100):
    """Markdown: ``rnnkit --help`` and ``rnnkit SUBCOMMAND --help``, each in a code block."""
    import argparse
    import os

    from rnnkit.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)                 # argparse wraps to the terminal width
    try:
        parser = build_parser()
        parts = [("rnnkit --help", parser.format_help())]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    parts.append((f"rnnkit {name} --help", sub.format_help()))
        from rnnkit.cli.examples import _gallery_parser      # options after the word gallery
        parts.append(("rnnkit examples gallery --help", _gallery_parser().format_help()))
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return "\n\n".join(f"### `{title}`\n\n```text\n{text.rstrip()}\n```" for title, text in parts)


README_LINK = re.compile(r"\]\(docs/([^)]+)\)")


def on_page_read_source(page, config):
    """The home page is the README, its links into docs/ made relative to the site."""
    if page.file.src_uri != "index.md":
        return None
    readme = os.path.join(os.path.dirname(config["config_file_path"]), "README.md")
    with open(readme, encoding="utf-8") as f:
        return README_LINK.sub(r"](\1)", f.read())


def on_page_markdown(markdown, page, config, files):
    if HELP in markdown:
        markdown = markdown.replace(HELP, command_help())
    plan = _plan.get(page.file.src_uri, {})

    def expand(match):
        name = match.group(1)
        if "*" not in name:
            return match.group(0)
        return "\n\n".join(f"::: {m}" for m in plan.get(name, []))

    return DIRECTIVE.sub(expand, markdown)


ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`~?([^`]+)`")
LITERAL = re.compile(r"(\S)::\n(?=\n+( {4}|\t))")


def markdown_docstring(text):
    """The docstring ``text`` as Markdown (see the module docstring, point 4)."""
    text = LITERAL.sub(r"\1:\n", ROLE.sub(r"`\1`", text))
    out, in_doctest = [], False
    for line in text.splitlines():
        if not in_doctest and line.startswith(">>>"):        # only unindented blocks: an
            out.append("```pycon")                           # indented one is code already
            in_doctest = True
        elif in_doctest and not line.strip():
            out.append("```")
            in_doctest = False
        out.append(line)
    if in_doctest:
        out.append("```")
    return "\n".join(out)


class PlainTextDocstrings(griffe.Extension):
    """Every docstring griffe reads, as Markdown (:func:`markdown_docstring`)."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)
