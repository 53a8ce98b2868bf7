"""rnnkit: recurrent neural networks on the CPU, Keras-shaped and exact to PyTorch.

    >>> import rnnkit
    >>> from rnnkit import layers
    >>> model = rnnkit.Sequential([layers.Embedding(1000, 64), layers.LSTM(128), layers.Dense(10)])
    >>> model.build((None, None)); model.count_params()
    164106
"""

from . import _moved, activations, config, constraints, initializers, layers, random  # noqa: F401
from . import ops, regularizers  # noqa: F401
from .errors import FileFormatError
from .io.saving import load_model
from .layers import Input
from .models import Model, Sequential
from .training import callbacks, losses, metrics, optimizers  # noqa: F401
from . import data, preprocessing, saving, utils  # noqa: F401,E402 - keras.utils & co.

# Keras's import paths: `from rnnkit.callbacks import EarlyStopping` as `from keras.callbacks ...`
import sys as _sys  # noqa: E402

for _name in ("callbacks", "losses", "metrics", "optimizers"):
    _sys.modules[f"{__name__}.{_name}"] = globals()[_name]
del _sys, _name
_moved.install()            # old module paths (rnnkit.ngram, ...) keep importing

__version__ = "0.1.0"

__all__ = [
    "FileFormatError", "Input", "Model", "Sequential", "activations", "callbacks", "config",
    "constraints", "data", "initializers", "layers", "load_model", "losses", "metrics", "ops",
    "optimizers",
    "preprocessing", "random", "regularizers", "saving", "utils",
]
