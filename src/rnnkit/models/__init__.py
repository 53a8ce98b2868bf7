"""Models: ``Sequential`` (a stack of layers) and ``Model`` (a functional graph), and summaries."""

from .functional import Model
from .sequential import Sequential
from .summary import print_summary

__all__ = ["Model", "Sequential", "print_summary"]
