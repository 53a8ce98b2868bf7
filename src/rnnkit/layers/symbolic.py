"""Symbolic tensors: what a layer returns when it is called on an ``Input`` (functional API).

Calling a layer on a :class:`SymbolicTensor` computes no numbers. It records a :class:`Node`
(the layer, the tensors it was called on, the call's keyword arguments) and returns new symbolic
tensors that carry their static shape (``None`` for unknown sizes) and the node that made them.
``rnnkit.models.Model`` walks these nodes to run the graph forward and backward.
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

    @property
    def parents(self):
        return [t.node for t in self.inputs if t.node is not None]


def flatten(structure):
    """The leaves of nested lists/tuples, in order."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def is_symbolic(structure):
    """Whether any leaf of ``structure`` is a SymbolicTensor."""
    return any(isinstance(leaf, SymbolicTensor) for leaf in flatten(structure))
