"""rnnkit: recurrent neural networks on the CPU, Keras-shaped and exact to PyTorch."""

from . import activations, config, initializers, random  # noqa: F401

__version__ = "0.1.0"
