"""Activations: values and derivatives against torch.nn.functional / autograd and central
differences in float64; get() by name, object and None; errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradcheck import assert_close, numeric_grad
from rnnkit import activations

# Keras 3's hard_sigmoid is relu6(x + 3) / 6, which is torch's hardsigmoid.
TORCH = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "hard_sigmoid": F.hardsigmoid,
    "linear": lambda t: t,
    "softmax": lambda t: F.softmax(t, dim=-1),
    "softplus": F.softplus,
    "softsign": F.softsign,
    "elu": F.elu,
    "selu": F.selu,
    "swish": F.silu,
    "silu": F.silu,
    "gelu": lambda t: F.gelu(t, approximate="none"),
}
ELEMENTWISE = sorted(set(TORCH) - {"softmax"})


def test_every_activation_has_a_torch_reference():
    assert set(activations.names()) == set(TORCH)


def _points(rng, shape=(6, 8), lo=-5.0, hi=5.0):
    """Random points in [lo, hi] kept at least 0.05 away from the kinks at 0 and +-3."""
    x = rng.uniform(lo, hi, shape)
    for kink in (-3.0, 0.0, 3.0):
        near = np.abs(x - kink) < 0.05
        x[near] = kink + 0.1
    return x


@pytest.mark.parametrize("name", sorted(TORCH))
@pytest.mark.parametrize("lo,hi", [(-5.0, 5.0), (-18.0, 18.0)])
def test_values_match_torch(name, lo, hi):
    x = _points(np.random.default_rng(0), lo=lo, hi=hi)
    y = activations.get(name)(x)
    assert y.dtype == np.float64 and y.shape == x.shape
    assert_close(y, TORCH[name](torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-14, what=name)


@pytest.mark.parametrize("name", sorted(TORCH))
def test_vjp_matches_torch_autograd(name):
    rng = np.random.default_rng(1)
    x = _points(rng)
    dy = rng.standard_normal(x.shape)
    xt = torch.tensor(x, requires_grad=True)
    TORCH[name](xt).backward(torch.tensor(dy))
    act = activations.get(name)
    assert_close(act.vjp(x, act(x), dy), xt.grad.numpy(), what=f"{name} vjp")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_autograd_and_central_differences(name):
    x = _points(np.random.default_rng(2))
    act = activations.get(name)
    xt = torch.tensor(x, requires_grad=True)
    TORCH[name](xt).sum().backward()
    d = act.derivative(x)
    assert_close(d, xt.grad.numpy(), what=f"{name}' vs autograd")
    assert_close(act.derivative(x, act(x)), d, rtol=1e-15, what=f"{name}' given y")
    h = 1e-6
    central = (act(x + h) - act(x - h)) / (2 * h)
    assert_close(d, central, what=f"{name}' vs central differences")


def test_softmax_vjp_by_central_differences_and_no_elementwise_derivative():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5)) * 3
    w = rng.standard_normal((4, 5))
    num = numeric_grad(lambda: float(np.sum(w * activations.softmax(x))), x)
    assert_close(activations.softmax.vjp(x, None, w), num, what="softmax vjp")
    y = activations.softmax(x)
    assert_close(y.sum(axis=-1), np.ones(4), rtol=1e-15, what="rows sum to 1")
    with pytest.raises(TypeError, match="softmax has no elementwise derivative"):
        activations.softmax.derivative(x)


def test_golden_values_and_stability():
    hs = activations.hard_sigmoid(np.array([-4.0, -3.0, 0.0, 1.5, 3.0, 4.0]))
    np.testing.assert_array_equal(hs, [0.0, 0.0, 0.5, 0.75, 1.0, 1.0])
    np.testing.assert_array_equal(activations.sigmoid(np.array([-800.0, 0.0, 800.0])),
                                  [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(activations.softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])
    assert activations.softplus(np.array(800.0)) == 800.0
    assert activations.relu.derivative(np.array(0.0)) == 0.0        # Keras/torch convention
    with np.errstate(all="raise"):                                  # no overflow warnings
        activations.elu(np.array([-800.0, 800.0]))
        activations.selu(np.array([-800.0, 800.0]))


@pytest.mark.parametrize("name", sorted(TORCH))
def test_float32_in_float32_out(name):
    x = _points(np.random.default_rng(4)).astype(np.float32)
    act = activations.get(name)
    y = act(x)
    assert y.dtype == np.float32
    assert act.vjp(x, y, np.ones_like(x)).dtype == np.float32


def test_get_by_name_object_none_and_serialize():
    assert activations.get("tanh") is activations.tanh
    assert activations.get(activations.relu) is activations.relu
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.get("silu") is activations.swish
    for name in activations.names():
        act = activations.get(name)
        assert activations.get(activations.serialize(act)) is act
        assert act.name in activations.names() and repr(act) == f"<activation {act.name}>"


@pytest.mark.parametrize("bad", ["nope", "Tanh", 3])
def test_unknown_activation_error_lists_the_names(bad):
    with pytest.raises(ValueError, match=rf"unknown activation {bad!r}; "
                                         rf"expected one of \[.*'tanh'"):
        activations.get(bad)
