"""``model.summary()``: the tf.keras 2 table of layers, output shapes and parameter counts.

The layout is tf.keras 2's ``print_summary`` (keras/utils/layer_utils.py), the one printed in the
Keras guide "Working with RNNs":

* a model that is a plain chain (a Sequential, or a functional graph with one call per depth,
  one input per call and no shared layer) gets 3 columns, 65 characters, positions
  ``[.45, .85, 1.]``: "Layer (type)", "Output Shape", "Param #";
* any other graph gets 98 characters, positions ``[.33, .55, .67, 1.]`` and a 4th column,
  "Connected to", listing each input of each call as ``layer_name[node_index][tensor_index]``.

Each field is cut to its column and padded with spaces, and the last character before the next
field is made a space, so lines end in padding (compare them with ``rstrip()``). As in
tf.keras 2, an InputLayer's output shape shows as a list, ``[(None, 8)]``, and a layer whose
calls in this model give different shapes shows "multiple".
"""


def _shape_text(node):
    if not node.inputs:                       # an InputLayer: tf.keras 2 prints a list
        return str([node.outputs[0].shape])
    shapes = [t.shape for t in node.outputs]
    return str(shapes) if node.multi_output else str(shapes[0])


def _is_sequential_like(model):
    """tf.keras 2's test: one node per depth, each reading one tensor, no layer called twice."""
    nodes = []
    for depth_nodes in model._nodes_by_depth.values():
        if len(depth_nodes) > 1 or (len(depth_nodes) == 1 and len(depth_nodes[0].inputs) > 1):
            return False
        nodes += depth_nodes
    for layer in model.layers:
        if sum(1 for node in layer._inbound_nodes if node in nodes) > 1:
            return False
    return True


def _count(weights):
    return int(sum(w.value.size for w in {id(w): w for w in weights}.values()))


def print_summary(model, line_length=None, positions=None, print_fn=None):
    """Print the summary of ``model`` line by line with ``print_fn`` (default ``print``).

    Args:
        model: a ``Sequential`` or a functional ``Model``.
        line_length: total width (default 65 for chains, 98 for graphs).
        positions: where each column ends, as fractions of ``line_length`` or as characters.
        print_fn: called with each line, e.g. ``lines.append``.
    """
    print_fn = print_fn or print
    graph = hasattr(model, "_nodes_by_depth")
    if not graph and not model.built:
        model.build()                         # raises a clear ValueError when it cannot
    sequential_like = True if not graph else _is_sequential_like(model)

    if sequential_like:
        line_length = line_length or 65
        positions = list(positions or [0.45, 0.85, 1.0])
        to_display = ["Layer (type)", "Output Shape", "Param #"]
    else:
        line_length = line_length or 98
        positions = list(positions or [0.33, 0.55, 0.67, 1.0])
        to_display = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]

    def print_row(fields):
        line = ""
        for i, field in enumerate(fields):
            if i > 0:
                line = line[:-1] + " "
            line += str(field)
            line = line[:positions[i]]
            line += " " * (positions[i] - len(line))
        print_fn(line)

    def rows_of(index, layer):
        """The rows of one layer: [name (type), output shape, params(, first connection)]."""
        title = f"{layer.name} ({type(layer).__name__})"
        if not graph:             # a Sequential, or a subclassed model (shapes unknown: "?")
            shapes = getattr(model, "_output_shapes", None)
            return [[title, shapes[index] if shapes else "?", layer.count_params()]]
        nodes = [n for n in layer._inbound_nodes if n in model._node_set]
        shapes = {_shape_text(n) for n in nodes}
        shape = shapes.pop() if len(shapes) == 1 else "multiple"
        if sequential_like:
            return [[title, shape, layer.count_params()]]
        connections = [f"{t.node.layer.name}[{t.node.index}][{t.index}]"
                       for n in nodes for t in n.inputs]
        rows = [[title, shape, layer.count_params(), connections[0] if connections else ""]]
        rows += [["", "", "", c] for c in connections[1:]]
        return rows

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    print_row(to_display)
    print_fn("=" * line_length)
    layers = model.layers
    for i, layer in enumerate(layers):
        for row in rows_of(i, layer):
            print_row(row)
        print_fn(("=" if i == len(layers) - 1 else "_") * line_length)

    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    print_fn(f"Total params: {trainable + non_trainable:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {non_trainable:,}")
    print_fn("_" * line_length)
