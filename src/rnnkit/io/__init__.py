"""Saving and loading (safetensors, no pickle) and PyTorch interop (torch imported only when used)."""

from .errors import FileFormatError
from .saving import load_model, load_weights, save_model, save_weights
from .torch_interop import from_torch, load_state_dict_into_layers, state_dict_from_layers, to_torch

__all__ = ["FileFormatError", "from_torch", "load_model", "load_state_dict_into_layers",
           "load_weights", "save_model", "save_weights", "state_dict_from_layers", "to_torch"]
