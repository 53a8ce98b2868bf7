"""Old module paths that still import: ``import rnnkit.ngram`` gives ``rnnkit.baselines.ngram``.

When the top floor was grouped into packages (``rnnkit.cli``, ``rnnkit.bench``,
``rnnkit.baselines``) and the callbacks became a package, the modules users import kept their
old names as aliases. A finder on ``sys.meta_path`` answers for exactly the names in
``MOVED``: it imports the new module and registers it under the old name too, so both names are
one module object (no copy, no second import).
"""

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    "rnnkit.ngram": "rnnkit.baselines.ngram",
    "rnnkit.bow": "rnnkit.baselines.bow",
    "rnnkit.textlm": "rnnkit.cli.textlm",
    "rnnkit.demo": "rnnkit.cli.demo",
    "rnnkit.io.errors": "rnnkit.errors",
    "rnnkit.training.backup": "rnnkit.training.callbacks.backup",
    "rnnkit.training.compiled": "rnnkit.training.compile",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        """The target module ran when it was imported; nothing more to run."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def install():
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
