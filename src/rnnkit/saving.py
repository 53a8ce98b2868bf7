"""``keras.saving`` under rnnkit's name: ``load_model`` and ``save_model``.

``save_model(model, path)`` is ``model.save(path)``; ``load_model(path)`` rebuilds the model
from the file's JSON architecture (never code) with its weights and compile state.
"""

from .io.saving import load_model

__all__ = ["load_model", "save_model"]


def save_model(model, filepath):
    """Save ``model`` to ``filepath``, as ``model.save(filepath)``."""
    model.save(filepath)
