"""Opening a file that rnnkit reads: a regular file only, never a FIFO, a device or a folder.

``open("fifo", "rb")`` blocks until a writer appears, and ``read()`` of ``/dev/zero`` never
ends: a loader given such a path would hang forever. :func:`open_regular` opens without
blocking (``O_NONBLOCK``), then refuses anything that ``fstat`` does not call a regular file,
and the size it reports is that of the very file opened (no race with a rename). Every loader
(models, weights, vocabularies, checkpoints, training text) opens its files through it.

>>> import os, tempfile
>>> d = tempfile.mkdtemp(); os.mkfifo(os.path.join(d, "pipe"))
>>> open_regular(os.path.join(d, "pipe"), "model file")
Traceback (most recent call last):
    ...
rnnkit.errors.FileFormatError: .../pipe: not a regular file (a FIFO), expected a model file
"""

import os
import stat

from .errors import FileFormatError

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR,
          "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def open_regular(path, what="file", max_bytes=None):
    """``path`` opened for binary reading, a regular file of at most ``max_bytes``.

    Raises FileFormatError (a ValueError) naming the path for a directory, a FIFO, a device, a
    socket, or a file larger than ``max_bytes``; FileNotFoundError for a missing one (as
    ``open``: callers word it their way).
    """
    path = os.fspath(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a file")
            if kind == "a directory":
                raise FileFormatError(f"{path}: is a directory, expected a {what}")
            raise FileFormatError(f"{path}: not a regular file ({kind}), expected a {what}")
        if max_bytes is not None and st.st_size > max_bytes:
            raise FileFormatError(f"{path}: {st.st_size} bytes, more than the {max_bytes} bytes "
                                  f"a {what} may have")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_size(f):
    """The size in bytes of an open file (of the file opened, not of whatever the path names now)."""
    return os.fstat(f.fileno()).st_size
