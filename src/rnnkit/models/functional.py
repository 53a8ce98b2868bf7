"""The functional ``Model``: a graph of layer calls from ``Input`` tensors to outputs.

Calling a layer on symbolic tensors records a ``Node``; ``Model(inputs, outputs)`` walks those
nodes back from ``outputs`` to ``inputs`` and keeps the ones it needs, in an order where every
node comes after the nodes it reads from. ``forward`` runs them in that order; ``backward`` runs
their ``backward`` in reverse, adding up the gradient of a tensor read by several nodes::

    >>> import numpy as np
    >>> from rnnkit.layers import Dense, Input
    >>> from rnnkit.models import Model
    >>> x = Input((4,)); y = Dense(2)(x)
    >>> model = Model(x, y)
    >>> out = model.forward(np.ones((3, 4)))                 # (3, 2)
    >>> dx = model.backward(np.ones_like(out))               # (3, 4); weight grads filled

What the graph may hold:
  * several inputs and outputs (``forward`` takes and returns lists);
  * a layer called at several places: one set of weights, its gradients summed (each call's
    cache is kept and put back into ``layer._cache`` before that call's backward);
  * a layer's extra outputs (``return_state``) passed to another layer as ``initial_state``;
  * masks, computed per call with ``layer.compute_mask`` and handed to the next calls;
  * layers whose calls belong to different models (an inference model built from the trained
    layers of another): each model walks only the calls that lie between its inputs and outputs.

The order of ``model.layers`` and the node indices in ``get_config``/``summary`` follow Keras
(``_map_graph_network``): by depth from the outputs, deepest first, ties in traversal order.
The walk is :mod:`rnnkit.models.graph`; the graph as JSON and back is
:mod:`rnnkit.models.graph_config`.
"""

from ..io import keras_h5, onnx_export, saving
from ..layers.base import Layer, _defines_call, _snake as _snake_name, unique_name
from ..layers.symbolic import SymbolicTensor, flatten
from ..training.trainer import TrainingMixin
from .graph import map_graph
from .graph_config import graph_config, rebuild_graph
from .summary import print_summary

_map_graph = map_graph      # its first name


def _add_grad(grads, tensor, g):
    key = id(tensor)
    grads[key] = g if key not in grads else grads[key] + g


class Model(TrainingMixin, Layer):
    """A graph of layers from ``inputs`` (``Input`` tensors) to ``outputs`` (tensors).

    Args:
        inputs: an ``Input`` tensor or a list of them.
        outputs: a tensor or a list of tensors computed from ``inputs``.
        name: the model's name (default "functional", "functional_1", ... as in Keras 3).
    """

    _subclassed = False       # True for Keras-style subclasses (__init__ + call())

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if inputs is None and outputs is None:
            # Keras's subclassing: __init__ makes the layers, call() composes them; the
            # backward comes from the tape of each call (rnnkit.layers.tape)
            if not _defines_call(type(self)):
                raise TypeError(f"{type(self).__name__}: Model() needs inputs and outputs, or "
                                "a subclass that defines call()")
            super().__init__(name=name or unique_name(_snake_name(type(self).__name__)),
                             trainable=trainable, **kwargs)
            self._subclassed = True
            return
        if kwargs:
            raise TypeError(f"Model: unexpected arguments {sorted(kwargs)}")
        super().__init__(name=name or unique_name("functional"), trainable=trainable)
        self._subclassed = False
        self._inputs_are_list = isinstance(inputs, (list, tuple))
        self._outputs_are_list = isinstance(outputs, (list, tuple))
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        for what, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            for t in tensors:
                if not isinstance(t, SymbolicTensor) or t.node is None:
                    raise TypeError(f"{self.name}: {what} must be symbolic tensors (made by "
                                    f"Input() and layer calls), got {type(t).__name__}")
        if not self.inputs or not self.outputs:
            raise ValueError(f"{self.name}: a model needs at least one input and one output")
        for t in self.inputs:
            if not t.node.is_input:
                raise ValueError(f"{self.name}: model inputs must be tensors made by Input(); "
                                 f"got an output of layer {t.node.layer.name!r}")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ValueError(f"{self.name}: the same Input is given twice in inputs")
        self._nodes, self._nodes_by_depth, self._layers = map_graph(self.inputs, self.outputs)
        self._node_set = set(self._nodes) | {t.node for t in self.inputs}
        self.built = True

    # ---- structure -------------------------------------------------------------------------
    @property
    def layers(self):
        """The layers of the graph (InputLayers included), in Keras's order; for a subclassed
        model, the layers its ``__init__`` assigned, in that order."""
        if self.__dict__.get("_subclassed"):
            return list(self._sublayers)
        return list(self._layers)

    @property
    def input(self):
        return self.inputs if self._inputs_are_list else self.inputs[0]

    @property
    def output(self):
        return self.outputs if self._outputs_are_list else self.outputs[0]

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at position ``index`` of ``layers``."""
        layers = self.layers
        if name is not None and index is not None:
            raise ValueError(f"{self.name}: give a layer name or an index, not both "
                             f"(got name={name!r}, index={index})")
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"{self.name}: asked for the layer at index {index}, but the "
                                 f"model has only {len(layers)} layers")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"{self.name}: no such layer: {name!r}. Existing layers are: "
                             f"{[layer.name for layer in layers]}")
        raise ValueError(f"{self.name}: get_layer needs a layer name or an index")

    # ---- weights ---------------------------------------------------------------------------
    @property
    def weights(self):
        """Every layer's weights in ``layers`` order, each once (shared layers are one layer)."""
        out, seen = [], set()
        for layer in self.layers:
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        out, seen = [], set()
        for layer in self.layers:
            for w in layer.trainable_weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    def count_params(self):
        if not self.built:
            raise ValueError(f"{self.name}: count_params() needs a built model; call "
                             f"build(input_shape) first or give the first layer an input shape")
        return int(sum(w.value.size for w in self.weights))

    # ---- running ---------------------------------------------------------------------------
    def _as_list(self, values, tensors, are_list, what):
        """``values`` as a list aligned with ``tensors`` (a dict may be keyed by layer name)."""
        n = len(tensors)
        if isinstance(values, dict):
            names = [t.node.layer.name for t in tensors]
            unknown = sorted(set(values) - set(names))
            if unknown or len(values) != n:
                raise ValueError(f"{self.name}: {what} keyed by {sorted(values)}, expected the "
                                 f"keys {names}")
            return [values[k] for k in names]
        if isinstance(values, (list, tuple)) and (are_list or n > 1):
            if len(values) != n:
                raise ValueError(f"{self.name}: expected {n} {what}, got {len(values)}")
            return list(values)
        if n != 1:
            raise ValueError(f"{self.name}: expected a list of {n} {what}, got one array")
        return [values]

    def forward(self, inputs, training=False, mask=None):
        """Run the graph: an array (or a list, one per output) from the input array(s)."""
        if self._subclassed:
            y = Layer.forward(self, inputs, training=training, mask=mask)
            self.built = True
            return y
        xs = self._as_list(inputs, self.inputs, self._inputs_are_list, "inputs")
        masks_in = ([None] * len(xs) if mask is None else
                    self._as_list(mask, self.inputs, self._inputs_are_list, "input masks"))
        values, masks, caches = {}, {}, {}
        for t, x, m in zip(self.inputs, xs, masks_in):
            values[id(t)] = t.node.layer.check_input(x)
            masks[id(t)] = m
        for node in self._nodes:
            if node.is_input:
                continue
            layer = node.layer
            x, tensor_kwargs = node.unflatten([values[id(t)] for t in node.inputs])
            in_mask, _ = node.unflatten([masks.get(id(t)) for t in node.inputs])
            if all(m is None for m in flatten(in_mask)):
                in_mask = None
            kwargs = dict(node.kwargs)
            if kwargs.get("training") is None:
                kwargs["training"] = training
            kwargs.update(tensor_kwargs)
            y = layer.forward(x, mask=in_mask, **kwargs)
            caches[node.id] = layer._cache
            ys = list(y) if node.multi_output else [y]
            if len(ys) != len(node.outputs) or (not node.multi_output and isinstance(y, list)):
                raise ValueError(f"{layer.name}: forward returned {len(flatten(y))} outputs, "
                                 f"but compute_output_shape promised {len(node.outputs)}")
            out_masks = layer.compute_mask(x, in_mask)
            out_masks = list(out_masks) if isinstance(out_masks, (list, tuple)) else [out_masks]
            out_masks += [None] * (len(ys) - len(out_masks))
            for t, v, m in zip(node.outputs, ys, out_masks):
                values[id(t)] = v
                masks[id(t)] = m
        outs = [values[id(t)] for t in self.outputs]
        out_masks = [masks.get(id(t)) for t in self.outputs]
        self._cache = {"caches": caches, "output_mask":
                       out_masks if self._outputs_are_list else out_masks[0]}
        return outs if self._outputs_are_list else outs[0]

    def backward(self, dys):
        """Gradients of the inputs from the gradients of the outputs (None: no gradient).

        Weight gradients are *added* into each weight's ``.grad``. Returns an array, or a list
        aligned with the inputs; an input nothing differentiable reads from gets None.
        """
        if not self._cache:
            raise RuntimeError(f"{self.name}: backward() needs a forward() first")
        if self._subclassed:
            return Layer.backward(self, dys)
        caches = self._cache["caches"]
        dys = self._as_list(dys, self.outputs, self._outputs_are_list, "output gradients")
        grads = {}
        for t, dy in zip(self.outputs, dys):
            if dy is not None:
                _add_grad(grads, t, dy)
        for node in reversed(self._nodes):
            if node.is_input:
                continue
            douts = [grads.pop(id(t), None) for t in node.outputs]
            if all(d is None for d in douts):
                continue                     # nothing downstream of this call needs a gradient
            layer = node.layer
            layer._cache = caches[node.id]
            dx = layer.backward(douts if node.multi_output else douts[0])
            if dx is None:
                continue                     # e.g. Embedding: integer inputs have no gradient
            dx = list(dx) if isinstance(dx, (list, tuple)) else [dx]
            if len(dx) != len(node.inputs):
                raise ValueError(f"{layer.name}: backward returned {len(dx)} input gradients "
                                 f"for a call with {len(node.inputs)} input tensors")
            for t, g in zip(node.inputs, dx):
                if g is not None:
                    _add_grad(grads, t, g)
        dxs = [grads.get(id(t)) for t in self.inputs]
        return dxs if self._inputs_are_list else dxs[0]

    def compute_output_shape(self, input_shape):
        if self._subclassed:
            raise NotImplementedError(f"{self.name}: a subclassed model cannot be called on "
                                      "symbolic tensors; call it on arrays")
        shapes = [t.shape for t in self.outputs]
        return shapes if self._outputs_are_list else shapes[0]

    def compute_mask(self, inputs, mask=None):
        """The output mask(s) of the last forward (a model computes masks as it runs)."""
        if self._subclassed:
            return None
        return self._cache["output_mask"] if self._cache else None

    def iter_layers(self):
        yield self
        for layer in self.layers:
            yield from layer.iter_layers()

    # ---- saving (rnnkit.io, the floor below, does the work) ---------------------------------
    def save(self, filepath):
        """Architecture, weights and compile state: rnnkit's safetensors file (no pickle), or a
        Keras 3 archive when the name ends in ``.keras`` (see ``rnnkit.io.saving.save_model``)."""
        saving.save_model(self, filepath)

    def save_weights(self, filepath):
        """Only the weights, in one safetensors file; a name ending in ``.weights.h5`` writes
        Keras 3's format instead (``rnnkit.io.save_keras_weights``), as Keras's save_weights."""
        if str(filepath).endswith(".weights.h5"):
            return keras_h5.save_keras_weights(self, filepath)
        saving.save_weights(self, filepath)

    def load_weights(self, filepath):
        """Copy weights saved by ``save_weights`` or ``save`` into this (built) model; a Keras 3
        ``.weights.h5`` or ``.keras`` file goes to ``rnnkit.io.load_keras_weights``."""
        if str(filepath).endswith((".weights.h5", ".keras")):
            return keras_h5.load_keras_weights(self, filepath)
        saving.load_weights(self, filepath)

    def export_onnx(self, path, opset=None):
        """Write this model as a standard ONNX graph to ``path`` (see rnnkit.io.onnx_export)."""
        return onnx_export.export_onnx(self, path, opset=opset)

    def summary(self, line_length=None, positions=None, print_fn=None):
        """Print the Keras (tf.keras 2) table of layers, output shapes and parameter counts."""
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    # ---- config ----------------------------------------------------------------------------
    def get_config(self):
        if self._subclassed:
            raise NotImplementedError(
                f"{self.name}: a subclassed model's architecture is Python code, which rnnkit "
                "does not save; save_weights() works, or build the model with the functional "
                "API to save it whole")
        return graph_config(self)           # rnnkit.models.graph_config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild the graph of :meth:`get_config` with new layers (weights not included)."""
        inputs, outputs = rebuild_graph(config, custom_objects)
        return cls(inputs if config.get("inputs_are_list", True) else inputs[0],
                   outputs if config.get("outputs_are_list", True) else outputs[0],
                   name=config.get("name"), trainable=config.get("trainable", True))
