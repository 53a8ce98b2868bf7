"""The built-in text corpus: the Python standard library's own source code.

It is on every machine that runs rnnkit, so examples and the demo never download anything.
Files are read in sorted order of their path inside the stdlib folder; test folders,
``site-packages``/``dist-packages`` and files that are not valid UTF-8 are skipped. The result
depends only on the Python version (and its build), not on the machine.

    >>> from rnnkit.data import stdlib_corpus
    >>> text = stdlib_corpus(max_bytes=2000)
    >>> len(text.encode()) <= 2000
    True
"""

import os
import sysconfig

# Folders never read: test suites (with their deliberately odd files), third-party packages,
# caches.
_SKIP_DIRS = frozenset({"test", "tests", "idle_test", "site-packages", "dist-packages",
                        "__pycache__"})


def stdlib_dir():
    """The folder of the running Python's standard library."""
    return sysconfig.get_paths()["stdlib"]


def stdlib_files(root=None):
    """Sorted relative paths (with "/") of the ``.py`` files the corpus reads."""
    root = root or stdlib_dir()
    if not os.path.isdir(root):
        raise OSError(f"stdlib_corpus: the standard library folder {root!r} does not exist")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            if name.endswith(".py"):
                path = name if rel == "." else os.path.join(rel, name)
                found.append(path.replace(os.sep, "/"))
    return sorted(found)


def stdlib_corpus(max_bytes=None):
    """The stdlib's ``.py`` sources concatenated in sorted path order, as one str.

    Args:
        max_bytes: stop once this many UTF-8 bytes are gathered (files are read only as far as
            needed); the text is cut at a character boundary at or below ``max_bytes``.
            None reads everything (about 12 MB for CPython 3.11).
    """
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int)
                                  or max_bytes < 1):
        raise ValueError(f"stdlib_corpus: max_bytes must be a positive int or None, "
                         f"got {max_bytes!r}")
    root = stdlib_dir()
    parts, total = [], 0
    for rel in stdlib_files(root):
        try:
            with open(os.path.join(root, rel), "rb") as f:
                data = f.read()
            data.decode("utf-8")                 # skip files that are not valid UTF-8
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(data)
        total += len(data)
        if max_bytes is not None and total >= max_bytes:
            break
    blob = b"".join(parts)
    if max_bytes is not None:
        blob = blob[:max_bytes]
    return blob.decode("utf-8", errors="ignore")   # "ignore" only drops a cut last character
