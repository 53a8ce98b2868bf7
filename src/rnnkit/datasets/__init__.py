"""Data sets for experiments: the synthetic adding problem and readers for real data."""

from .adding import adding_problem
from .sentiment import load_sentiment_sentences

__all__ = ["adding_problem", "load_sentiment_sentences"]
