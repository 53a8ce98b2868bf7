"""``get_file``: a file from the cache, or copied from a local path, as ``keras.utils.get_file``.

rnnkit never downloads at run time. ``get_file(fname, origin)`` returns the cached copy
``<cache_dir>/<cache_subdir>/<fname>`` when it is there (Keras's default cache is
``~/.keras``; ``$KERAS_HOME`` moves it, as in Keras), copies ``origin`` there when ``origin``
is a local path or a ``file://`` address, and otherwise stops with one line that says where to
put the file. ``file_hash`` (sha256 or md5, chosen by length as in Keras) is checked on the
copy, and ``extract=True`` unpacks a zip or tar archive next to it, refusing any member that
would land outside the target folder.
"""

import hashlib
import os
import shutil
import tarfile
import urllib.parse
import zipfile

__all__ = ["get_file"]


def _cache_root(cache_dir):
    if cache_dir is not None:
        return os.fspath(cache_dir)
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def _hash(path, algorithm):
    h = hashlib.sha256() if algorithm == "sha256" else hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _algorithm(file_hash, hash_algorithm):
    if hash_algorithm in ("sha256", "md5"):
        return hash_algorithm
    if hash_algorithm != "auto":
        raise ValueError(f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5', "
                         f"got {hash_algorithm!r}")
    return "sha256" if len(file_hash) == 64 else "md5"


def _local_source(origin):
    """The local path ``origin`` names (a path or a file:// address), or None for a URL."""
    if origin is None:
        return None
    parsed = urllib.parse.urlparse(str(origin))
    if parsed.scheme == "file":
        return urllib.parse.unquote(parsed.path)
    if parsed.scheme in ("", ) or (len(parsed.scheme) == 1 and os.name == "nt"):
        return os.fspath(origin)
    return None


def _extract(archive, into):
    root = os.path.realpath(into)

    def inside(name):
        target = os.path.realpath(os.path.join(root, name))
        if os.path.commonpath([root, target]) != root:
            raise ValueError(f"get_file: {archive}: member {name!r} would be written outside "
                             f"{into}; not extracting")

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                inside(name)
            z.extractall(root)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                inside(m.name)
                if m.issym() or m.islnk():
                    raise ValueError(f"get_file: {archive}: member {m.name!r} is a link; "
                                     "not extracting")
            t.extractall(root)
    else:
        raise ValueError(f"get_file: {archive} is neither a zip nor a tar archive")


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """The path of ``fname`` in the cache, copied there from a local ``origin`` if needed.

    Args follow Keras: ``fname`` (default: the last part of ``origin``), ``origin`` (a local
    path, a ``file://`` address, or a URL that must already be cached), ``file_hash`` /
    ``md5_hash`` checked on the cached file, ``cache_subdir`` under ``cache_dir`` (default
    ``$KERAS_HOME`` or ``~/.keras``), ``extract``/``untar`` unpack the archive and return the
    folder. ``archive_format`` is accepted for Keras's signature (the format is detected).

    Raises:
        FileNotFoundError: the file is not cached and ``origin`` is not a local file (one line
            naming where to put it; rnnkit does not download).
        ValueError: the hash does not match, or an archive member would escape the folder.
    """
    if fname is None:
        if origin is None:
            raise ValueError("get_file: give fname or origin")
        fname = os.path.basename(urllib.parse.urlparse(str(origin)).path)
        if not fname:
            raise ValueError(f"get_file: cannot take a file name from origin {origin!r}; "
                             "pass fname")
    fname = os.fspath(fname)
    folder = os.path.join(_cache_root(cache_dir), cache_subdir)
    path = fname if os.path.isabs(fname) else os.path.join(folder, fname)
    expected = file_hash or md5_hash
    source = _local_source(origin)
    if force_download or not os.path.exists(path):
        if source is None or not os.path.isfile(source):
            where = f"{origin!r} is not a local file" if origin is not None else "no origin"
            raise FileNotFoundError(f"get_file: {path} is not cached and {where}; rnnkit does "
                                    f"not download: put the file at {path}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.realpath(source) != os.path.realpath(path):
            shutil.copyfile(source, path)
    if expected:
        algorithm = _algorithm(expected, "md5" if md5_hash and not file_hash
                               else hash_algorithm)
        got = _hash(path, algorithm)
        if got != expected:
            raise ValueError(f"get_file: {path}: {algorithm} {got} does not match the expected "
                             f"{expected}")
    if extract or untar:
        into = path
        for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar", ".zip"):
            if into.endswith(suffix):
                into = into[:-len(suffix)]
                break
        else:
            into = path + "_extracted"
        os.makedirs(into, exist_ok=True)
        _extract(path, into)
        return into
    return path
