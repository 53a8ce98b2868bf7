"""Losses, optimizers, metrics, callbacks and the fit loop."""

from . import callbacks, losses, metrics, optimizers  # noqa: F401
