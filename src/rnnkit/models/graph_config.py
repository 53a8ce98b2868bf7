"""A functional graph as JSON and back: ``Model.get_config`` / ``Model.from_config``.

The config lists each layer once, with its class, its own config and its calls
(``inbound_nodes``). A call is ``{"inputs": ..., "tensor_kwargs": {...}, "kwargs": {...}}``
where a tensor is written ``[layer name, node index, output index]`` (the node index counts only
this model's calls of that layer) and lists of inputs stay lists. :func:`rebuild_graph` makes new
layers from the config and replays their calls on symbolic tensors in an order where every call
finds its inputs made; the weights are not part of the config.

>>> from rnnkit.layers import Dense, Input
>>> from rnnkit.models import Model
>>> x = Input((4,), name="x"); model = Model(x, Dense(2, name="d")(x))
>>> cfg = graph_config(model)
>>> [(layer["name"], layer["inbound_nodes"]) for layer in cfg["layers"]][1]
('d', [{'inputs': ['x', 0, 0], 'tensor_kwargs': {}, 'kwargs': {}}])
>>> inputs, outputs = rebuild_graph(cfg)
>>> outputs[0].shape
(None, 2)
"""

import collections

from ..layers.input_layer import InputLayer
from ..layers.registry import deserialize
from ..layers.symbolic import flatten


def node_indices(model):
    """``{node: index}``: each node of ``model`` -> its index among the model's calls of its
    layer (calls of the same layer that belong to other models are not counted)."""
    index = {}
    for layer in model._layers:
        k = 0
        for node in layer._inbound_nodes:
            if node in model._node_set:
                index[node] = k
                k += 1
    return index


def graph_config(model):
    """The graph of a functional ``model`` as a JSON-able dict (see the module docstring)."""
    index = node_indices(model)

    def ref(t):
        return [t.node.layer.name, index[t.node], t.index]

    layers = []
    for layer in model._layers:
        calls = []
        for node in layer._inbound_nodes:
            if node not in model._node_set or node.is_input:
                continue
            inputs, tensor_kwargs = node.unflatten([ref(t) for t in node.inputs])
            calls.append({"inputs": inputs, "tensor_kwargs": tensor_kwargs,
                          "kwargs": dict(node.kwargs)})
        layers.append({"class_name": type(layer).__name__, "name": layer.name,
                       "config": layer.get_config(), "inbound_nodes": calls})
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": [ref(t) for t in model.inputs],
            "output_layers": [ref(t) for t in model.outputs],
            "inputs_are_list": model._inputs_are_list,
            "outputs_are_list": model._outputs_are_list}


def rebuild_graph(config, custom_objects=None):
    """New layers from ``config`` (:func:`graph_config`'s dict), their calls replayed.

    Returns:
        ``(inputs, outputs)``: the lists of symbolic tensors to build the model from.

    Raises:
        ValueError: a call reads a tensor that no call makes.
    """
    created, queues, made = {}, {}, {}
    for spec in config["layers"]:
        layer = deserialize(spec, custom_objects)
        created[spec["name"]] = layer
        queues[spec["name"]] = collections.deque(spec["inbound_nodes"])
        if isinstance(layer, InputLayer):
            made[(spec["name"], 0)] = layer._inbound_nodes[0].outputs
    counts = collections.Counter()

    def tensor(r):
        return made[(r[0], r[1])][r[2]]

    def resolve(structure):               # a reference is [layer name, node, tensor]
        if isinstance(structure[0], str):
            return tensor(structure)
        return [resolve(s) for s in structure]

    while any(queues.values()):
        progressed = False
        for spec in config["layers"]:
            name, queue = spec["name"], queues[spec["name"]]
            while queue:                  # a layer's calls are replayed in their order
                call = queue[0]
                try:
                    inputs = resolve(call["inputs"])
                    tensor_kwargs = {k: resolve(v) for k, v in call["tensor_kwargs"].items()}
                except KeyError:
                    break                 # an input is made by a call not replayed yet
                out = created[name](inputs, **tensor_kwargs, **call["kwargs"])
                made[(name, counts[name])] = flatten(out)
                counts[name] += 1
                queue.popleft()
                progressed = True
        if not progressed:
            raise ValueError("from_config: the graph cannot be rebuilt (a call reads a "
                             "tensor that no call makes)")
    return ([tensor(r) for r in config["input_layers"]],
            [tensor(r) for r in config["output_layers"]])
