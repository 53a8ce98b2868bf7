"""The Layer contract shared by every layer (close to Keras, plus an explicit backward).

A layer creates its weights in ``build(input_shape)`` once shapes are known, computes in
``forward(x, training=False, mask=None)`` while caching what ``backward`` needs, and in
``backward(dy)`` returns ``dL/dx`` while *adding* ``dL/dW`` into each weight's ``.grad``::

    >>> import numpy as np
    >>> from rnnkit.layers import Dense
    >>> layer = Dense(3, name="d")
    >>> y = layer(np.ones((2, 4), dtype="float32"))      # builds, then forward
    >>> dx = layer.backward(np.ones_like(y))             # fills layer.kernel.grad
    >>> dx.shape, layer.kernel.grad.shape
    ((2, 4), (4, 3))

``layer(x)`` on arrays runs eagerly; on symbolic tensors (``rnnkit.Input``) it records a node
of the functional graph and returns symbolic outputs.

The cache of the last ``forward`` lives in ``self._cache``; a model that calls one layer at
several places keeps one cache per call and puts it back before that call's backward.
"""

import numpy as np

from .. import config, initializers
from . import define_by_run, naming, weight_limits, weight_options
from .naming import clear_session, unique_name  # noqa: F401 (clear_session: importable here)
from .weight_limits import weight_budget          # noqa: F401 (importable here, as before)
from .tape import _plain_tree, active_tape
from .symbolic import Node, SymbolicTensor, flatten, is_symbolic, pack, structure_of
from .weight import Weight

# moved out by concept; the old names stay importable from here
_name_counts = naming._name_counts
_snake = naming.snake_case
_weight_budget = weight_limits._weight_budget
_charge_weight_budget = weight_limits.charge_weight_budget
_check_float_dtype = weight_limits.check_float_dtype
_physical_memory = weight_limits.physical_memory
_check_fits_in_memory = weight_limits.check_fits_in_memory


def shape_of(x):
    """The shape of an array or symbolic tensor, or a list of shapes for a list of them."""
    if isinstance(x, (list, tuple)):
        return [shape_of(t) for t in x]
    return tuple(x.shape)


class Layer:
    """Base class of all layers. Subclasses implement ``build``, ``forward``, ``backward``."""

    supports_masking = False
    _regularizable = ()       # weights Keras lets a user regularise/constrain ("kernel", ...)
    any_dtype = False       # True where dtype is the data's, not the weights' (InputLayer)

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, **weight_args):
        self.name = name or unique_name(naming.snake_case(type(self).__name__))
        if dtype is not None and not self.any_dtype:
            weight_limits.check_float_dtype(self.name, dtype)
        unknown = sorted(set(weight_args) - set(weight_options.argument_names(
            self._regularizable)))
        if unknown:
            raise TypeError(f"{self.name}: unexpected arguments {unknown} for "
                            f"{type(self).__name__}")
        self._regularizers, self._constraints = weight_options.parse(
            self.name, self._regularizable, dict(weight_args))
        # a layer written Keras's way (call() and no backward) tracks the layers it is given
        self._tracks_attributes = _defines_call(type(self))
        self.trainable = trainable
        self._dtype = dtype
        self._weights = []
        self._sublayers = []
        self.built = False
        self._build_input_shape = None
        self._cache = None
        self._inbound_nodes = []  # every symbolic call of this layer, in call order
        # Keras lets the first layer of a Sequential say its input shape.
        if batch_input_shape is not None:
            self._declared_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._declared_input_shape = (None,) + tuple(input_shape)
        elif input_dim is not None:
            self._declared_input_shape = (None, int(input_dim))
        else:
            self._declared_input_shape = None

    # ---- weights -------------------------------------------------------------------------
    @property
    def dtype(self):
        """The float type of this layer's weights and outputs (``floatx()`` unless set)."""
        return self._dtype or config.floatx()

    def add_weight(self, name, shape, initializer="zeros", trainable=True, dtype=None):
        """Create a :class:`Weight` of ``shape`` from ``initializer`` and register it."""
        weight_limits.charge_weight_budget(self, name, shape)         # a loader's budget
        weight_limits.check_fits_in_memory(self, name, shape, dtype or self.dtype)
        value = initializers.get(initializer)(tuple(shape), dtype=dtype or self.dtype)
        w = Weight(value, name, path=f"{self.name}/{name}", trainable=trainable)
        w.regularizer = self._regularizers.get(name)
        w.constraint = self._constraints.get(name)
        self._weights.append(w)
        return w

    @property
    def weights(self):
        """All weights, own first and then those of sublayers, in ``get_weights`` order."""
        out = list(self._weights)
        for layer in self._sublayers:
            out.extend(layer.weights)
        return out

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        own = [w for w in self._weights if w.trainable]
        for layer in self._sublayers:
            own.extend(layer.trainable_weights)
        return own

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def get_weights(self):
        """Copies of the weight values, in Keras order and layout."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Set every weight from a list of arrays in ``get_weights`` order; shapes are checked."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"{self.name}: expected {len(own)} weight arrays "
                f"({', '.join(w.name for w in own) or 'none'}), got {len(weights)}"
            )
        for w, value in zip(own, weights):
            if np.shape(value) != w.shape:
                raise ValueError(
                    f"{self.name}: weight {w.name} expects shape {w.shape}, got {np.shape(value)}"
                )
        for w, value in zip(own, weights):
            w.assign(value)

    def count_params(self):
        """The number of scalars in all weights (the layer must be built)."""
        if not self.built:
            raise ValueError(f"{self.name}: count_params() needs a built layer; call build() first")
        return int(sum(w.value.size for w in self.weights))

    def iter_layers(self):
        """This layer and every layer inside it (wrappers' and models' layers), depth first."""
        yield self
        for layer in self._sublayers:
            yield from layer.iter_layers()

    def reset_states(self):
        """Forget the states that stateful recurrent layers inside this one carry between calls."""
        for layer in self.iter_layers():
            if layer is not self and hasattr(layer, "_reset_own_states"):
                layer._reset_own_states()
        if hasattr(self, "_reset_own_states"):
            self._reset_own_states()

    def reset_state(self):
        """Keras 3 spelling of :meth:`reset_states`."""
        self.reset_states()

    def zero_grad(self):
        """Set every weight's ``.grad`` to zero."""
        for w in self.weights:
            w.zero_grad()

    # ---- the contract ----------------------------------------------------------------------
    def build(self, input_shape):
        """Create weights now that ``input_shape`` is known. The base layer has none."""
        self._build_input_shape = input_shape
        self.built = True

    def forward(self, x, training=False, mask=None, **kwargs):
        """A layer that defines ``call()`` (Keras's way) runs it on a tape so that
        :meth:`backward` can replay it (:mod:`rnnkit.layers.define_by_run`); a layer with
        neither must define ``forward`` and ``backward``."""
        return define_by_run.forward(self, x, training, mask, kwargs)

    def backward(self, dy):
        """Replay the tape of the last ``call()`` (see :meth:`forward`): the gradient of the
        input(s); weight gradients are added into each ``weight.grad``."""
        return define_by_run.backward(self, dy)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output: passed through when the layer supports masking."""
        return mask if self.supports_masking else None

    def get_config(self):
        """A JSON-able dict from which ``from_config`` rebuilds the layer (without weights)."""
        cfg = {"name": self.name, "trainable": self.trainable}
        if self._dtype is not None:
            cfg["dtype"] = self._dtype
        if self._declared_input_shape is not None:
            cfg["batch_input_shape"] = list(self._declared_input_shape)
        cfg.update(weight_options.config(self._regularizers, self._constraints))
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ---- calling ---------------------------------------------------------------------------
    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)
            self.built = True
            if self._build_input_shape is None:
                self._build_input_shape = input_shape

    def __call__(self, inputs, *args, **kwargs):
        tensor_kwargs = {k: v for k, v in kwargs.items() if k != "mask" and is_symbolic(v)}
        if is_symbolic(inputs) or tensor_kwargs:
            return self._symbolic_call(inputs, tensor_kwargs,
                                       {k: v for k, v in kwargs.items() if k not in tensor_kwargs})
        tape = active_tape()
        if tape is not None:              # inside a call(): record this call for backward
            plain = {k: _plain_tree(v) for k, v in kwargs.items()}

            def run(xs):
                self._maybe_build(shape_of(xs))
                return self.forward(xs, *args, **plain)
            return tape.record_layer(self, inputs, run)
        self._maybe_build(shape_of(inputs))
        return self.forward(inputs, *args, **kwargs)

    def call(self, inputs, *args, **kwargs):
        """Keras's way to write a layer: compose rnnkit layers and ``rnnkit.ops`` here and the
        backward comes from a tape (see :meth:`forward`). The base class has no ``call``."""
        raise NotImplementedError(f"{type(self).__name__}.call")

    call.is_base_call = True              # define_by_run.defines_call looks for this mark

    def __setattr__(self, name, value):
        # a layer written with call() owns the layers assigned to it, as in Keras
        if self.__dict__.get("_tracks_attributes") and not name.startswith("_"):
            for layer in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(layer, Layer) and all(layer is not s for s in self._sublayers):
                    self._sublayers.append(layer)
        object.__setattr__(self, name, value)

    def _symbolic_call(self, inputs, tensor_kwargs, other_kwargs):
        self._maybe_build(shape_of(inputs))
        out_shape = self.compute_output_shape(shape_of(inputs))
        flat_in = flatten(inputs)
        for k in sorted(tensor_kwargs):
            flat_in += flatten(tensor_kwargs[k])
        structure = {
            "inputs": _structure_of(inputs),
            "tensor_kwargs": {k: _structure_of(v) for k, v in sorted(tensor_kwargs.items())},
        }
        other_kwargs.pop("mask", None)
        node = Node(self, flat_in, structure, other_kwargs)
        out_dtype = self._output_dtype(inputs)
        if isinstance(out_shape, list):
            outs = [SymbolicTensor(s, out_dtype, node, i) for i, s in enumerate(out_shape)]
            node.outputs = outs
            node.multi_output = True
        else:
            outs = SymbolicTensor(out_shape, out_dtype, node, 0)
            node.outputs = [outs]
        self.__dict__.setdefault("_inbound_nodes", []).append(node)
        return outs

    # ---- the functional graph ---------------------------------------------------------------
    def _node_attribute(self, what):
        nodes = self.__dict__.get("_inbound_nodes") or []
        if not nodes:
            raise AttributeError(f"{self.name}: the layer has never been called on symbolic "
                                 f"tensors, so it has no {what}")
        node = nodes[0]
        if what == "input":
            inputs, _ = node.unflatten(node.inputs)
            return inputs
        return node.outputs if node.multi_output else node.outputs[0]

    @property
    def input(self):
        """The symbolic input of this layer's first call (Keras's ``layer.input``)."""
        return self._node_attribute("input")

    @property
    def output(self):
        """The symbolic output(s) of this layer's first call (Keras's ``layer.output``)."""
        return self._node_attribute("output")

    def _output_dtype(self, inputs):
        return self.dtype

    # ---- errors ----------------------------------------------------------------------------
    def _check_rank(self, x, ranks, what="input"):
        """Raise a ValueError naming this layer when ``x.ndim`` is not one of ``ranks``."""
        ranks = (ranks,) if isinstance(ranks, int) else tuple(ranks)
        if np.ndim(x) not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise ValueError(
                f"{self.name}: expected {what} of rank {want}, got rank {np.ndim(x)} "
                f"(shape {np.shape(x)})"
            )

    def _check_last_dim(self, x, expected, what="input"):
        if np.shape(x)[-1] != expected:
            raise ValueError(
                f"{self.name}: expected {what} with {expected} features, got {np.shape(x)[-1]} "
                f"({what} shape {np.shape(x)})"
            )

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name} built={self.built}>"


_structure_of = structure_of  # kept under its first name

_defines_call = define_by_run.defines_call
