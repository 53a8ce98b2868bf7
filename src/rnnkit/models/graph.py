"""The walk over a functional graph: which calls a model needs, in which order, at which depth.

Calling a layer on symbolic tensors records a ``Node`` (:mod:`rnnkit.layers.symbolic`);
:func:`map_graph` walks those nodes back from a model's outputs to its inputs, keeps the ones it
needs and orders them (depth first from the outputs), then numbers the depths as Keras does, so
that ``model.layers``, ``summary()`` and ``get_config()`` list layers in Keras's order.

>>> from rnnkit.layers import Dense, Input
>>> x = Input((4,), name="x"); y = Dense(2, name="d")(Dense(3, name="c")(x))
>>> nodes, by_depth, layers = map_graph([x], [y])
>>> [layer.name for layer in layers], sorted(by_depth)
(['x', 'c', 'd'], [0, 1, 2])
"""

import collections


def map_graph(inputs, outputs):
    """The calls of a functional graph between ``inputs`` and ``outputs``, as Keras orders them.

    Args:
        inputs: the model's ``Input`` tensors (a list).
        outputs: the tensors the model returns (a list).

    Returns:
        ``(nodes, nodes_by_depth, layers)``: the nodes in an order where every node comes after
        the nodes it reads from; ``{depth: [nodes]}`` (0 for the nodes making outputs, else 1 +
        the depth of the deepest node reading it); the layers by depth, deepest first, ties in
        traversal order (Keras's ``_map_graph_network``).

    Raises:
        ValueError: a cycle, a tensor that depends on an ``Input`` not among ``inputs``
            (graph disconnected), or two layers with one name.
    """
    input_ids = {id(t) for t in inputs}
    finished, in_progress = set(), set()
    ordered, layer_indices = [], {}

    def visit(tensor):
        node = tensor.node
        if node in finished:
            return
        if node in in_progress:
            raise ValueError(f"the tensor {tensor} at layer {node.layer.name!r} is part of a cycle")
        if node.is_input and id(tensor) not in input_ids:
            raise ValueError(
                f"graph disconnected: cannot obtain the value of {tensor} (the output of "
                f"{node.layer.name!r}); it is not among the model's inputs "
                f"{[t.node.layer.name for t in inputs]}")
        layer_indices.setdefault(node.layer, len(layer_indices))
        in_progress.add(node)
        for t in node.inputs:
            visit(t)
        in_progress.discard(node)
        finished.add(node)
        ordered.append(node)

    for t in outputs:
        visit(t)

    # Depth: 0 for the nodes making outputs, else 1 + the depth of the deepest node reading it.
    node_depth, layer_depth = {}, {}
    for node in reversed(ordered):
        depth = max(node_depth.setdefault(node, 0), layer_depth.get(node.layer, 0))
        layer_depth[node.layer] = depth
        node_depth[node] = depth
        for parent in node.parents:
            node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for t in inputs:                         # inputs no output depends on: kept, at depth 0
        if t.node.layer not in layer_depth:
            layer_depth[t.node.layer] = 0
            layer_indices[t.node.layer] = -1
            node_depth[t.node] = 0

    nodes_by_depth = collections.defaultdict(list)
    for node, depth in node_depth.items():
        nodes_by_depth[depth].append(node)
    layers_by_depth = collections.defaultdict(list)
    for layer, depth in layer_depth.items():
        layers_by_depth[depth].append(layer)
    layers = []
    for depth in sorted(layers_by_depth, reverse=True):
        layers.extend(sorted(layers_by_depth[depth], key=lambda lay: layer_indices[lay]))

    names = [layer.name for layer in layers]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"the name {name!r} is used {names.count(name)} times in the model; "
                             f"all layer names should be unique")
    return ordered, dict(nodes_by_depth), layers
