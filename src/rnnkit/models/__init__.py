"""Models: ``Sequential`` (a stack of layers) and ``Model`` (a functional graph), summaries, and
``load_model`` (as ``keras.models.load_model``)."""

from ..io.saving import load_model
from .functional import Model
from .sequential import Sequential
from .summary import print_summary

__all__ = ["Model", "Sequential", "load_model", "print_summary"]
