"""Merge layers: values, gradients by central differences (float64), masks, shapes, errors."""

import numpy as np
import pytest

from gradcheck import assert_close, numeric_grad
from rnnkit.layers.input_layer import Input
from rnnkit.layers.merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply,
                                 Subtract)
from rnnkit.layers.registry import deserialize, serialize


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def check_merge_gradients(layer, xs, seed=0):
    """backward against central differences of L = sum(w * layer(xs)) for every input."""
    w = np.random.default_rng(seed + 100).standard_normal(layer.forward(xs).shape)

    def loss():
        return float(np.sum(w * layer.forward(xs)))

    loss()
    grads = layer.backward(w)
    assert isinstance(grads, list) and len(grads) == len(xs)
    for i, x in enumerate(xs):
        assert_close(grads[i], numeric_grad(loss, x), what=f"{layer.name} d input {i}")


CASES = [
    (Add, lambda a, b, c: a + b + c),
    (Multiply, lambda a, b, c: a * b * c),
    (Average, lambda a, b, c: (a + b + c) / 3),
    (Maximum, lambda a, b, c: np.maximum(np.maximum(a, b), c)),
    (Minimum, lambda a, b, c: np.minimum(np.minimum(a, b), c)),
]


@pytest.mark.parametrize("cls, ref", CASES, ids=[c[0].__name__ for c in CASES])
def test_elementwise_values_and_gradients(float64, cls, ref):
    a, b, c = rand(4, 3), rand(4, 3, seed=1), rand(4, 3, seed=2)
    layer = cls()
    assert_close(layer([a, b, c]), ref(a, b, c))
    check_merge_gradients(layer, [a, b, c])


@pytest.mark.parametrize("cls", [Add, Multiply, Average, Maximum])
def test_broadcast_axes_of_size_one(float64, cls):
    a, b = rand(4, 5, 3), rand(4, 1, 3, seed=1)    # b is broadcast over the time axis
    layer = cls()
    assert layer([a, b]).shape == (4, 5, 3)
    check_merge_gradients(layer, [a, b])
    assert layer.compute_output_shape([(None, 5, 3), (None, 1, 3)]) == (None, 5, 3)


def test_subtract(float64):
    a, b = rand(2, 3), rand(2, 3, seed=1)
    layer = Subtract()
    assert_close(layer([a, b]), a - b)
    check_merge_gradients(layer, [a, b])
    with pytest.raises(ValueError, match="exactly 2 inputs, got 3"):
        layer([a, b, a])


def test_maximum_gives_ties_to_the_first_input():
    a = np.array([[1.0, 2.0]])
    layer = Maximum()
    layer([a, a.copy(), np.array([[0.0, 2.0]])])
    grads = layer.backward(np.array([[10.0, 20.0]]))
    assert np.array_equal(grads[0], [[10.0, 20.0]])
    assert np.array_equal(grads[1], [[0.0, 0.0]]) and np.array_equal(grads[2], [[0.0, 0.0]])


@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_concatenate_values_and_gradients(float64, axis):
    shapes = {-1: [(2, 3, 4), (2, 3, 1)], 1: [(2, 3, 4), (2, 2, 4)], 0: [(2, 3, 4), (1, 3, 4)]}
    xs = [rand(*s, seed=i) for i, s in enumerate(shapes[axis])]
    layer = Concatenate(axis=axis)
    assert_close(layer(xs), np.concatenate(xs, axis=axis))
    check_merge_gradients(layer, xs)


def test_concatenate_shapes_and_errors():
    layer = Concatenate()
    assert layer.compute_output_shape([(None, 5, 3), (None, 5, 2)]) == (None, 5, 5)
    assert layer.compute_output_shape([(None, None, 3), (None, 5, 2)]) == (None, 5, 5)
    assert Concatenate(axis=1).compute_output_shape([(None, None, 3), (None, 5, 3)]) == (
        None, None, 3)
    with pytest.raises(ValueError, match="must match except on the concatenation axis"):
        layer.compute_output_shape([(None, 4, 3), (None, 5, 2)])
    with pytest.raises(ValueError, match="list of tensors"):
        layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match="same rank"):
        layer([np.ones((2, 3)), np.ones((2, 3, 1))])


def test_elementwise_shape_errors():
    with pytest.raises(ValueError, match="cannot be merged element-wise"):
        Add()([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="list of tensors"):
        Add()(np.ones((2, 3)))
    assert Add().compute_output_shape([(None, None, 3), (None, 7, 3)]) == (None, None, 3)


def test_symbolic_calls():
    a, b = Input((None, 3)), Input((None, 2))
    assert Concatenate()([a, b]).shape == (None, None, 5)
    assert Add()([a, Input((1, 3))]).shape == (None, None, 3)


def test_elementwise_masks_or_together_and_drop_when_one_is_missing():
    m1 = np.array([[True, False, False]])
    m2 = np.array([[False, True, False]])
    xs = [np.ones((1, 3, 2))] * 2
    assert np.array_equal(Add().compute_mask(xs, [m1, m2]), [[True, True, False]])
    assert Add().compute_mask(xs, [m1, None]) is None
    assert Add().compute_mask(xs, None) is None


def test_concatenate_masks():
    x1, x2 = np.ones((1, 3, 2)), np.ones((1, 3, 4))
    m1 = np.array([[True, True, False]])
    m2 = np.array([[True, False, False]])
    layer = Concatenate()
    # along the features: a step is kept when any input keeps it (Keras 3)
    assert np.array_equal(layer.compute_mask([x1, x2], [m1, m2]), [[True, True, False]])
    assert np.array_equal(layer.compute_mask([x1, x2], [m1, None]), [[True, True, True]])
    assert layer.compute_mask([x1, x2], [None, None]) is None
    # along time: the masks are joined
    joined = Concatenate(axis=1).compute_mask([x1, x1], [m1, m2])
    assert np.array_equal(joined, [[True, True, False, True, False, False]])


def test_config_round_trip():
    layer = Concatenate(axis=1, name="cat")
    again = deserialize(serialize(layer))
    assert type(again) is Concatenate and again.axis == 1 and again.name == "cat"
    assert again.get_config() == layer.get_config()
