"""Optimizers: multi-step parity with torch.optim (float64), Keras's formulas written out by hand
as golden references where Keras and PyTorch differ, clipping vs torch.nn.utils, state
round trips, learning-rate changes, config and errors."""

import math

import numpy as np
import pytest
import torch

from gradcheck import assert_close
from rnnkit.layers.weight import Weight
from rnnkit.training import optimizers
from rnnkit.training.optimizers import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    RMSprop,
    clip_gradients,
)

SHAPES = [(3, 4), (4,), (2, 3, 2)]
STEPS = 5


def make_weights(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [Weight(rng.standard_normal(s).astype(dtype), f"w{i}", path=f"layer/w{i}")
            for i, s in enumerate(SHAPES)]


def grad_stream(seed=1, steps=STEPS, scale=1.0):
    rng = np.random.default_rng(seed)
    return [[scale * rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]


def run_ours(opt, grads, weights=None):
    weights = weights or make_weights()
    for step in grads:
        for w, g in zip(weights, step):
            w.grad[...] = g
        opt.apply(weights)
    return [w.value.copy() for w in weights]


def run_torch(make_opt, grads, clip=None):
    params = [torch.tensor(w.value.copy(), requires_grad=True) for w in make_weights()]
    opt = make_opt(params)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g)
        if clip is not None:
            clip(params)
        opt.step()
    return [p.detach().numpy() for p in params]


def assert_all_close(ours, ref, rtol=1e-6, what=""):
    for i, (a, b) in enumerate(zip(ours, ref)):
        assert_close(a, b, rtol=rtol, atol=1e-12, what=f"{what} w{i}")


# Where Keras and PyTorch put epsilon differently, the comparison uses epsilon = 0 on both
# sides: then the two update rules are algebraically identical (shown in each class's
# docstring), so any difference left is rounding. SGD and RMSprop momentum buffers differ by a
# factor lr, which cancels while lr is constant (it is here). Keras's own epsilon placement is
# checked against the hand-written Keras formulas further down.
TORCH_CASES = [
    ("sgd", lambda: SGD(learning_rate=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd_momentum", lambda: SGD(learning_rate=0.05, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("sgd_nesterov", lambda: SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    ("adam", lambda: Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.95, epsilon=0.0),
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.95), eps=0.0)),
    ("adam_amsgrad", lambda: Adam(learning_rate=0.01, epsilon=0.0, amsgrad=True),
     lambda p: torch.optim.Adam(p, lr=0.01, eps=0.0, amsgrad=True)),
    ("adamw", lambda: AdamW(learning_rate=0.01, weight_decay=0.1, epsilon=0.0),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=0.0)),
    ("rmsprop", lambda: RMSprop(learning_rate=0.01, rho=0.8, epsilon=0.0),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.8, eps=0.0)),
    ("rmsprop_centered", lambda: RMSprop(learning_rate=0.01, epsilon=0.0, centered=True),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0, centered=True)),
    ("rmsprop_momentum", lambda: RMSprop(learning_rate=0.01, momentum=0.7, epsilon=0.0),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0, momentum=0.7)),
    ("rmsprop_centered_momentum",
     lambda: RMSprop(learning_rate=0.01, momentum=0.5, epsilon=0.0, centered=True),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0, momentum=0.5,
                                   centered=True)),
    ("adagrad", lambda: Adagrad(learning_rate=0.1, epsilon=0.0),
     lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=0.0)),
]


@pytest.mark.parametrize("name,ours,theirs", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_multi_step_parity_with_torch(name, ours, theirs):
    grads = grad_stream()
    got = run_ours(ours(), grads)
    assert_all_close(got, run_torch(theirs, grads), what=name)
    assert not np.allclose(got[0], make_weights()[0].value)     # the weights did move


# ---- Keras's formulas, written out from keras/src/optimizers/*.py, default epsilons ----------

def keras_sgd(w, grads, lr, momentum, nesterov, weight_decay=None):
    m = np.zeros_like(w)
    for g, lr_t in zip(grads, lr):
        if weight_decay is not None:
            w = w - w * weight_decay * lr_t
        m = m * momentum - g * lr_t
        w = w + (m * momentum - g * lr_t if nesterov else m)
    return w


def keras_adam(w, grads, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
               weight_decay=None):
    m, v, v_hat = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for i, (g, lr_t) in enumerate(zip(grads, lr)):
        if weight_decay is not None:
            w = w - w * weight_decay * lr_t
        t = i + 1
        alpha = lr_t * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        if amsgrad:
            v_hat = np.maximum(v_hat, v)
            w = w - m * alpha / (np.sqrt(v_hat) + epsilon)
        else:
            w = w - m * alpha / (np.sqrt(v) + epsilon)
    return w


def keras_rmsprop(w, grads, lr, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    v, a, mom = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g, lr_t in zip(grads, lr):
        v = rho * v + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            increment = lr_t * g / np.sqrt(v - a * a + epsilon)
        else:
            increment = lr_t * g / np.sqrt(v + epsilon)
        if momentum > 0:
            mom = momentum * mom + increment
            w = w - mom
        else:
            w = w - increment
    return w


def keras_adagrad(w, grads, lr, initial_accumulator_value=0.1, epsilon=1e-7):
    acc = np.full_like(w, initial_accumulator_value)
    for g, lr_t in zip(grads, lr):
        acc = acc + g * g
        w = w - lr_t * g / np.sqrt(acc + epsilon)
    return w


LRS = [0.1, 0.1, 0.05, 0.05, 0.02]          # changed between steps, as a scheduler does
GOLDEN_CASES = [
    ("sgd_momentum", lambda: SGD(0.1, momentum=0.9),
     lambda w, g, lr: keras_sgd(w, g, lr, 0.9, False)),
    ("sgd_nesterov_decay", lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
     lambda w, g, lr: keras_sgd(w, g, lr, 0.9, True, 0.01)),
    ("adam", lambda: Adam(0.1), lambda w, g, lr: keras_adam(w, g, lr)),
    ("adam_amsgrad", lambda: Adam(0.1, amsgrad=True),
     lambda w, g, lr: keras_adam(w, g, lr, amsgrad=True)),
    ("adamw", lambda: AdamW(0.1), lambda w, g, lr: keras_adam(w, g, lr, weight_decay=0.004)),
    ("rmsprop", lambda: RMSprop(0.1), lambda w, g, lr: keras_rmsprop(w, g, lr)),
    ("rmsprop_centered_momentum", lambda: RMSprop(0.1, momentum=0.9, centered=True),
     lambda w, g, lr: keras_rmsprop(w, g, lr, momentum=0.9, centered=True)),
    ("adagrad", lambda: Adagrad(0.1), lambda w, g, lr: keras_adagrad(w, g, lr)),
]


@pytest.mark.parametrize("name,ours,golden", GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_keras_formulas_with_default_epsilon_and_lr_changes(name, ours, golden):
    # tiny gradients make epsilon matter: a wrong epsilon placement shows at 1e-2 relative
    grads = grad_stream(scale=1e-4)
    opt = ours()
    weights = make_weights()
    start = [w.value.copy() for w in weights]
    for step, lr in zip(grads, LRS):
        opt.learning_rate = lr
        for w, g in zip(weights, step):
            w.grad[...] = g
        opt.apply(weights)
    for i, (w, w0) in enumerate(zip(weights, start)):
        expected = golden(w0, [step[i] for step in grads], LRS)
        assert_close(w.value, expected, rtol=1e-12, atol=1e-15, what=f"{name} w{i}")
    assert opt.iterations == STEPS


def test_keras_and_torch_adam_differ_where_epsilon_sits():
    # the reason the parity test uses epsilon=0: with tiny gradients the two rules disagree
    grads = grad_stream(scale=1e-6)
    ours = run_ours(Adam(0.01, epsilon=1e-7), grads)
    theirs = run_torch(lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7), grads)
    assert np.max(np.abs(ours[0] - theirs[0])) > 1e-4


# ---- clipping -------------------------------------------------------------------------------

def test_clipnorm_per_weight_vs_torch():
    rng = np.random.default_rng(3)
    grads = [10 * rng.standard_normal(s) for s in SHAPES] + [np.full((2,), 0.01)]
    norms = [np.linalg.norm(g) for g in grads]
    assert min(norms[:3]) > 10 and norms[3] < 1                 # three clipped, one not
    clipped, before, after = clip_gradients(grads, clipnorm=1.0)
    for g, c, n in zip(grads, clipped, norms):
        t = torch.tensor(g.copy(), requires_grad=True)
        t.grad = torch.tensor(g.copy())
        torch.nn.utils.clip_grad_norm_([t], max_norm=1.0)
        # torch scales by 1 / (norm + 1e-6), Keras by 1 / max(norm, clipnorm): the relative
        # difference is 1e-6 / norm <= 1e-7 here, below the tolerance
        assert_close(c, t.grad.numpy(), rtol=1e-6, atol=0, what="clipnorm vs torch")
        assert_close(c, g * 1.0 / max(n, 1.0), rtol=1e-14, atol=0, what="clipnorm, Keras")
    assert_close(before, np.sqrt(sum(n * n for n in norms)), rtol=1e-14)
    assert_close(after, np.sqrt(3 + norms[3] ** 2), rtol=1e-14)


@pytest.mark.parametrize("scale", [10.0, 0.01])
def test_global_clipnorm_vs_torch(scale):
    rng = np.random.default_rng(4)
    grads = [scale * rng.standard_normal(s) for s in SHAPES]
    clipped, before, after = clip_gradients(grads, global_clipnorm=1.0)
    ts = [torch.tensor(g.copy(), requires_grad=True) for g in grads]
    for t, g in zip(ts, grads):
        t.grad = torch.tensor(g.copy())
    total = torch.nn.utils.clip_grad_norm_(ts, max_norm=1.0)
    assert_close(before, total.item(), rtol=1e-14)
    norm = math.sqrt(sum(np.sum(g * g) for g in grads))
    for g, c, t in zip(grads, clipped, ts):
        assert_close(c, t.grad.numpy(), rtol=1e-6, atol=0, what="global_clipnorm vs torch")
        assert_close(c, g * 1.0 / max(norm, 1.0), rtol=1e-14, atol=0, what="Keras")
    assert_close(after, min(norm, 1.0), rtol=1e-12)


def test_clipvalue_vs_torch():
    rng = np.random.default_rng(5)
    grads = [2 * rng.standard_normal(s) for s in SHAPES]
    clipped, before, after = clip_gradients(grads, clipvalue=0.5)
    for g, c in zip(grads, clipped):
        t = torch.tensor(g.copy(), requires_grad=True)
        t.grad = torch.tensor(g.copy())
        torch.nn.utils.clip_grad_value_([t], 0.5)
        assert np.array_equal(c, t.grad.numpy())
    assert np.max(np.abs(np.concatenate([c.ravel() for c in clipped]))) == 0.5
    assert after < before


def test_no_clipping_returns_inputs_and_norm():
    grads = [np.array([3.0, 4.0]), None]
    clipped, before, after = clip_gradients(grads)
    assert clipped[0] is grads[0] and clipped[1] is None and before == after == 5.0


def test_non_finite_global_norm_gives_nan_like_keras():
    clipped, before, _ = clip_gradients([np.array([np.inf, 1.0]), np.ones(2)],
                                        global_clipnorm=1.0)
    assert math.isinf(before) and np.all(np.isnan(clipped[1]))


@pytest.mark.parametrize("clip", [dict(clipnorm=0.5), dict(global_clipnorm=0.5),
                                  dict(clipvalue=0.1)])
def test_optimizer_clips_before_the_update_and_leaves_grads_alone(clip):
    grads = grad_stream(seed=6, scale=100.0)       # norms > 100: see the comment below
    ref_clip = {
        "clipnorm": lambda ps: [torch.nn.utils.clip_grad_norm_([p], 0.5) for p in ps],
        "global_clipnorm": lambda ps: torch.nn.utils.clip_grad_norm_(ps, 0.5),
        "clipvalue": lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.1),
    }[next(iter(clip))]
    weights = make_weights()
    opt = SGD(learning_rate=0.1, momentum=0.9, **clip)
    for step in grads:
        for w, g in zip(weights, step):
            w.grad[...] = g
        opt.apply(weights)
        for w, g in zip(weights, step):
            assert np.array_equal(w.grad, g)                    # .grad not modified
    theirs = run_torch(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), grads, ref_clip)
    # torch divides by norm + 1e-6 where Keras divides by norm: with every norm above 100 the
    # clipped gradients differ by less than 1e-8 relative, far below the tolerance
    assert_all_close([w.value for w in weights], theirs, what=f"clipped {clip}")
    got = run_ours(Adam(0.01, epsilon=0.0, **clip), grads)
    theirs = run_torch(lambda p: torch.optim.Adam(p, lr=0.01, eps=0.0), grads, ref_clip)
    assert_all_close(got, theirs, what=f"adam clipped {clip}")


def test_clip_argument_errors():
    for kwargs in (dict(clipnorm=1.0, global_clipnorm=1.0), dict(clipnorm=1.0, clipvalue=1.0)):
        with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and "
                                             "`global_clipnorm` can be set"):
            Adam(**kwargs)
        with pytest.raises(ValueError, match="Only one of"):
            clip_gradients([np.ones(2)], **kwargs)
    with pytest.raises(ValueError, match="`clipnorm` must be >= 0"):
        SGD(clipnorm=-1.0)


# ---- state, learning rate, iterations -------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(0.01, amsgrad=True),
                                  lambda: AdamW(0.01), lambda: RMSprop(0.01, 0.9, 0.5, centered=True),
                                  lambda: Adagrad(0.1)])
def test_get_state_set_state_continues_identically(make):
    grads = grad_stream(steps=6)
    opt = make()
    weights = make_weights()
    run_ours(opt, grads[:3], weights)
    state = opt.get_state()
    snapshot = [w.value.copy() for w in weights]
    assert state["iterations"] == 3 and "layer/w0/" + next(iter(opt._slot_inits())) in state
    expected = run_ours(opt, grads[3:], weights)
    # a fresh optimizer and freshly built weights (same paths), as after loading a checkpoint
    fresh = make()
    fresh.learning_rate = 0.5                       # set_state restores the learning rate too
    fresh.set_state(state)
    assert fresh.learning_rate == opt.learning_rate
    weights2 = make_weights()
    for w, v in zip(weights2, snapshot):
        w.assign(v)
    got = run_ours(fresh, grads[3:], weights2)
    for a, b in zip(got, expected):
        assert np.array_equal(a, b)
    assert fresh.iterations == 6
    state["layer/w0/" + next(iter(opt._slot_inits()))][...] = 123.0   # get_state gave copies
    assert not np.any(opt.get_state()["layer/w0/" + next(iter(opt._slot_inits()))] == 123.0)


def test_set_state_errors():
    opt = Adam()
    run_ours(opt, grad_stream(steps=1))
    state = opt.get_state()
    with pytest.raises(ValueError, match="unknown state entry 'layer/w0/accumulator'"):
        Adam().set_state({**state, "layer/w0/accumulator": np.zeros(3)})
    with pytest.raises(ValueError, match="expected \\['momentum', 'velocity', 'velocity_hat'\\]"):
        Adam(amsgrad=True).set_state(state)
    with pytest.raises(ValueError, match="no 'iterations'"):
        Adam().set_state({k: v for k, v in state.items() if k != "iterations"})
    bad = Adam()
    bad.set_state({**state, "layer/w0/momentum": np.zeros((5, 5)),
                   "layer/w0/velocity": np.zeros((5, 5))})
    with pytest.raises(ValueError, match=r"slot layer/w0/momentum has shape \(5, 5\)"):
        run_ours(bad, grad_stream(steps=1))


def test_learning_rate_assignment_takes_effect():
    w = Weight(np.array([1.0, -1.0]), "w", path="d/w")
    w.grad[...] = [1.0, 2.0]
    opt = SGD(learning_rate=0.1)
    assert opt.learning_rate == 0.1
    opt.apply([w])
    assert_close(w.value, [0.9, -1.2], rtol=1e-15)
    opt.learning_rate = 0.01
    assert opt.learning_rate == 0.01 and opt.get_config()["learning_rate"] == 0.01
    opt.apply([w])
    assert_close(w.value, [0.89, -1.22], rtol=1e-15)
    assert opt.get_state()["learning_rate"] == 0.01
    schedule = iter([0.5, 0.25])
    opt.learning_rate = lambda: next(schedule)                  # Keras's callable form
    opt.apply([w])
    assert_close(w.value, [0.39, -2.22], rtol=1e-14)
    assert "learning_rate" not in opt.get_state()
    with pytest.raises(ValueError, match="learning_rate should be a float"):
        opt.learning_rate = "fast"


def test_iterations_slots_and_dtypes():
    opt = Adam()
    weights = make_weights(dtype=np.float32)
    assert opt.iterations == 0 and set(opt.get_state()) == {"iterations", "learning_rate"}
    for w in weights:
        w.grad[...] = 1.0
    assert opt.apply(weights) == 1 and opt.iterations == 1
    for w in weights:
        assert w.value.dtype == np.float32
        assert opt.get_state()[f"{w.path}/momentum"].dtype == np.float32
    assert set(opt.get_state()) == {"iterations", "learning_rate"} | {
        f"layer/w{i}/{s}" for i in range(3) for s in ("momentum", "velocity")}
    assert SGD().get_state().keys() == {"iterations", "learning_rate"}
    run_ours(SGD(), grad_stream(steps=1))                       # plain SGD keeps no slots


def test_apply_skips_frozen_weights_and_takes_a_model():
    weights = make_weights()
    weights[1].trainable = False
    before = weights[1].value.copy()

    class Model:
        trainable_weights = [weights[0], weights[2]]

    for w in weights:
        w.grad[...] = 1.0
    opt = SGD(0.1)
    opt.apply(weights)
    assert np.array_equal(weights[1].value, before)
    v0 = weights[0].value.copy()
    opt.apply(Model())
    assert_close(weights[0].value, v0 - 0.1, rtol=1e-15) and opt.iterations == 2


def test_apply_gradients_keras_form_and_errors():
    weights = make_weights()
    v0 = [w.value.copy() for w in weights]
    opt = SGD(0.1)
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['layer/w1'\]"):
        it = opt.apply_gradients([(np.ones(SHAPES[0]), weights[0]), (None, weights[1]),
                                  (np.ones(SHAPES[2]), weights[2])])
    assert it == 1 and np.array_equal(weights[1].value, v0[1])
    assert_close(weights[0].value, v0[0] - 0.1, rtol=1e-15)
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply_gradients([(None, weights[0])])
    with pytest.raises(ValueError, match=r"gradient of shape \(2,\) for weight layer/w0"):
        opt.apply_gradients([(np.ones(2), weights[0])])
    twin = Weight(np.zeros(SHAPES[0]), "w0", path="layer/w0")
    with pytest.raises(ValueError, match="two different weights share the path 'layer/w0'"):
        opt.apply_gradients([(np.ones(SHAPES[0]), weights[0]), (np.ones(SHAPES[0]), twin)])
    assert opt.apply_gradients([]) == 1


def test_weight_decay_exclusions():
    bias = Weight(np.ones(3), "bias", path="d/bias")
    kernel = Weight(np.ones(3), "kernel", path="d/kernel")
    other = Weight(np.ones(3), "other", path="d/other")
    opt = AdamW(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[other], var_names=["bias"])
    opt.apply([bias, kernel, other])                            # zero gradients: decay only
    assert np.array_equal(bias.value, np.ones(3)) and np.array_equal(other.value, np.ones(3))
    assert_close(kernel.value, np.full(3, 1 - 0.5 * 0.1), rtol=1e-15)


# ---- construction, config, get ---------------------------------------------------------------

def test_defaults_are_keras():
    assert (SGD().learning_rate, SGD().momentum, SGD().nesterov, SGD().name) == (0.01, 0.0,
                                                                                  False, "SGD")
    a = Adam()
    assert (a.learning_rate, a.beta_1, a.beta_2, a.epsilon, a.amsgrad, a.name) == (
        0.001, 0.9, 0.999, 1e-7, False, "adam")
    assert (AdamW().weight_decay, AdamW().name) == (0.004, "adamw")
    r = RMSprop()
    assert (r.learning_rate, r.rho, r.momentum, r.epsilon, r.centered) == (0.001, 0.9, 0.0, 1e-7,
                                                                           False)
    g = Adagrad()
    assert (g.learning_rate, g.initial_accumulator_value, g.epsilon) == (0.001, 0.1, 1e-7)


@pytest.mark.parametrize("make", [lambda: SGD(0.2, momentum=0.5, nesterov=True, clipvalue=1.0),
                                  lambda: Adam(0.01, amsgrad=True, global_clipnorm=2.0),
                                  lambda: AdamW(0.01, weight_decay=0.1, clipnorm=1.0),
                                  lambda: RMSprop(0.01, rho=0.8, centered=True),
                                  lambda: Adagrad(0.5, initial_accumulator_value=0.2)])
def test_config_round_trip(make):
    opt = make()
    config = opt.get_config()
    back = type(opt).from_config(config)
    assert back.get_config() == config
    again = optimizers.get(optimizers.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == config
    grads = grad_stream(steps=3)
    assert all(np.array_equal(a, b) for a, b in zip(run_ours(opt, grads), run_ours(back, grads)))


def test_get_and_keras_arguments():
    for name, cls in [("sgd", SGD), ("SGD", SGD), ("adam", Adam), ("Adam", Adam),
                      ("adamw", AdamW), ("rmsprop", RMSprop), ("RMSprop", RMSprop),
                      ("adagrad", Adagrad)]:
        assert type(optimizers.get(name)) is cls
    opt = Adam()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        optimizers.get("adamax")
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        optimizers.get(3)
    # a Keras config with its extra arguments at their defaults loads
    keras_config = {"name": "adam", "learning_rate": 0.001, "weight_decay": None,
                    "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                    "loss_scale_factor": None, "gradient_accumulation_steps": None,
                    "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}
    assert type(optimizers.get({"class_name": "Adam", "config": keras_config})) is Adam
    with pytest.raises(NotImplementedError, match="use_ema=True"):
        Adam(use_ema=True)
    with pytest.raises(ValueError, match="Argument\\(s\\) not recognized"):
        Adam(decay_rate=0.1)
    with pytest.raises(ValueError, match="`weight_decay` must be a float"):
        AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="`momentum` must be a float between"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="`initial_accumulator_value` must be >= 0"):
        Adagrad(initial_accumulator_value=-1.0)
    with pytest.raises(NotImplementedError):
        optimizers.Optimizer(0.1).update_step(None, None, None, None)
    assert "lr=0.001" in repr(Adam())


# ---- in-place updates: bit for bit the plain formulas, and no new arrays per step ------------

def plain_step(opt, w, g, lr, slots, t):
    """One update written as the plain formulas (every operation a new array), in the order of
    the update rules' docstrings: what the in-place code must reproduce bit for bit."""
    if isinstance(opt, SGD):
        if opt.momentum == 0:
            return w - g * lr
        slots["m"] = slots.get("m", np.zeros_like(w)) * opt.momentum - g * lr
        return w + (slots["m"] * opt.momentum - g * lr if opt.nesterov else slots["m"])
    if isinstance(opt, Adam):
        alpha = lr * math.sqrt(1 - opt.beta_2 ** t) / (1 - opt.beta_1 ** t)
        m, v = slots.get("m", np.zeros_like(w)), slots.get("v", np.zeros_like(w))
        m = slots["m"] = m + (g - m) * (1 - opt.beta_1)
        v = slots["v"] = v + (np.square(g) - v) * (1 - opt.beta_2)
        if opt.amsgrad:
            v = slots["vh"] = np.maximum(slots.get("vh", np.zeros_like(w)), v)
        return w - (m * alpha) / (np.sqrt(v) + opt.epsilon)
    if isinstance(opt, RMSprop):
        v = slots["v"] = opt.rho * slots.get("v", np.zeros_like(w)) + (1 - opt.rho) * np.square(g)
        if opt.centered:
            a = slots["a"] = opt.rho * slots.get("a", np.zeros_like(w)) + (1 - opt.rho) * g
            increment = (lr * g) / np.sqrt(v - np.square(a) + opt.epsilon)
        else:
            increment = (lr * g) / np.sqrt(v + opt.epsilon)
        if opt.momentum > 0:
            slots["mom"] = opt.momentum * slots.get("mom", np.zeros_like(w)) + increment
            return w - slots["mom"]
        return w - increment
    acc = slots["acc"] = slots.get("acc", np.full_like(w, opt.initial_accumulator_value)) + \
        np.square(g)
    return w - (lr * g) / np.sqrt(acc + opt.epsilon)


IN_PLACE_CASES = {
    "sgd": lambda **k: SGD(0.1, **k),
    "sgd_momentum": lambda **k: SGD(0.1, momentum=0.9, **k),
    "sgd_nesterov_decay": lambda **k: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01,
                                          **k),
    "adam": lambda **k: Adam(0.01, **k),
    "adam_amsgrad": lambda **k: Adam(0.01, amsgrad=True, **k),
    "adamw": lambda **k: AdamW(0.01, **k),
    "rmsprop": lambda **k: RMSprop(0.01, **k),
    "rmsprop_centered_momentum": lambda **k: RMSprop(0.01, momentum=0.9, centered=True, **k),
    "adagrad": lambda **k: Adagrad(0.1, **k),
}
CLIPS = {"none": {}, "clipnorm": dict(clipnorm=0.5), "global_clipnorm": dict(global_clipnorm=1.0),
         "clipvalue": dict(clipvalue=0.05)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip", list(CLIPS))
@pytest.mark.parametrize("name", list(IN_PLACE_CASES))
def test_in_place_updates_equal_the_plain_formulas_bit_for_bit(name, clip, dtype):
    opt = IN_PLACE_CASES[name](**CLIPS[clip])
    weights = make_weights(dtype=dtype)
    plain = [w.value.copy() for w in weights]
    slots = [{} for _ in weights]
    for t, (step, lr) in enumerate(zip(grad_stream(seed=9), LRS), start=1):
        opt.learning_rate = lr
        step = [g.astype(dtype) for g in step]
        for w, g in zip(weights, step):
            w.grad[...] = g
        opt.apply(weights)
        clipped, _, _ = clip_gradients(step, **CLIPS[clip])
        for i, g in enumerate(clipped):
            if opt.weight_decay is not None:
                plain[i] = plain[i] - plain[i] * opt.weight_decay * lr
            plain[i] = plain_step(opt, plain[i], g, lr, slots[i], t)
        for i, w in enumerate(weights):
            assert w.value.dtype == dtype
            assert np.array_equal(w.value, plain[i]), f"{name} {clip} step {t} w{i}"
            assert np.array_equal(w.grad, step[i])                # .grad not modified


@pytest.mark.parametrize("clip", list(CLIPS))
@pytest.mark.parametrize("name", list(IN_PLACE_CASES))
def test_a_step_allocates_no_weight_sized_array(name, clip):
    """After the first step (slots and scratch created), a step allocates nothing the size of
    a weight: the peak traced by tracemalloc (NumPy reports its buffers) stays far below.
    (A product computed in float64 into a float32 array goes through NumPy's casting buffers,
    a fixed ~130 kB whatever the size.)"""
    import tracemalloc

    w = Weight(np.random.default_rng(0).standard_normal((256, 1024)).astype(np.float32), "w")
    w.grad[...] = 0.01
    opt = IN_PLACE_CASES[name](**CLIPS[clip])
    opt.apply([w])
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        opt.apply([w])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < w.value.nbytes // 4, f"{name} {clip}: {peak} bytes allocated in a step"
