"""Where the real data sets come from: installed packages, downloaded wheels, and a cache.

rnnkit ships no data and downloads nothing at run time. The loaders in ``rnnkit.datasets`` read
their source from one of three places:

* a path the caller passes (a folder, a file, or a wheel);
* an installed package (``music21``'s Bach chorales, ``statsmodels``' sunspots,
  ``scikit-learn``'s digits);
* a wheel fetched once with ``pip download`` and read as the zip file it is, never installed
  (``janggu`` for DNA, ``sktime`` for activity): ``data_home()/wheels``.

``data_home()`` is ``$RNNKIT_DATA`` when set, else ``~/.cache/rnnkit``. What is slow to parse is
cached under ``data_home()/cache`` as ``.npz`` files written atomically (plain arrays, loaded
with ``allow_pickle=False``).

When a source is missing the loader raises ``MissingDataError`` (a ``FileNotFoundError``) whose
message is one line saying exactly what to install or pass; the examples and the ``rnnkit``
command print it without a traceback.

    >>> from rnnkit.datasets.sources import data_home
    >>> data_home().name in ("rnnkit", "rnnkit-data") or True
    True
"""

import glob
import importlib
import os
import zipfile
from pathlib import Path

import numpy as np


class MissingDataError(FileNotFoundError):
    """A data set's source is not on this machine; the message says how to get it (one line)."""


def data_home():
    """The folder for downloaded wheels and parse caches: ``$RNNKIT_DATA`` or ``~/.cache/rnnkit``."""
    env = os.environ.get("RNNKIT_DATA")
    return Path(env) if env else Path.home() / ".cache" / "rnnkit"


def wheel_dir():
    """Where ``find_wheel`` looks: ``data_home()/wheels``."""
    return data_home() / "wheels"


def pip_download_hint(project, version):
    """The one command that puts ``project==version``'s wheel where ``find_wheel`` looks."""
    return f"pip download --no-deps {project}=={version} -d {wheel_dir()}"


def find_wheel(project, version, path=None, what="data"):
    """The path of ``project``'s wheel of ``version``: ``path`` itself, or the one in ``wheel_dir()``.

    ``path`` may be the wheel file or a folder holding it. Raises MissingDataError with the
    ``pip download`` command when there is none.
    """
    name = project.replace("-", "_")
    pattern = f"{name}-{version}-*.whl"
    folders = [Path(path)] if path is not None and Path(path).is_dir() else [wheel_dir()]
    if path is not None and not Path(path).is_dir():
        if Path(path).is_file():
            return Path(path)
        raise MissingDataError(f"{path}: no such file (expected the {project} {version} wheel "
                               f"that holds the {what})")
    for folder in folders:
        hits = sorted(glob.glob(str(folder / pattern)))
        if hits:
            return Path(hits[-1])
    raise MissingDataError(f"the {what} is read from the {project} {version} wheel, which is not "
                           f"in {folders[0]}: run `{pip_download_hint(project, version)}` "
                           "(nothing is installed) or pass its path")


def read_wheel_member(wheel, member):
    """The bytes of ``member`` (a path inside the archive) of the zip file ``wheel``.

    Raises MissingDataError when the archive lacks it and ValueError when the file is not a zip.
    """
    try:
        with zipfile.ZipFile(wheel) as z:
            try:
                return z.read(member)
            except KeyError:
                raise MissingDataError(f"{wheel}: no member {member!r} in this wheel") from None
    except zipfile.BadZipFile as e:
        raise ValueError(f"{wheel}: not a wheel (zip) file ({e})") from None


def require_package(module, extra, what="data", pip_name=None):
    """Import ``module`` or raise MissingDataError naming the rnnkit extra that installs it.

    ``pip_name`` is the project's name on PyPI when it differs from the module's
    (``scikit-learn`` for ``sklearn``).
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        package = pip_name or module
        raise MissingDataError(f"the {what} is read from the {package} package, which is not "
                               f"installed: pip install 'rnnkit[{extra}]' (or pip install "
                               f"{package})") from None


def cache_path(name):
    """``data_home()/cache/name`` (the folder is created)."""
    folder = data_home() / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def load_cached_arrays(name):
    """The arrays saved by ``save_cached_arrays(name, ...)`` as a dict, or None when absent/bad."""
    path = cache_path(name)
    if not path.is_file():
        return None
    try:
        f = np.load(path, allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):
            return None                      # a plain .npy where an .npz belongs
        with f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None                          # a damaged cache is rebuilt, never trusted


def save_cached_arrays(name, **arrays):
    """Write ``arrays`` to ``data_home()/cache/name`` atomically (temporary file, then rename)."""
    path = cache_path(name)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
