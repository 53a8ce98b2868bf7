"""Arrays from outside are checked in Python before any compiled kernel runs (issue 12, item 1).

A ``dy`` of the wrong shape once made the compiled backward kernels read and write out of
bounds (SIGSEGV) or return wrong gradients, and the reference kernels broadcast it. Every
recurrent layer's ``backward`` (return_sequences, return_state, Bidirectional,
TimeDistributed), initial states, masks and streamed inputs are now refused with a ValueError
naming the layer, the expected and the actual shape; run for both kernel sets.
"""

import subprocess
import sys

import numpy as np
import pytest

from rnnkit import layers
from rnnkit.kernels import gru as ref_gru
from rnnkit.kernels import lstm as ref_lstm

B, T, I, H = 4, 3, 2, 5
CELLS = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}


@pytest.fixture(params=["reference", "fast"])
def kernels(request, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", request.param)
    return request.param


def _x():
    return np.random.default_rng(0).standard_normal((B, T, I)).astype("float32")


def test_wrong_dy_in_a_fresh_process_is_a_clean_error():
    """The issue's reproducer: the process must survive and say what was wrong."""
    code = ("import numpy as np\nfrom rnnkit import layers\n"
            "L = layers.GRU(8, name='gru'); L.forward(np.ones((4, 3, 2), 'float32'))\n"
            "try:\n    L.backward(np.ones((1, 1), 'float32'))\n"
            "except ValueError as e:\n    print('clean:', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "clean: gru: expected the output gradient dy of shape (4, 8), got (1, 1)" in r.stdout


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("bad", [(1, 1), (H,), (B, H + 1), (B + 1, H), (B, T + 1, H), (B, T, H, 1)])
def test_wrong_dy_shape_is_refused(kernels, cell, return_sequences, bad):
    layer = CELLS[cell](H, return_sequences=return_sequences, name="rec")
    layer.forward(_x())
    want = (B, T, H) if return_sequences else (B, H)
    if bad == want:
        return
    with pytest.raises(ValueError, match=rf"rec: expected the output gradient dy of shape "
                                         rf"\({want[0]}, {want[1]}.*got \({bad[0]}"):
        layer.backward(np.ones(bad, "float32"))
    # the cache survives a refused dy: the right one still works
    assert layer.backward(np.ones(want, "float32")).shape == (B, T, I)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_return_state_grads_are_checked(kernels, cell):
    layer = CELLS[cell](H, return_state=True, name="rec")
    out = layer.forward(_x())
    n = len(out) - 1
    with pytest.raises(ValueError, match=rf"rec: expected {n + 1} output gradients"):
        layer.backward([np.ones((B, H), "float32")])
    with pytest.raises(ValueError, match=r"rec: expected a list of"):
        layer.backward(np.ones((B, H), "float32"))
    bad_state = [np.ones((B, H), "float32")] + [np.ones((1, H), "float32")] * n
    with pytest.raises(ValueError, match=r"rec: expected the gradient of the final state h of "
                                         r"shape \(4, 5\), got \(1, 5\)"):
        layer.backward(bad_state)
    with pytest.raises(TypeError, match="rec: expected a numeric input array"):
        layer.backward([np.full((B, H), "a")] + [None] * n)


def test_bidirectional_and_time_distributed_check_dy(kernels):
    bi = layers.Bidirectional(layers.LSTM(H, return_sequences=True), name="bi")
    bi.forward(_x())
    with pytest.raises(ValueError, match=r"bi: expected output gradient 0 of shape "
                                         r"\(4, 3, 10\), got \(4, 3, 5\)"):
        bi.backward(np.ones((B, T, H), "float32"))
    assert bi.backward(np.ones((B, T, 2 * H), "float32")).shape == (B, T, I)
    bi_sum = layers.Bidirectional(layers.GRU(H), merge_mode="mul", name="bim")
    bi_sum.forward(_x())
    with pytest.raises(ValueError, match=r"bim: expected output gradient 0 of shape \(4, 5\)"):
        bi_sum.backward(np.ones((1, 1), "float32"))

    td = layers.TimeDistributed(layers.Dense(3), name="td")
    td.forward(np.ones((B, T, I), "float32"))
    with pytest.raises(ValueError, match=r"td: expected an output gradient of shape \(4, 3, "):
        td.backward(np.ones((T, B, 3), "float32"))       # same size, wrong layout: not folded


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_initial_states_and_masks_are_checked(kernels, cell):
    layer = CELLS[cell](H, name="rec")
    n = len(layer.state_names) if layer.built else (2 if cell == "lstm" else 1)
    with pytest.raises(ValueError, match=r"rec: expected initial state h of shape \(4, 5\), "
                                         r"got \(4, 6\)"):
        layer.forward(_x(), initial_state=[np.zeros((B, H + 1))] * n)
    with pytest.raises(TypeError, match="rec: expected a numeric input array"):
        layer.forward(_x(), initial_state=[np.full((B, H), "x")] * n)
    with pytest.raises(ValueError, match=r"rec: expected a mask of shape \(4, 3\) \(batch, "
                                         r"time\), got \(4,\)"):
        layer.forward(_x(), mask=np.ones(B, bool))
    # a non-contiguous initial state is accepted (copied) and gives the contiguous result
    h0 = np.asfortranarray(np.random.default_rng(1).standard_normal((B, H)))
    y1 = layer.forward(_x(), initial_state=[h0] * n)
    y2 = layer.forward(_x(), initial_state=[np.ascontiguousarray(h0)] * n)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("shape", [(0, T, I), (B, 0, I)])
def test_empty_batch_or_zero_length_sequence_is_a_clear_error(kernels, shape):
    layer = layers.LSTM(H, name="rec")
    with pytest.raises(ValueError, match=r"rec: expected at least one sequence of at least one"):
        layer.forward(np.ones(shape, "float32"))


def test_streaming_states_and_inputs_are_checked(kernels):
    layer = layers.LSTM(H, name="rec")
    layer.build((None, None, I))
    stream = layer.streamer(batch_size=2)
    with pytest.raises(TypeError, match="rec: expected a numeric input array"):
        stream.reset([np.full((2, H), "s"), np.zeros((2, H))])
    with pytest.raises(ValueError, match=r"rec: expected state c of shape \(2, 5\), got \(5,\)"):
        stream.reset([np.zeros((2, H)), np.zeros(H)])
    with pytest.raises(ValueError, match=r"rec: expected a streamed input x_t of shape \(2, 2\)"):
        stream.step(np.ones((1, 1)))


def test_reference_kernels_do_not_broadcast_dy():
    rng = np.random.default_rng(0)
    xw = rng.standard_normal((T, B, 4 * H))
    W = rng.standard_normal((H, 4 * H))
    h0 = np.zeros((B, H))
    _, _, _, cache = ref_lstm.lstm_forward(xw, W, h0, h0)
    with pytest.raises(ValueError, match=r"lstm_backward: expected dh_seq of shape \(3, 4, 5\)"):
        ref_lstm.lstm_backward(np.ones((1, 1)), None, None, cache)
    with pytest.raises(ValueError, match=r"lstm_backward: expected a final-state gradient"):
        ref_lstm.lstm_backward(np.ones((T, B, H)), np.ones(H), None, cache)
    xw = rng.standard_normal((T, B, 3 * H))
    out = ref_gru.gru_forward(xw, rng.standard_normal((H, 3 * H)), np.zeros(3 * H), h0)
    with pytest.raises(ValueError, match=r"gru_backward: expected dh_seq"):
        ref_gru.gru_backward(np.ones((T, B, 1)), None, out[-1])
