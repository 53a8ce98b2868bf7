"""``Sequential``: a plain stack of layers, each reading the previous one's output.

    >>> from rnnkit.layers import Dense, Embedding, LSTM
    >>> from rnnkit.models import Sequential
    >>> model = Sequential([Embedding(1000, 64), LSTM(128), Dense(10)])
    >>> model.count_params()
    164106

The input shape is known from, in this order: an ``Input(...)`` given first, the first layer's
``input_shape=``/``batch_input_shape=``, or its ``default_input_shape`` (Embedding's is
``(None, None)``, which is why the model above is built at once, as in tf.keras 2). Without any
of them the model builds on ``build(input_shape)`` or on its first call on data.

``forward`` hands each layer the mask the previous one computed
(``mask = layer.compute_mask(x, mask)``); ``backward`` runs the layers' backward in reverse.
"""

import numpy as np

from ..layers.base import Layer
from ..layers.input_layer import InputLayer
from ..layers.registry import deserialize, serialize
from ..layers.symbolic import SymbolicTensor
from .functional import Model


def _known_input_shape(layer):
    """The batch input shape a first layer declares (or its class's default), else None."""
    for attr in ("_declared_input_shape", "_input_batch_shape", "default_input_shape"):
        shape = getattr(layer, attr, None)
        if shape is not None:
            return tuple(shape)
    return None


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: layers to add in order; the first may be an ``Input(...)`` tensor.
        name: the model's name (default "sequential", "sequential_1", ...).
    """

    def __init__(self, layers=None, name=None, trainable=True):
        Layer.__init__(self, name=name, trainable=trainable)
        self._layers = []
        self._input_layer = None
        self._input_batch_shape = None
        self._output_shapes = []
        for layer in layers or []:
            self.add(layer)

    # Node-based, as for any layer (a Sequential has no symbolic inputs of its own).
    input = Layer.input
    output = Layer.output

    @property
    def layers(self):
        """The layers, without the InputLayer."""
        return list(self._layers)

    def add(self, layer):
        """Append ``layer`` (or, first of all, an ``Input(...)`` tensor or an ``InputLayer``)."""
        if isinstance(layer, SymbolicTensor):
            if layer.node is None or not isinstance(layer.node.layer, InputLayer):
                raise ValueError(f"{self.name}: only an Input(...) tensor can be added to a "
                                 f"Sequential, got {layer}")
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError(f"{self.name}: an Input can only be the first element of a "
                                 f"Sequential model")
            self._input_layer = layer
            self._input_batch_shape = layer.batch_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"{self.name}: expected a Layer, got {type(layer).__name__}")
        if layer.name in self._names():
            raise ValueError(f"{self.name}: all layers added to a Sequential model should have "
                             f"unique names; {layer.name!r} is already the name of a layer here")
        known = self._input_batch_shape
        if known is None and not self._layers:
            known = _known_input_shape(layer)
        self._layers.append(layer)
        if known is not None:
            try:                             # as tf.keras 2: built as soon as shapes are known
                if (self.built and self._build_input_shape == tuple(known)
                        and len(self._output_shapes) == len(self._layers) - 1):
                    self._build_last()       # only the new layer: adding n layers is O(n)
                else:
                    self.build(known)
            except Exception:
                self._layers.pop()           # leave the model as it was before this add
                raise
        self._layer_names.add(layer.name)

    def _names(self):
        """The names of the layers, as a set kept beside the list (checked at each add)."""
        names = getattr(self, "_layer_names", None)
        if names is None or len(names) != len(self._layers):
            names = self._layer_names = {l.name for l in self._layers}
        return names

    def _build_last(self):
        """Build the last layer from the output shape of the one before (the rest is built)."""
        layer = self._layers[-1]
        shape = self._output_shapes[-1] if self._output_shapes else self._build_input_shape
        layer._maybe_build(shape)
        out = layer.compute_output_shape(shape)
        if isinstance(out, list):
            raise ValueError(f"{self.name}: layer {layer.name!r} has {len(out)} outputs; "
                             f"every layer of a Sequential must have one (use Model)")
        self._output_shapes.append(tuple(out))

    def pop(self):
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError(f"{self.name}: there are no layers in the model")
        layer = self._layers.pop()
        self._names().discard(layer.name)
        self._output_shapes = self._output_shapes[:len(self._layers)]
        if not self._layers and self._input_layer is None:
            self._input_batch_shape = None
            self._build_input_shape = None
            self.built = False
        return layer

    def build(self, input_shape=None):
        """Build every layer for inputs of ``input_shape`` (batch axis included)."""
        if input_shape is None:
            input_shape = self._input_batch_shape
        if input_shape is None:
            raise ValueError(
                f"{self.name}: this model has not yet been built. Build it first by calling "
                f"build(input_shape) or by calling it on a batch of data, or give the first "
                f"layer an input_shape (or start with an Input(...)).")
        shape = tuple(input_shape)
        output_shapes = []
        for layer in self._layers:
            layer._maybe_build(shape)
            shape = layer.compute_output_shape(shape)
            if isinstance(shape, list):
                raise ValueError(f"{self.name}: layer {layer.name!r} has {len(shape)} outputs; "
                                 f"every layer of a Sequential must have one (use Model)")
            shape = tuple(shape)
            output_shapes.append(shape)
        self._output_shapes = output_shapes
        self._input_batch_shape = self._build_input_shape = tuple(input_shape)
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build((None,) + tuple(input_shape)[1:])   # any batch size

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    # ---- running ---------------------------------------------------------------------------
    def forward(self, x, training=False, mask=None):
        """Run the layers in order, each on the previous output and mask."""
        if not self._layers:
            raise ValueError(f"{self.name}: the model has no layers")
        self._maybe_build(np.shape(x))
        if self._input_layer is not None:
            x = self._input_layer.check_input(x)
        caches = []
        for layer in self._layers:
            y = layer.forward(x, training=training, mask=mask)
            if isinstance(y, (list, tuple)):
                raise ValueError(f"{self.name}: layer {layer.name!r} returned {len(y)} outputs; "
                                 f"every layer of a Sequential must return one array")
            mask = layer.compute_mask(x, mask)
            caches.append(layer._cache)
            x = y
        self._cache = {"caches": caches, "output_mask": mask}
        return x

    def backward(self, dy):
        """The input gradient from ``dy``, running every layer's backward in reverse."""
        if not self._cache:
            raise RuntimeError(f"{self.name}: backward() needs a forward() first")
        for i in reversed(range(len(self._layers))):
            layer = self._layers[i]
            layer._cache = self._cache["caches"][i]
            dy = layer.backward(dy)
            if isinstance(dy, (list, tuple)):
                dy = dy[0]
            if dy is None:
                if i > 0:
                    raise ValueError(f"{self.name}: layer {layer.name!r} returned no input "
                                     f"gradient, so the layers before it cannot be trained")
                return None
        return dy

    # ---- config ----------------------------------------------------------------------------
    def get_config(self):
        layers = [serialize(layer) for layer in self._layers]
        if self._input_layer is not None:
            layers.insert(0, serialize(self._input_layer))
        cfg = {"name": self.name, "trainable": self.trainable, "layers": layers}
        if self.built and self._build_input_shape is not None:
            cfg["build_input_shape"] = list(self._build_input_shape)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for spec in config["layers"]:
            model.add(deserialize(spec, custom_objects))
        if config.get("build_input_shape") is not None and not model.built:
            model.build(tuple(config["build_input_shape"]))
        return model
