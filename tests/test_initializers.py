"""Initializers: names and classes, shapes and dtype, seeds, statistics against the Keras
formulas, orthogonality, constants, serialize/get round trips, errors."""

import json
import math

import numpy as np
import pytest

import rnnkit
from rnnkit import initializers as init

CLASSES = {
    "glorot_uniform": init.GlorotUniform, "glorot_normal": init.GlorotNormal,
    "he_uniform": init.HeUniform, "he_normal": init.HeNormal, "lecun_normal": init.LecunNormal,
    "orthogonal": init.Orthogonal, "zeros": init.Zeros, "ones": init.Ones,
    "random_uniform": init.RandomUniform, "random_normal": init.RandomNormal,
    "constant": init.Constant, "variance_scaling": init.VarianceScaling,
}
SEEDED = sorted(set(CLASSES) - {"zeros", "ones", "constant"})


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_get_by_name_gives_the_class_with_shape_and_floatx_dtype(name):
    obj = init.get(name)
    assert type(obj) is CLASSES[name]
    w = obj((6, 9))
    assert w.shape == (6, 9) and w.dtype == np.float32
    assert init.get(obj) is obj
    rnnkit.config.set_floatx("float64")
    assert obj((6, 9)).dtype == np.float64
    assert obj((6, 9), dtype="float16").dtype == np.float16


@pytest.mark.parametrize("name", SEEDED)
def test_same_seed_same_values_different_seed_different(name):
    cls = CLASSES[name]
    a, b, c = cls(seed=1)((8, 12)), cls(seed=1)((8, 12)), cls(seed=2)((8, 12))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    layer_init = cls(seed=3)
    np.testing.assert_array_equal(layer_init((8, 12)), layer_init((8, 12)))  # int seed: fixed


@pytest.mark.parametrize("name", SEEDED)
def test_unseeded_draws_follow_set_random_seed(name):
    cls = CLASSES[name]
    rnnkit.random.set_random_seed(5)
    a1, a2 = cls()((8, 12)), cls()((8, 12))
    rnnkit.random.set_random_seed(5)
    b1, b2 = cls()((8, 12)), cls()((8, 12))
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.allclose(a1, a2)                            # fresh draws each call


FAN_IN, FAN_OUT = 400, 600
# name: (target variance, bound on |w| or None, distribution)
TARGETS = {
    "glorot_uniform": (2 / (FAN_IN + FAN_OUT), math.sqrt(6 / (FAN_IN + FAN_OUT)), "uniform"),
    "he_uniform": (2 / FAN_IN, math.sqrt(6 / FAN_IN), "uniform"),
    "glorot_normal": (2 / (FAN_IN + FAN_OUT),
                      2 * math.sqrt(2 / (FAN_IN + FAN_OUT)) / 0.8796256610342398, "truncated"),
    "he_normal": (2 / FAN_IN, 2 * math.sqrt(2 / FAN_IN) / 0.8796256610342398, "truncated"),
    "lecun_normal": (1 / FAN_IN, 2 * math.sqrt(1 / FAN_IN) / 0.8796256610342398, "truncated"),
    "random_uniform": (0.1 ** 2 / 12, 0.05, "uniform"),
    "random_normal": (0.05 ** 2, None, "normal"),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_statistics_match_the_keras_formulas(name):
    variance, bound, dist = TARGETS[name]
    w = init.get(name)((FAN_IN, FAN_OUT), dtype="float64")     # 240,000 draws
    # relative std of a sample variance is below 0.3% here: 3% is a 10-sigma margin
    assert abs(w.var() / variance - 1) < 0.03, (w.var(), variance)
    assert abs(w.mean()) < 5 * math.sqrt(variance / w.size)
    if bound is not None:
        assert np.abs(w).max() <= bound
        # the draws reach the bound: a narrower distribution would fail this
        assert np.abs(w).max() > 0.95 * bound
    if dist == "normal":                                        # untruncated: tails beyond 2 std
        assert np.abs(w).max() > 3 * math.sqrt(variance)


def test_variance_scaling_modes_and_distributions():
    shape = (300, 700)
    for mode, fan in (("fan_in", 300), ("fan_out", 700), ("fan_avg", 500)):
        for dist in ("truncated_normal", "untruncated_normal", "uniform"):
            w = init.VarianceScaling(3.0, mode, dist, seed=0)(shape, dtype="float64")
            assert abs(w.var() / (3.0 / fan) - 1) < 0.03, (mode, dist)
    with pytest.raises(ValueError, match="VarianceScaling: unknown mode 'fan_x'"):
        init.VarianceScaling(mode="fan_x")
    with pytest.raises(ValueError, match="VarianceScaling: unknown distribution 'normal'"):
        init.VarianceScaling(distribution="normal")


def test_fans_of_1d_and_conv_shapes():
    # (n,): both fans n; (3, 3, 4, 8): receptive field 9, fan_in 36
    w = init.HeUniform(seed=0)((10000,), dtype="float64")
    assert np.abs(w).max() <= math.sqrt(6 / 10000) and np.abs(w).max() > 0.99 * math.sqrt(6 / 10000)
    w = init.HeUniform(seed=0)((3, 3, 4, 8), dtype="float64")
    assert w.shape == (3, 3, 4, 8) and np.abs(w).max() <= math.sqrt(6 / 36)
    assert np.abs(w).max() > 0.9 * math.sqrt(6 / 36)
    assert init.Zeros()(5).shape == (5,)                        # an int shape works


@pytest.mark.parametrize("H", [3, 16])
def test_orthogonal_recurrent_shapes(float64, H):
    # (H, 4H): rows orthonormal; (4H, H): columns orthonormal
    wide = init.Orthogonal(seed=1)((H, 4 * H))
    np.testing.assert_allclose(wide @ wide.T, np.eye(H), atol=1e-12)
    tall = init.Orthogonal(seed=1)((4 * H, H))
    np.testing.assert_allclose(tall.T @ tall, np.eye(H), atol=1e-12)
    square = init.Orthogonal(gain=2.0, seed=1)((H, H))
    np.testing.assert_allclose(square @ square.T, 4.0 * np.eye(H), atol=1e-12)
    np.testing.assert_allclose(square.T @ square, 4.0 * np.eye(H), atol=1e-12)


def test_orthogonal_flattens_leading_axes_and_rejects_vectors():
    w = init.Orthogonal(seed=2)((2, 3, 4), dtype="float64").reshape(6, 4)
    np.testing.assert_allclose(w.T @ w, np.eye(4), atol=1e-12)
    with pytest.raises(ValueError, match=r"orthogonal: expected a shape of rank >= 2, got \(5,\)"):
        init.Orthogonal()((5,))


def test_constants():
    np.testing.assert_array_equal(init.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.Ones()((4,)), np.ones(4))
    np.testing.assert_array_equal(init.Constant(2.5)((2, 2)), np.full((2, 2), 2.5))
    assert init.get("constant")((1,))[0] == 0.0


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_serialize_get_roundtrip(name):
    obj = init.get(name)
    if name in SEEDED:
        obj.seed = 7
    elif name == "constant":
        obj = init.Constant(-1.25)
    cfg = init.serialize(obj)
    assert cfg["class_name"] == name
    back = init.get(json.loads(json.dumps(cfg)))
    assert type(back) is type(obj) and init.serialize(back) == cfg
    np.testing.assert_array_equal(back((5, 7)), obj((5, 7)))


def test_serialize_keeps_non_default_arguments():
    obj = init.RandomUniform(-0.2, 0.3, seed=4)
    assert init.serialize(obj) == {"class_name": "random_uniform",
                                   "config": {"minval": -0.2, "maxval": 0.3, "seed": 4}}
    back = init.get(init.serialize(init.Orthogonal(gain=0.5, seed=1)))
    assert back.gain == 0.5 and back.seed == 1


def test_unknown_names_and_objects():
    with pytest.raises(ValueError, match=r"unknown initializer 'glorot'; expected one of \[.*"
                                         r"'glorot_uniform'"):
        init.get("glorot")
    with pytest.raises(ValueError, match=r"unknown initializer \{'class_name': 'nope'"):
        init.get({"class_name": "nope", "config": {}})
    with pytest.raises(ValueError, match="cannot serialize initializer"):
        init.serialize(lambda shape, dtype=None: np.zeros(shape))
