"""PyTorch interop: rnnkit SimpleRNN / LSTM / GRU (stacks, Bidirectional) <-> nn.RNN / LSTM / GRU.

Every weight rule (transposes, summed LSTM/RNN biases, GRU gates r,z,n <-> z,r,h) lives in
:mod:`rnnkit.io.torch_layout`; this module maps whole modules onto lists of layers and back.

* A torch module with ``num_layers = L`` becomes a list of ``L`` stacked rnnkit layers (every
  layer but the last returns sequences); ``bidirectional=True`` wraps each one in
  ``Bidirectional(..., merge_mode="concat")``, which is what torch's per-layer output is.
* State-dict names are torch's: ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
  ``bias_hh_l{k}``, with ``_reverse`` appended for the backward direction.
* rnnkit layers are batch-first (B, T, I). A module with ``batch_first=False`` converts just as
  well (weights do not depend on it): feed the rnnkit layers ``x.transpose(1, 0, 2)``.
  :func:`to_torch` always builds ``batch_first=True`` modules.
* torch's ``dropout`` between stacked layers acts only in training; it is ignored here (the
  converted layers are for inference or for training with rnnkit's own dropout options).

``import rnnkit`` never needs torch: torch is imported inside :func:`from_torch` and
:func:`to_torch` only; :func:`state_dict_from_layers` and :func:`load_state_dict_into_layers`
work on NumPy arrays (torch tensors are accepted too).

>>> import torch
>>> layers = from_torch(torch.nn.LSTM(3, 4, num_layers=2, batch_first=True))
>>> [type(l).__name__ for l in layers], to_torch(layers)
(['LSTM', 'LSTM'], LSTM(3, 4, num_layers=2, batch_first=True))
"""

import numpy as np

from ..layers.bidirectional import Bidirectional
from ..layers.gru import GRU
from ..layers.lstm import LSTM
from ..layers.simple_rnn import SimpleRNN
from . import torch_layout

# torch module "mode" -> (rnnkit class, activation)
_MODES = {
    "RNN_TANH": (SimpleRNN, "tanh"),
    "RNN_RELU": (SimpleRNN, "relu"),
    "LSTM": (LSTM, "tanh"),
    "GRU": (GRU, "tanh"),
}
_FROM_TORCH = {SimpleRNN: torch_layout.simple_rnn_from_torch, LSTM: torch_layout.lstm_from_torch,
               GRU: torch_layout.gru_from_torch}
_TO_TORCH = {SimpleRNN: torch_layout.simple_rnn_to_torch, LSTM: torch_layout.lstm_to_torch,
             GRU: torch_layout.gru_to_torch}
_DTYPES = ("float32", "float64")


def _as_numpy(value):
    """A NumPy array from an array or a torch tensor (torch is not imported for that)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _cell_kind(layer):
    for cls in (SimpleRNN, LSTM, GRU):
        if isinstance(layer, cls):
            return cls
    raise ValueError(f"to_torch: {getattr(layer, 'name', layer)!r} "
                     f"({type(layer).__name__}) is not a SimpleRNN, LSTM, GRU or Bidirectional "
                     f"of one; PyTorch's nn.RNN/LSTM/GRU cannot express it")


def _directions(layer):
    """[forward cell] or [forward cell, backward cell] of a layer in a stack."""
    if isinstance(layer, Bidirectional):
        return [layer.forward_layer, layer.backward_layer]
    return [layer]


# ---- state dicts (NumPy only) -------------------------------------------------------------------
def _as_layer_list(layers_or_layer):
    layers = list(layers_or_layer) if isinstance(layers_or_layer, (list, tuple)) \
        else [layers_or_layer]
    if not layers:
        raise ValueError("to_torch: expected at least one layer, got an empty list")
    return layers


def state_dict_from_layers(layers_or_layer):
    """torch-named weights ``{"weight_ih_l0": array, ...}`` of a built stack of rnnkit layers.

    The layers are checked as :func:`to_torch` checks them (one cell kind, torch-expressible
    options). Arrays are NumPy, in the layers' dtype; no torch needed.
    """
    layers = _as_layer_list(layers_or_layer)
    _check_stack(layers)
    state = {}
    for k, layer in enumerate(layers):
        for cell, suffix in zip(_directions(layer), ("", "_reverse")):
            w_ih, w_hh, b_ih, b_hh = _TO_TORCH[_cell_kind(cell)](*cell.get_weights())
            state[f"weight_ih_l{k}{suffix}"] = w_ih
            state[f"weight_hh_l{k}{suffix}"] = w_hh
            if b_ih is not None:
                state[f"bias_ih_l{k}{suffix}"] = b_ih
                state[f"bias_hh_l{k}{suffix}"] = b_hh
    return state


def load_state_dict_into_layers(state_dict, layers_or_layer):
    """Set a stack of rnnkit layers' weights from a torch-named state dict (arrays or tensors).

    Unbuilt layers are built from the state dict's shapes. Missing or unexpected keys, wrong
    shapes and arrays that are not floating point raise ``ValueError`` before any layer is
    changed (an unbuilt layer's shapes are checked on a scratch copy; it is built only once
    everything fits). Returns the layers (a list).
    """
    layers = _as_layer_list(layers_or_layer)
    state = {name: _as_numpy(v) for name, v in dict(state_dict).items()}
    for name, v in state.items():
        if v.dtype.kind != "f":
            raise ValueError(f"load_state_dict_into_layers: {name} must be a floating-point "
                             f"array, got dtype {v.dtype}")
    planned, used = [], set()
    for k, layer in enumerate(layers):
        probe = layer
        if not layer.built:                    # built for real only when everything fits
            probe = type(layer).from_config(layer.get_config())
        cells = _directions(probe)
        per_cell = []
        for cell, suffix in zip(cells, ("", "_reverse")):
            names = [f"weight_ih_l{k}{suffix}", f"weight_hh_l{k}{suffix}"]
            if cell.use_bias:
                names += [f"bias_ih_l{k}{suffix}", f"bias_hh_l{k}{suffix}"]
            missing = [n for n in names if n not in state]
            if missing:
                raise ValueError(f"load_state_dict_into_layers: {cell.name} needs "
                                 f"{', '.join(missing)}, missing from the state dict")
            used.update(names)
            per_cell.append(_FROM_TORCH[_cell_kind(cell)](*(state[n] for n in names)))
        input_shape = (None, None, np.shape(state[f"weight_ih_l{k}"])[-1])
        if not probe.built:
            probe._maybe_build(input_shape)
        for cell, ws in zip(cells, per_cell):
            own = [w.shape for w in cell.weights]
            got = [np.shape(w) for w in ws]
            if own != got:
                raise ValueError(f"load_state_dict_into_layers: {cell.name} has weight shapes "
                                 f"{own}, the state dict gives {got} (layer {k})")
        planned.append((layer, input_shape, [[w.astype(cell.kernel.value.dtype, copy=False)
                                              for w in ws] for cell, ws in zip(cells, per_cell)]))
    extra = sorted(set(state) - used)
    if extra:
        raise ValueError(f"load_state_dict_into_layers: unexpected keys {extra} for "
                         f"{len(layers)} layer(s)")
    for layer, input_shape, per_cell in planned:   # all checked: now assign
        layer._maybe_build(input_shape)
        for cell, ws in zip(_directions(layer), per_cell):
            cell.set_weights(ws)
    return layers


# ---- PyTorch -> rnnkit --------------------------------------------------------------------------
def from_torch(module, return_sequences=True, return_state=False):
    """An rnnkit layer (or list of stacked layers) computing what ``module`` computes.

    Args:
        module: ``torch.nn.RNN`` (tanh or relu), ``nn.LSTM`` or ``nn.GRU``, float32 or float64.
            ``batch_first`` may be either: the rnnkit layers are batch-first (B, T, I), so with
            ``batch_first=False`` transpose the input. ``dropout`` between layers is a
            training-time option and is ignored (outputs match the module in eval mode). LSTM
            ``proj_size > 0`` is refused (rnnkit's LSTM has no projection).
        return_sequences: for the last layer (every other layer returns sequences).
        return_state: for the last layer; its final states are ``h_n[-1]`` (and ``c_n[-1]``)
            of torch's, or for bidirectional ``[h_fwd, c_fwd, h_bwd, c_bwd]``.

    Returns:
        one layer when ``num_layers == 1``, else a list of ``num_layers`` layers; each is the
        cell layer, or ``Bidirectional(cell, merge_mode="concat")`` for ``bidirectional=True``.
        LSTM/RNN biases are ``b_ih + b_hh``; GRU is ``reset_after=True`` with both biases kept.
    """
    mode = getattr(module, "mode", None)
    if mode not in _MODES:
        raise ValueError(f"from_torch: expected torch.nn.RNN, nn.LSTM or nn.GRU, "
                         f"got {type(module).__name__}")
    if getattr(module, "proj_size", 0) > 0:
        raise ValueError(f"from_torch: LSTM with proj_size={module.proj_size} is not supported "
                         f"(rnnkit's LSTM has no output projection)")
    cls, activation = _MODES[mode]
    dtype = str(module.weight_ih_l0.dtype).replace("torch.", "")
    if dtype not in _DTYPES:
        raise ValueError(f"from_torch: parameters of dtype {dtype} are not supported; "
                         f"expected float32 or float64")
    L, H = module.num_layers, module.hidden_size
    n_dirs = 2 if module.bidirectional else 1
    layers = []
    for k in range(L):
        last = k == L - 1
        kw = dict(activation=activation, use_bias=bool(module.bias), dtype=dtype,
                  return_sequences=True if not last else return_sequences,
                  return_state=return_state if last else False)
        if cls is GRU:
            kw["reset_after"] = True
        cell = cls(H, **kw)
        layer = Bidirectional(cell, merge_mode="concat", dtype=dtype) if n_dirs == 2 else cell
        layer._maybe_build((None, None, module.input_size if k == 0 else H * n_dirs))
        layers.append(layer)
    load_state_dict_into_layers(module.state_dict(), layers)
    return layers[0] if L == 1 else layers


# ---- rnnkit -> PyTorch --------------------------------------------------------------------------
def _check_cell(cell, where):
    kind = _cell_kind(cell)
    act = cell.activation.name
    allowed = ("tanh", "relu") if kind is SimpleRNN else ("tanh",)
    if act not in allowed:
        raise ValueError(f"to_torch: {where}{cell.name} has activation {act!r}; PyTorch's "
                         f"{_torch_name(kind)} supports only {' or '.join(allowed)}")
    if kind is not SimpleRNN and cell.recurrent_activation.name != "sigmoid":
        raise ValueError(f"to_torch: {where}{cell.name} has recurrent_activation "
                         f"{cell.recurrent_activation.name!r}; PyTorch's {_torch_name(kind)} "
                         f"supports only 'sigmoid'")
    zoned = {n: getattr(cell, n) for n in getattr(cell, "zoneout_args", ()) if getattr(cell, n)}
    if zoned:
        raise ValueError(f"to_torch: {where}{cell.name} has zoneout {zoned}; PyTorch's "
                         f"{_torch_name(kind)} has no zoneout")
    if kind is GRU and not cell.reset_after:
        raise ValueError(f"to_torch: {where}{cell.name} is a GRU with reset_after=False; "
                         f"PyTorch's nn.GRU is reset_after=True only")
    if not cell.built:
        raise ValueError(f"to_torch: {where}{cell.name} is not built; call it on an input or "
                         f"build() it first")
    return kind, act


def _torch_name(kind):
    return {SimpleRNN: "nn.RNN", LSTM: "nn.LSTM", GRU: "nn.GRU"}[kind]


def _check_stack(layers):
    """Validate a stack for torch; returns (kind, activation, units, bidirectional, use_bias,
    dtype, input_size)."""
    first = None
    for k, layer in enumerate(layers):
        where = f"layer {k} "
        if isinstance(layer, Bidirectional):
            if layer.merge_mode != "concat":
                raise ValueError(f"to_torch: {where}{layer.name} has merge_mode "
                                 f"{layer.merge_mode!r}; PyTorch's bidirectional output is "
                                 f"the concatenation (merge_mode='concat')")
            fwd, bwd = layer.forward_layer, layer.backward_layer
            if fwd.go_backwards or not bwd.go_backwards:
                raise ValueError(f"to_torch: {where}{layer.name} must run its forward layer "
                                 f"forwards and its backward layer with go_backwards=True")
        elif getattr(layer, "go_backwards", False):
            raise ValueError(f"to_torch: {where}{layer.name} has go_backwards=True alone; "
                             f"PyTorch has no backwards-only RNN (use Bidirectional)")
        cells = _directions(layer)
        infos = []
        for cell in cells:
            kind, act = _check_cell(cell, where)
            infos.append((kind, act, cell.units, bool(cell.use_bias),
                          str(cell.kernel.value.dtype), cell.kernel.shape[0]))
        if len(set(i[:5] for i in infos)) != 1:
            raise ValueError(f"to_torch: {where}{layer.name}: both directions must share cell "
                             f"kind, activation, units, use_bias and dtype, got {infos}")
        kind, act, units, bias, dtype, in_dim = infos[0]
        info = (kind, act, units, len(cells) == 2, bias, dtype)
        if first is None:
            first = info + (in_dim,)
            continue
        names = ("cell kind", "activation", "units", "bidirectional", "use_bias", "dtype")
        for name, a, b in zip(names, first, info):
            if a != b:
                raise ValueError(f"to_torch: every layer of a torch stack needs the same "
                                 f"{name}; layer 0 has {a!r}, {where}({layer.name}) has {b!r}")
        expected_in = units * (2 if first[3] else 1)
        if in_dim != expected_in:
            raise ValueError(f"to_torch: {where}{layer.name} takes {in_dim} features, expected "
                             f"{expected_in} (the previous layer's output)")
    return first


def to_torch(layers_or_layer):
    """The ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (``batch_first=True``) equal to rnnkit layers.

    Args:
        layers_or_layer: one built SimpleRNN / LSTM / GRU, a ``Bidirectional`` of one
            (merge_mode "concat"), or a list of them stacked (same cell, units, activation,
            use_bias and directions), which becomes ``num_layers = len(list)``.

    Refused with ``ValueError`` (PyTorch cannot express them): GRU ``reset_after=False``,
    activations other than tanh (tanh or relu for SimpleRNN), recurrent_activation other than
    sigmoid, layers that disagree on use_bias / units / cell, ``go_backwards=True`` outside a
    Bidirectional, merge modes other than concat. The return_sequences / return_state / dropout
    options do not travel: torch modules always return the sequence and the final states.
    """
    import torch

    layers = _as_layer_list(layers_or_layer)
    kind, act, units, bidirectional, bias, dtype, in_dim = _check_stack(layers)
    cls = {SimpleRNN: torch.nn.RNN, LSTM: torch.nn.LSTM, GRU: torch.nn.GRU}[kind]
    kw = dict(nonlinearity=act) if kind is SimpleRNN else {}
    module = cls(in_dim, units, num_layers=len(layers), bias=bias, batch_first=True,
                 bidirectional=bidirectional, **kw)
    module = module.to(getattr(torch, dtype))
    state = state_dict_from_layers(layers)
    module.load_state_dict({n: torch.from_numpy(np.ascontiguousarray(v))
                            for n, v in state.items()}, strict=True)
    return module
