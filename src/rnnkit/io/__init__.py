"""Saving and loading (safetensors, no pickle), PyTorch interop and Keras 3 weights (torch and
h5py imported only when used)."""

from ..errors import FileFormatError
from .keras_h5 import load_keras_weights, save_keras_weights
from .saving import load_model, load_weights, save_model, save_weights
from .torch_interop import from_torch, load_state_dict_into_layers, state_dict_from_layers, to_torch

__all__ = ["FileFormatError", "from_torch", "load_keras_weights", "load_model",
           "load_state_dict_into_layers", "load_weights", "save_keras_weights", "save_model",
           "save_weights", "state_dict_from_layers", "to_torch"]
