"""Symbolic tensors: what a layer returns when it is called on an ``Input`` (functional API).

Calling a layer on a :class:`SymbolicTensor` computes no numbers. It records a :class:`Node`
(the layer, the tensors it was called on, the call's keyword arguments) and returns new symbolic
tensors that carry their static shape (``None`` for unknown sizes) and the node that made them.
``rnnkit.models.Model`` walks these nodes to run the graph forward and backward.

A node's ``inputs`` is one flat list: the leaves of the call's first argument, then the leaves of
each tensor keyword argument in sorted key order (``initial_state`` of a recurrent layer, ...).
``call_structure`` says how to put concrete arrays back into that shape (:meth:`Node.unflatten`).
An ``InputLayer`` makes the one node that has no inputs (``node.is_input``).
"""

import itertools

_node_ids = itertools.count()


class SymbolicTensor:
    """A placeholder with a static ``shape`` and ``dtype``, made by ``node`` as its output ``index``."""

    def __init__(self, shape, dtype, node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        src = self.node.layer.name if self.node is not None else "?"
        return f"<SymbolicTensor shape={self.shape} dtype={self.dtype} from {src}>"


class Node:
    """One call of ``layer``: ``inputs`` (a flat list of tensors), ``args`` (the call's structure)."""

    def __init__(self, layer, inputs, call_structure, kwargs, outputs=None):
        self.id = next(_node_ids)
        self.layer = layer
        self.inputs = list(inputs)           # flat list of SymbolicTensors this call consumed
        self.call_structure = call_structure  # how to rebuild the call from concrete inputs
        self.kwargs = dict(kwargs)            # non-tensor keyword arguments (training, ...)
        self.outputs = outputs or []
        self.multi_output = False            # True when the call returned a list of tensors

    @property
    def parents(self):
        return [t.node for t in self.inputs if t.node is not None]

    @property
    def is_input(self):
        """Whether this is the node of an ``InputLayer`` (it consumes nothing)."""
        return not self.inputs

    @property
    def index(self):
        """Position of this node among all calls of its layer (Keras's ``node_index``)."""
        return self.layer._inbound_nodes.index(self)

    @property
    def output_shapes(self):
        """The static shape of the single output, or a list of shapes for several outputs."""
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 and not self.multi_output else shapes

    def unflatten(self, flat_values):
        """Concrete ``(inputs, tensor_kwargs)`` for this call from values aligned with ``inputs``.

        >>> # a call lstm(x, initial_state=[h0, c0]) has inputs [x, h0, c0]; then
        >>> # node.unflatten([x_arr, h_arr, c_arr]) == (x_arr, {"initial_state": [h_arr, c_arr]})
        """
        flat_values = list(flat_values)
        if len(flat_values) != len(self.inputs):
            raise ValueError(f"{self.layer.name}: expected {len(self.inputs)} values for this "
                             f"call, got {len(flat_values)}")
        it = iter(flat_values)
        inputs = pack(self.call_structure["inputs"], it)
        tensor_kwargs = {k: pack(s, it) for k, s in self.call_structure["tensor_kwargs"].items()}
        return inputs, tensor_kwargs

    def __repr__(self):
        return f"<Node {self.layer.name}[{self.id}] inputs={len(self.inputs)}>"


def flatten(structure):
    """The leaves of nested lists/tuples, in order."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def is_symbolic(structure):
    """Whether any leaf of ``structure`` is a SymbolicTensor."""
    return any(isinstance(leaf, SymbolicTensor) for leaf in flatten(structure))


def structure_of(x):
    """Nested lists of None in the shape of ``x`` (the leaves are filled by :func:`pack`)."""
    if isinstance(x, (list, tuple)):
        return [structure_of(t) for t in x]
    return None


def pack(structure, leaves):
    """Fill a structure from :func:`structure_of` with the iterator ``leaves``, in order."""
    if isinstance(structure, list):
        return [pack(s, leaves) for s in structure]
    return next(leaves)
