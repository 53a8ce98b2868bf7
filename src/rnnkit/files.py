"""Reading and writing rnnkit's files safely.

Reading: a regular file only, never a FIFO, a device or a folder.

``open("fifo", "rb")`` blocks until a writer appears, and ``read()`` of ``/dev/zero`` never
ends: a loader given such a path would hang forever. :func:`open_regular` opens without
blocking (``O_NONBLOCK``), then refuses anything that ``fstat`` does not call a regular file,
and the size it reports is that of the very file opened (no race with a rename). Every loader
(models, weights, vocabularies, checkpoints, training text) opens its files through it.

Writing: :func:`atomic_write` (every model, checkpoint, vocabulary and run state) writes a
temporary file beside the target, fsyncs it and renames it over the target, so that a kill or a
full disk leaves the old file or the new one, never a half-written one. The temporary file is
named ``.<target>.tmp-<pid>-<random>``: a later save of the same target removes those left by
processes that no longer run (a SIGKILL mid-save). The new file keeps the old one's permission
bits, or gets the umask's for a new file; a symbolic link is written through (its target
changes, the link stays).

>>> import os, tempfile
>>> d = tempfile.mkdtemp(); os.mkfifo(os.path.join(d, "pipe"))
>>> open_regular(os.path.join(d, "pipe"), "model file")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
rnnkit.errors.FileFormatError: .../pipe: not a regular file (a FIFO), expected a model file
"""

import os
import stat
import tempfile

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


def _umask():
    """The process umask, read without changing it where /proc allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)      # elsewhere: read by setting (briefly) and restoring
    os.umask(mask)
    return mask


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True             # someone else's process: leave its file alone
    return True


def _tmp_prefix(name):
    return f".{name[:100]}.tmp-"


def _remove_stale_tmps(folder, name):
    """Remove the temporary files of earlier saves of ``name`` whose process is gone."""
    prefix = _tmp_prefix(name)
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        pid = entry[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            try:
                os.unlink(os.path.join(folder, entry))
            except OSError:
                pass


def atomic_write(path, chunks):
    """Write the byte strings ``chunks`` to ``path`` atomically (temp file, fsync, rename);
    see the module docstring for the temporary files, permissions and symbolic links."""
    path = os.path.realpath(os.fspath(path))           # through a symlink, to its target
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory; give the path of a file to write")
    folder, name = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    _remove_stale_tmps(folder, name)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)     # keep the old file's permissions
    except OSError:
        mode = 0o666 & ~_umask()                       # a new file: as open() would
    fd, tmp = tempfile.mkstemp(prefix=f"{_tmp_prefix(name)}{os.getpid()}-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
