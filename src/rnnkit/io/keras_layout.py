"""Where Keras 3 keeps each layer's weights in ``model.weights.h5`` (no h5py needed here).

Keras 3 (3.15, found by saving models and reading the files back) writes one HDF5 group per
layer of ``model.layers`` and one ``vars`` group per object that owns variables, datasets named
``0, 1, ...`` in the layer's ``get_weights`` order::

    layers/dense/vars/0                          Dense kernel (I, U);   .../vars/1  bias (U,)
    layers/embedding/vars/0                      Embedding embeddings (V, D)
    layers/lstm/cell/vars/0..2                   SimpleRNN / LSTM / GRU: kernel, recurrent_kernel,
                                                 bias (layers/lstm/vars exists, empty)
    layers/bidirectional/forward_layer/cell/vars/0..2    and  .../backward_layer/cell/vars/0..2
    layers/time_distributed/layer/vars/0..1      TimeDistributed(Dense)
    layers/rnn/cell/vars/0..2                    RNN(LSTMCell(n)) (any of the three cells)
    layers/rnn/cell/cells/gru_cell/vars/0..2     RNN([GRUCell(n), ...]): one group per cell,
                                                 named by class and position (gru_cell_1, ...)
    layers/dropout/vars                          weightless layers: an empty group
    vars                                         the model itself (empty)

The group under ``layers/`` is *not* the layer's name: it is the snake-cased class name, made
unique by position among the layers of that class (``lstm``, ``lstm_1``, ``lstm_2`` for the
first, second and third LSTM; the names the user gave are only an attribute of ``vars``). Keras
matches a file to a model this way, so rnnkit does too: weights are found by class and order,
never by layer name, and a file from ``keras.Sequential([LSTM(8), Dense(2)])`` fits
``rnnkit.Sequential([LSTM(8), Dense(2)])`` whatever the layers are called. A Sequential's
``layers`` leave out the InputLayer; a functional model's include it (``layers/input_layer``,
empty), in both libraries.

rnnkit's weight layouts are Keras's (see DESIGN.md), so arrays are copied as they are: no
transposes or gate reordering.

>>> import rnnkit
>>> from rnnkit.layers import Input, LSTM, Dense
>>> model = rnnkit.Sequential([Input((5, 3)), LSTM(4), Dense(2)])
>>> for g in layout(model):
...     print(g.path, [w.name for w in g.weights])
layers/lstm/vars []
layers/lstm/cell/vars ['kernel', 'recurrent_kernel', 'bias']
layers/dense/vars ['kernel', 'bias']
"""

import re
from typing import List, NamedTuple

from ..layers.batch_normalization import BatchNormalization
from ..layers.bidirectional import Bidirectional
from ..layers.conv1d import Conv1D
from ..layers.dense import Dense
from ..layers.embedding import Embedding
from ..layers.layer_normalization import LayerNormalization
from ..layers.gru import GRU
from ..layers.lstm import LSTM
from ..layers.recurrent import Recurrent
from ..layers.rnn import RNN
from ..layers.simple_rnn import SimpleRNN
from ..layers.stacked_cells import StackedRNNCells
from ..layers.time_distributed import TimeDistributed

# the layer kinds whose variables rnnkit knows how to place; weightless layers of any kind are
# allowed too (they get an empty group, as Keras writes)
_CELLS = {SimpleRNN: "simple_rnn_cell", LSTM: "lstm_cell", GRU: "gru_cell"}
_PLAIN = (Dense, Embedding, BatchNormalization, Conv1D, LayerNormalization)


class VarGroup(NamedTuple):
    """One ``.../vars`` group: its path, who owns it, and the rnnkit weights stored in it."""
    path: str             # "layers/lstm/cell/vars"
    owner: str            # for messages: "layer 1 'lstm_7' (LSTM)"
    name: str             # the "name" attribute Keras writes on the group
    weights: List         # rnnkit Weight objects, in Keras variable order (may be empty)
    top: str              # the top-level group it belongs to: "layers/lstm"


def to_snake_case(name):
    """Keras's ``naming.to_snake_case``: ``"SimpleRNN"`` -> ``"simple_rnn"``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_names(class_names):
    """Keras's group names for layers of these classes, in order: ``lstm, dense, lstm_1``."""
    used, out = {}, []
    for cls in class_names:
        base = to_snake_case(cls)
        if base in used:
            used[base] += 1
            out.append(f"{base}_{used[base]}")
        else:
            used[base] = 0
            out.append(base)
    return out


def _describe(index, layer):
    return f"layer {index} {layer.name!r} ({type(layer).__name__})"


def _entries(layer, prefix, owner):
    """The ``VarGroup`` list of one layer whose group is ``prefix``."""
    if isinstance(layer, Bidirectional):
        return ([VarGroup(prefix + "/vars", owner, layer.name, [], "")]
                + _entries(layer.forward_layer, prefix + "/forward_layer",
                           f"{owner}, forward layer")
                + _entries(layer.backward_layer, prefix + "/backward_layer",
                           f"{owner}, backward layer"))
    if isinstance(layer, TimeDistributed):
        return ([VarGroup(prefix + "/vars", owner, layer.name, [], "")]
                + _entries(layer.layer, prefix + "/layer", f"{owner}, wrapped layer"))
    for cls, cell_name in _CELLS.items():       # before RNN: these are RNN layers too
        if isinstance(layer, cls):
            return [VarGroup(prefix + "/vars", owner, layer.name, [], ""),
                    VarGroup(prefix + "/cell/vars", owner, cell_name, list(layer.weights), "")]
    if isinstance(layer, RNN) and not isinstance(layer, Recurrent):   # RNN(cell)
        return ([VarGroup(prefix + "/vars", owner, layer.name, [], "")]
                + _cell_entries(layer.cell, prefix + "/cell", owner))
    if isinstance(layer, _PLAIN) or not layer.weights:
        return [VarGroup(prefix + "/vars", owner, layer.name, list(layer.weights), "")]
    raise ValueError(f"{owner}: no Keras weight layout is known for {type(layer).__name__}; "
                     f"Keras interop covers {', '.join(c.__name__ for c in _PLAIN)}, SimpleRNN, "
                     f"LSTM, GRU, RNN(cell), Bidirectional, TimeDistributed and weightless "
                     f"layers")


def _cell_entries(cell, prefix, owner):
    """The groups of ``RNN(cell)``'s cell: ``.../cell/vars``, and for a stack of cells
    ``.../cell/vars`` (empty) then ``.../cell/cells/<lstm_cell, gru_cell, lstm_cell_1>/vars``
    (named by class and position, as Keras 3.15 writes them)."""
    if isinstance(cell, StackedRNNCells):
        out = [VarGroup(prefix + "/vars", owner, cell.name, [], "")]
        for c, name in zip(cell.cells, unique_names(type(c).__name__ for c in cell.cells)):
            out += _cell_entries(c, f"{prefix}/cells/{name}", f"{owner}, cell {name}")
        return out
    return [VarGroup(prefix + "/vars", owner, cell.name, list(cell.weights), "")]


def model_layers(model):
    """The layers Keras lists (and saves) for ``model``: ``model.layers`` of a built model."""
    layers = getattr(model, "layers", None)
    if layers is None:
        raise ValueError(f"Keras interop: expected an rnnkit Sequential or functional Model, "
                         f"got {type(model).__name__}")
    if not getattr(model, "built", True):
        raise ValueError(f"{model.name}: the model is not built; build it first (give it an "
                         f"Input or call it on data), as Keras's load_weights requires")
    for i, layer in enumerate(layers):
        if hasattr(layer, "layers"):
            raise ValueError(f"{_describe(i, layer)}: a model nested in a model is not "
                             f"supported by Keras interop; flatten it into one model")
    return list(layers)


def layout(model):
    """Every ``vars`` group of ``model`` in the Keras file, in layer order (``VarGroup`` list).

    Raises ValueError for an unbuilt model or a layer with weights of a kind Keras interop does
    not cover (Attention with a scale, say), naming the layer.
    """
    layers = model_layers(model)
    groups = []
    for i, (layer, name) in enumerate(zip(layers, unique_names(type(l).__name__
                                                                   for l in layers))):
        top = f"layers/{name}"
        groups += [g._replace(top=top) for g in _entries(layer, top, _describe(i, layer))]
    return groups
