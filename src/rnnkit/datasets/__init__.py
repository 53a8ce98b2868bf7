"""Synthetic and small data sets for experiments: ``adding_problem``."""

from .adding import adding_problem

__all__ = ["adding_problem"]
