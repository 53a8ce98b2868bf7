"""Export a Sequential model (or a one-input, one-output functional chain) to ONNX.

The graph uses only standard ONNX operators (opset 13 or later): ``RNN``, ``LSTM``, ``GRU``,
``Gather``, ``MatMul``/``Add``, ``Softmax``, ``Tanh``/``Sigmoid``/``Relu``/``HardSigmoid``...,
``Transpose``, ``Squeeze``/``Unsqueeze``, ``Slice``, ``Reshape``, ``Flatten``, ``Tile``. The
batch axis, and every size the model leaves open (the time axis of ``Input((None, 8))``), are
symbolic: one exported file serves any batch size and sequence length. Inputs are float32
(int64 token ids when the first layer is an Embedding); weights are stored as float32.

Layers: Embedding (mask_zero=False), SimpleRNN / LSTM / GRU (return_sequences True or False,
go_backwards, any cell activation ONNX has), Bidirectional (every merge_mode but None),
TimeDistributed(Dense | Activation | Dropout), Dense, Dropout (identity), Activation, Flatten,
RepeatVector. Anything else -- and stateful layers, masks, several outputs -- raises
NotImplementedError naming the layer and why; see :mod:`rnnkit.io.onnx_layers`.

    >>> from rnnkit.layers import Input, LSTM, Dense
    >>> from rnnkit.models import Sequential
    >>> model = Sequential([Input((None, 8)), LSTM(16), Dense(3, activation="softmax")])
    >>> model.export_onnx("model.onnx")       # doctest: +SKIP
    >>> # onnxruntime.InferenceSession("model.onnx").run(None, {"input": x.astype("float32")})
"""

import numpy as np

from ..layers import registry
from .onnx_layers import CONVERTERS

DEFAULT_OPSET = 17
MIN_OPSET = 13


class _GraphBuilder:
    """Collects ONNX nodes and initialisers with unique names."""

    def __init__(self, onnx):
        self.onnx, self.nodes, self.initializers = onnx, [], []
        self._names, self._consts = set(), {}

    def _unique(self, hint):
        name, i = hint, 1
        while name in self._names:
            name, i = f"{hint}_{i}", i + 1
        self._names.add(name)
        return name

    def const(self, value, hint):
        """An initialiser: floats stored as float32, integers as int64; equal ones are shared."""
        a = np.asarray(value)
        a = a.astype(np.float32 if a.dtype.kind == "f" else np.int64)
        key = (hint, a.shape, a.tobytes())
        if key not in self._consts:
            name = self._unique(hint)
            self.initializers.append(self.onnx.numpy_helper.from_array(a, name))
            self._consts[key] = name
        return self._consts[key]

    def op(self, op_type, inputs, n_out=1, hint=None, **attrs):
        """Add one node; returns its output name (a list when ``n_out > 1``)."""
        outs = [self._unique(f"{hint or op_type.lower()}_out{k if n_out > 1 else ''}")
                for k in range(n_out)]
        self.nodes.append(self.onnx.helper.make_node(
            op_type, inputs, outs, name=self._unique(f"{hint or op_type}_node"), **attrs))
        return outs if n_out > 1 else outs[0]


def _model_class(name):
    """The class ``Model`` or ``Sequential`` from the layer registry: ``rnnkit.models`` sits
    above ``rnnkit.io`` and registers its classes as layers when it is imported."""
    return registry.layer_classes().get(name, ())


def _layer_chain(model):
    """The layers from the model's one input to its one output, in order (no InputLayer);
    models used as layers (a Sequential inside a Sequential) are opened up."""
    chain = []
    for layer in _own_chain(model):
        chain += _layer_chain(layer) if isinstance(layer, _model_class("Model")) else [layer]
    return chain


def _own_chain(model):
    if isinstance(model, _model_class("Sequential")):
        return [lyr for lyr in model._layers if type(lyr).__name__ != "InputLayer"]
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise NotImplementedError(
            f"{model.name}: ONNX export handles one input and one output, got "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs")
    chain, t = [], model.outputs[0]
    while not t.node.is_input:
        node = t.node
        if len(node.inputs) != 1 or len(node.outputs) != 1:
            raise NotImplementedError(
                f"{model.name}: ONNX export handles a plain chain of one-input, one-output "
                f"layer calls; {node.layer.name} takes {len(node.inputs)} inputs and gives "
                f"{len(node.outputs)} outputs")
        if any(k not in ("training", "mask") for k in node.kwargs):
            raise NotImplementedError(f"{model.name}: the call of {node.layer.name} has "
                                      f"arguments {sorted(node.kwargs)} the exporter cannot keep")
        chain.append(node.layer)
        t = node.inputs[0]
    if t is not model.inputs[0]:
        raise NotImplementedError(f"{model.name}: the output does not come from the model input")
    return chain[::-1]


def _input_shape(model):
    shape = getattr(model, "_input_batch_shape", None)
    if shape is None and getattr(model, "inputs", None):
        shape = model.inputs[0].shape
    if shape is None or not model.built:
        raise ValueError(f"{model.name}: build the model (or call it on data) before exporting "
                         f"to ONNX, so that its input shape and weights exist")
    return tuple(shape)


def _dims(shape):
    """ONNX dims: the batch axis is "batch", axis 1 "time" when unknown, other unknowns named."""
    names = {0: "batch", 1: "time"}
    return [d if d is not None else names.get(i, f"dim_{i}") for i, d in enumerate(shape)]


def build_onnx_model(model, opset=None):
    """The ``onnx.ModelProto`` of ``model`` (checked with ``onnx.checker``); see the module doc."""
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401 - makes onnx.numpy_helper available
    except ImportError as e:
        raise ImportError("export_onnx needs the onnx package: pip install 'rnnkit[onnx]'") from e
    opset = DEFAULT_OPSET if opset is None else int(opset)
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"{model.name}: opset must be between {MIN_OPSET} and "
                         f"{onnx.defs.onnx_opset_version()} (this onnx), got {opset}")
    shape = _input_shape(model)
    chain = _layer_chain(model)
    if not chain:
        raise ValueError(f"{model.name}: the model has no layers to export")
    ids = type(chain[0]).__name__ == "Embedding"
    g = _GraphBuilder(onnx)
    x = "input"
    in_shape = shape
    for layer in chain:
        kind = type(layer).__name__
        if kind not in CONVERTERS:
            raise NotImplementedError(
                f"{layer.name}: {kind} has no ONNX export; supported layers: "
                f"{', '.join(sorted(CONVERTERS))}")
        x = CONVERTERS[kind](layer, g, x, shape)
        shape = tuple(layer.compute_output_shape(shape))
    g.nodes.append(onnx.helper.make_node("Identity", [x], ["output"], name="output_node"))
    elem = onnx.TensorProto.INT64 if ids else onnx.TensorProto.FLOAT
    graph = onnx.helper.make_graph(
        g.nodes, model.name,
        [onnx.helper.make_tensor_value_info("input", elem, _dims(in_shape))],
        [onnx.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, _dims(shape))],
        initializer=g.initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="rnnkit")
    proto.ir_version = onnx.helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model, path, opset=None):
    """Write ``model`` to ``path`` as an ONNX file; returns the ``onnx.ModelProto``.

    Args:
        model: a built Sequential, or a functional Model that is a chain from one Input.
        path: the file to write.
        opset: the ONNX opset (default 17; 13 or later).

    The graph has one input "input" (B, T, I) float32 -- or (B, T) int64 ids for a model that
    starts with an Embedding -- and one output "output" with the model's output shape.
    """
    import onnx
    proto = build_onnx_model(model, opset)
    onnx.save(proto, str(path))
    return proto
