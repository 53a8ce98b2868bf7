"""Failed loads change nothing; wrong numbers are refused, not computed (issue 12, items 5-6)."""

import json

import numpy as np
import pytest

import rnnkit
from rnnkit import layers
from rnnkit.errors import FileFormatError
from rnnkit.io import safetensors_format
from rnnkit.io.saving import restore_checkpoint
from rnnkit.io.torch_interop import load_state_dict_into_layers
from rnnkit.io.torch_layout import lstm_from_torch


def _torch_lstm_state(k, I, H, rng):
    return {f"weight_ih_l{k}": rng.standard_normal((4 * H, I)),
            f"weight_hh_l{k}": rng.standard_normal((4 * H, H)),
            f"bias_ih_l{k}": rng.standard_normal(4 * H),
            f"bias_hh_l{k}": rng.standard_normal(4 * H)}


# ---- item 5: validate all, then assign ----------------------------------------------------------
def test_load_state_dict_changes_no_layer_when_a_later_one_fails():
    rng = np.random.default_rng(0)
    state = {**_torch_lstm_state(0, 3, 4, rng), **_torch_lstm_state(1, 4, 4, rng)}
    state["weight_hh_l1"] = np.ones((16, 5))                   # layer 1 does not fit
    built = [layers.LSTM(4, return_sequences=True), layers.LSTM(4)]
    built[0].build((None, None, 3))
    before = built[0].get_weights()
    unbuilt = [layers.LSTM(4, return_sequences=True), layers.LSTM(4)]
    for stack in (built, unbuilt):
        with pytest.raises(ValueError, match="has weight shapes"):
            load_state_dict_into_layers(state, stack)
    for a, b in zip(built[0].get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert not unbuilt[0].built and not unbuilt[1].built      # not even built


def test_load_state_dict_refuses_integer_arrays():
    rng = np.random.default_rng(0)
    state = _torch_lstm_state(0, 3, 4, rng)
    state["weight_ih_l0"] = state["weight_ih_l0"].astype(np.int64)
    with pytest.raises(ValueError, match="weight_ih_l0 must be a floating-point array, got "
                                         "dtype int64"):
        load_state_dict_into_layers(state, [layers.LSTM(4)])


def test_torch_bias_is_not_cast_to_an_integer_weight_dtype():
    w_ih, w_hh = np.ones((8, 3), np.int64), np.ones((8, 2), np.int64)
    b = np.full(8, 1.4)
    b[0] = np.nan
    _, _, bias = lstm_from_torch(w_ih, w_hh, b, np.zeros(8))
    assert bias.dtype.kind == "f" and bias[1] == 1.4 and np.isnan(bias[0])


def test_restore_checkpoint_with_a_bad_optimizer_state_changes_nothing(tmp_path):
    m = rnnkit.Sequential([layers.Input((4, 3)), layers.GRU(5), layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    x = np.ones((8, 4, 3), "float32")
    m.fit(x, np.ones((8, 1), "float32"), verbose=0)
    path = str(tmp_path / "m.rnnkit")
    m.save(path)
    tensors, meta = safetensors_format.load(path)
    tensors = {k: (v + 1 if k.startswith("weights/") else v) for k, v in tensors.items()}
    tensors["optimizer/iterations"] = np.array(-1, dtype=np.int64)
    before, it = m.get_weights(), m.optimizer.iterations
    with pytest.raises(FileFormatError, match="iterations"):
        restore_checkpoint(m, path, tensors, meta)
    for a, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert m.optimizer.iterations == it
    safetensors_format.save(path, tensors, meta)               # iterations=-1 in a model file
    with pytest.raises(FileFormatError, match="'iterations' must be a non-negative integer"):
        rnnkit.load_model(path)


# ---- item 6: wrong numbers ----------------------------------------------------------------------
def test_float16_loss_is_summed_wide():
    """A true MSE of about 1e4 over 64 samples: float16 sums overflowed to inf."""
    y_pred = np.full((64, 1), 100.0, np.float16)
    loss = rnnkit.training.losses.MeanSquaredError()
    value, grad = loss.value_and_grad(np.zeros((64, 1), np.float16), y_pred)
    assert value == pytest.approx(1e4, rel=1e-3) and grad.dtype == np.float16
    assert loss(np.zeros((64, 1)), y_pred) == pytest.approx(1e4, rel=1e-3)


@pytest.mark.parametrize("flag", ["return_sequences", "return_state", "go_backwards",
                                  "stateful", "use_bias"])
def test_booleans_that_are_not_booleans_are_refused(flag):
    for cls in (layers.LSTM, layers.GRU, layers.SimpleRNN):
        with pytest.raises(TypeError, match=f"{flag} must be True or False, got 'no'"):
            cls(4, **{flag: "no"})
    layers.LSTM(4, return_sequences=np.bool_(True))           # numpy booleans are booleans


@pytest.mark.parametrize("lr", [float("nan"), -1.0, float("inf")])
def test_bad_learning_rates_are_refused(lr):
    for cls in (rnnkit.optimizers.Adam, rnnkit.optimizers.SGD, rnnkit.optimizers.RMSprop):
        with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0"):
            cls(lr)
    opt = rnnkit.optimizers.Adam(0.1)
    with pytest.raises(ValueError):
        opt.learning_rate = lr
    assert opt.learning_rate == 0.1


@pytest.mark.parametrize("dtype", ["int8", "object", "int32", "complex64"])
def test_a_model_file_with_a_non_float_layer_dtype_is_refused(tmp_path, dtype):
    m = rnnkit.Sequential([layers.Input((4, 3)), layers.LSTM(5, name="lstm"), layers.Dense(1)])
    path = str(tmp_path / "m.rnnkit")
    m.save(path)
    tensors, meta = safetensors_format.load(path)
    spec = json.loads(meta["model"])
    spec["config"]["layers"][1]["config"]["dtype"] = dtype
    meta["model"] = json.dumps(spec)
    safetensors_format.save(path, tensors, meta)
    with pytest.raises(FileFormatError, match="dtype must be float16, float32 or float64"):
        rnnkit.load_model(path)
    with pytest.raises((ValueError, TypeError), match="lstm_x: dtype must be float16"):
        layers.LSTM(5, name="lstm_x", dtype=dtype)


def test_zero_length_sequences_in_fit_are_a_clear_error():
    m = rnnkit.Sequential([layers.Input((None, 3)), layers.LSTM(5, name="lstm"),
                           layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="lstm: expected at least one sequence of at least one "
                                         "step, got input shape"):
        m.fit(np.ones((4, 0, 3), "float32"), np.ones((4, 1), "float32"), verbose=0)


def test_a_weight_larger_than_the_machine_is_a_clear_error():
    with pytest.raises(ValueError, match=r"huge: weight 'kernel' of shape \(3, 4000000000000\) "
                                         r"needs .* GiB, more than this machine's"):
        layers.LSTM(10**12, name="huge").build((None, None, 3))
