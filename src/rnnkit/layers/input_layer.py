"""``Input``: where a functional graph starts.

``Input(shape)`` makes an :class:`InputLayer` and returns its one symbolic output, a tensor of
shape ``(batch_size,) + shape`` that layers are then called on::

    >>> from rnnkit.layers import Input, clear_session
    >>> clear_session()                       # fresh names
    >>> x = Input(shape=(None, 8))            # (batch, time, features), any batch and length
    >>> x.shape, x.node.layer.name
    ((None, None, 8), 'input_layer')

Names follow Keras 3: "input_layer", "input_layer_1", ... (tf.keras 2 said "input_1").
In a model, the layer's forward is the identity and its backward passes the gradient through.
"""

import numpy as np

from .. import config
from .base import Layer
from .symbolic import Node, SymbolicTensor


class InputLayer(Layer):
    """The source of a functional graph: holds the input's static ``batch_shape`` and ``dtype``.

    Args:
        shape: the shape of one sample, without the batch axis (``None`` for unknown sizes).
        batch_size: the batch size when it is fixed, else None.
        dtype: the dtype of the data fed here (default ``floatx()``; "int32" for token ids).
        batch_shape: the whole shape, batch axis included (instead of ``shape``/``batch_size``).
    """

    any_dtype = True        # the data's dtype ("int32" for token ids), not a weight type

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
                 **kwargs):
        if "batch_input_shape" in kwargs:     # the tf.keras 2 spelling
            batch_shape = kwargs.pop("batch_input_shape")
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        kwargs.pop("trainable", None)
        if kwargs:
            raise TypeError(f"InputLayer: unexpected arguments {sorted(kwargs)}")
        if shape is not None and batch_shape is not None:
            raise ValueError("InputLayer: give either shape or batch_shape, not both")
        if batch_size is not None and batch_shape is not None:
            raise ValueError("InputLayer: give either batch_size or batch_shape, not both")
        if shape is None and batch_shape is None:
            raise ValueError("InputLayer: you must give a shape, e.g. Input(shape=(None, 8))")
        if shape is not None:
            if isinstance(shape, (int, np.integer)) or shape is None:
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        super().__init__(name=name, dtype=dtype)
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self._tensor_dtype = str(np.dtype(dtype)) if dtype is not None else config.floatx()
        node = Node(self, [], None, {})
        tensor = SymbolicTensor(self.batch_shape, self._tensor_dtype, node, 0, name=self.name)
        node.outputs = [tensor]
        self._inbound_nodes.append(node)
        self.built = True
        self._build_input_shape = self.batch_shape

    @property
    def dtype(self):
        return self._tensor_dtype

    @property
    def input(self):
        return self._inbound_nodes[0].outputs[0]

    @property
    def output(self):
        return self._inbound_nodes[0].outputs[0]

    def check_input(self, x):
        """``x`` as an array, after checking its rank and the sizes this input fixes."""
        x = np.asarray(x)
        want = self.batch_shape
        if x.ndim != len(want) or any(w is not None and w != d for w, d in zip(want, x.shape)):
            raise ValueError(f"{self.name}: expected an array of shape {want} "
                             f"(None = any size), got shape {x.shape}")
        return x

    def forward(self, x, training=False, mask=None):
        return x

    def backward(self, dy):
        return dy

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self._tensor_dtype,
                "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):
    """A symbolic tensor of shape ``(batch_size,) + shape`` to call layers on (functional API).

    >>> from rnnkit.layers.input_layer import Input
    >>> Input((10,), dtype="int32").shape
    (None, 10)
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                       batch_shape=batch_shape)
    return layer.output
