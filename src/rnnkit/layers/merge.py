"""Merge layers: combine a list of tensors into one (functional API).

``Concatenate(axis)`` joins along an axis; ``Add``, ``Subtract``, ``Multiply``, ``Average``,
``Maximum``, ``Minimum`` work element by element, broadcasting axes of size 1 as NumPy does
(inputs must have the same rank). ``backward(dy)`` returns one gradient per input, a list::

    >>> import numpy as np
    >>> from rnnkit.layers.merge import Concatenate
    >>> cat = Concatenate()
    >>> cat([np.ones((2, 3)), np.zeros((2, 1))]).shape
    (2, 4)
    >>> [g.shape for g in cat.backward(np.ones((2, 4)))]
    [(2, 3), (2, 1)]

Masks follow Keras 3: an element-wise merge keeps a step when *any* input keeps it and drops
the mask when some input has none; ``Concatenate`` expands each mask over its input's features
(all ones for an unmasked input), concatenates them and keeps a step where any is kept.
"""

import numpy as np

from .base import Layer


def _unbroadcast(g, shape):
    """Sum ``g`` over the axes where an input of ``shape`` was broadcast (size 1 -> n)."""
    axes = tuple(i for i, (n, s) in enumerate(zip(g.shape, shape)) if s == 1 and n != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


class _Merge(Layer):
    """Base of the element-wise merges: checks a list input, broadcasts, merges masks."""

    supports_masking = True
    min_inputs = 1
    max_inputs = None

    def _check_inputs(self, inputs, what="inputs"):
        shapes = what == "input shapes"
        if not isinstance(inputs, (list, tuple)) or (
                shapes and not all(isinstance(s, (list, tuple)) for s in inputs)):
            raise ValueError(f"{self.name}: a merge layer must be called on a list of tensors, "
                             f"got {'input shape ' + str(inputs) if shapes else type(inputs)}")
        n = len(inputs)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (f"exactly {self.min_inputs}" if self.max_inputs == self.min_inputs
                    else f"at least {self.min_inputs}")
            raise ValueError(f"{self.name}: expected {want} {what}, got {n}")

    def build(self, input_shape):
        self._check_inputs(input_shape, "input shapes")
        self.compute_output_shape(input_shape)  # validates the shapes
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape, "input shapes")
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise ValueError(f"{self.name}: inputs must have the same rank, got shapes "
                             f"{[tuple(s) for s in input_shape]}")
        out = list(input_shape[0])
        for shape in input_shape[1:]:
            for k, (a, b) in enumerate(zip(out, shape)):
                if a is None or b is None:
                    out[k] = b if a == 1 else a if b == 1 else None
                elif a == 1:
                    out[k] = b
                elif b != 1 and a != b:
                    raise ValueError(f"{self.name}: inputs with shapes "
                                     f"{[tuple(s) for s in input_shape]} cannot be merged "
                                     f"element-wise (axis {k}: {a} vs {b})")
        return tuple(out)

    def forward(self, inputs, training=False, mask=None):
        self._check_inputs(inputs)
        xs = [np.asarray(x) for x in inputs]
        self.compute_output_shape([x.shape for x in xs])
        y = self._merge(xs)
        self._cache = ([x.shape for x in xs], xs, y)
        return y

    def backward(self, dy):
        shapes, xs, y = self._cache
        return [_unbroadcast(g, s) for g, s in zip(self._grads(dy, xs, y), shapes)]

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, (list, tuple)):
            return None
        if any(m is None for m in mask):
            return None
        out = np.asarray(mask[0], dtype=bool)
        for m in mask[1:]:
            out = np.logical_or(out, m)
        return out


class Add(_Merge):
    """``y = x_1 + x_2 + ... + x_n``."""

    def _merge(self, xs):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y

    def _grads(self, dy, xs, y):
        return [dy] * len(xs)                       # dy/dx_i = 1


class Subtract(_Merge):
    """``y = x_1 - x_2`` (exactly two inputs)."""

    min_inputs = max_inputs = 2

    def _merge(self, xs):
        return xs[0] - xs[1]

    def _grads(self, dy, xs, y):
        return [dy, -dy]


class Multiply(_Merge):
    """``y = x_1 * x_2 * ... * x_n`` element by element."""

    def _merge(self, xs):
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y

    def _grads(self, dy, xs, y):
        grads = []
        for i in range(len(xs)):                    # dy/dx_i = product of the others
            g = dy
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x
            grads.append(g)
        return grads


class Average(_Merge):
    """``y = (x_1 + ... + x_n) / n``."""

    def _merge(self, xs):
        return Add._merge(self, xs) / len(xs)

    def _grads(self, dy, xs, y):
        return [dy / len(xs)] * len(xs)


class Maximum(_Merge):
    """``y = max(x_1, ..., x_n)`` element by element; on ties the first input gets the gradient."""

    _pick = staticmethod(np.greater)

    def _merge(self, xs):
        y = xs[0]
        for x in xs[1:]:
            y = np.where(self._pick(x, y), x, y)
        return y

    def _grads(self, dy, xs, y):
        shape = np.broadcast_shapes(*[x.shape for x in xs])
        taken = np.zeros(shape, dtype=bool)
        grads = []
        for x in xs:
            won = (np.broadcast_to(x, shape) == y) & ~taken   # the first input equal to y
            taken |= won
            grads.append(np.where(won, dy, 0).astype(dy.dtype, copy=False))
        return grads


class Minimum(Maximum):
    """``y = min(x_1, ..., x_n)`` element by element; on ties the first input gets the gradient."""

    _pick = staticmethod(np.less)


class Concatenate(Layer):
    """Join a list of tensors along ``axis``; every other axis must agree.

    Args:
        axis: the axis to join along (default -1, the features).
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _check(self, shapes):
        if not isinstance(shapes, (list, tuple)) or not shapes or not isinstance(
                shapes[0], (list, tuple)):
            raise ValueError(f"{self.name}: Concatenate must be called on a list of tensors, "
                             f"got input shape {shapes}")
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise ValueError(f"{self.name}: inputs must have the same rank, got shapes "
                             f"{[tuple(s) for s in shapes]}")
        rank = ranks.pop()
        if not -rank <= self.axis < rank:
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for rank {rank}")
        axis = self.axis % rank
        for k in range(rank):
            sizes = {s[k] for s in shapes} - {None}
            if k != axis and len(sizes) > 1:
                raise ValueError(f"{self.name}: inputs must match except on the concatenation "
                                 f"axis {self.axis}, got shapes {[tuple(s) for s in shapes]}")
        return axis

    def build(self, input_shape):
        self._check(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        axis = self._check(input_shape)
        out = list(input_shape[0])
        for k in range(len(out)):
            if k == axis:
                sizes = [s[k] for s in input_shape]
                out[k] = None if None in sizes else int(sum(sizes))
            else:
                out[k] = next((s[k] for s in input_shape if s[k] is not None), None)
        return tuple(out)

    def forward(self, inputs, training=False, mask=None):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self.name}: Concatenate must be called on a list of tensors, "
                             f"got {type(inputs).__name__}")
        xs = [np.asarray(x) for x in inputs]
        axis = self._check([x.shape for x in xs])
        y = np.concatenate(xs, axis=axis)
        self._cache = (axis, [x.shape[axis] for x in xs])
        return y

    def backward(self, dy):
        axis, sizes = self._cache
        cuts = np.cumsum(sizes)[:-1]
        return list(np.split(dy, cuts, axis=axis))    # each input's slice of dy

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, (list, tuple)):
            return None
        if all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask):
            shape = np.shape(x)
            if m is None:
                masks.append(np.ones(shape, dtype=bool))
            elif np.ndim(m) < len(shape):
                masks.append(np.broadcast_to(np.expand_dims(m, -1), shape))
            else:
                masks.append(np.asarray(m, dtype=bool))
        return np.any(np.concatenate(masks, axis=self.axis), axis=-1)

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg
