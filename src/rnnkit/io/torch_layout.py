"""Every rule that maps rnnkit (Keras layout) weights to PyTorch's and back, in one place.

NumPy arrays in, NumPy arrays out; torch is never imported here.

| cell      | rnnkit (Keras)                                   | PyTorch                                  |
|-----------|--------------------------------------------------|------------------------------------------|
| SimpleRNN | kernel (I, H), recurrent_kernel (H, H), bias (H,) | weight_ih (H, I), weight_hh (H, H), b_ih + b_hh |
| LSTM      | kernel (I, 4H) gates i,f,c,o; bias (4H,)          | weight_ih (4H, I) gates i,f,g,o; b_ih + b_hh |
| GRU       | kernel (I, 3H) gates z,r,h; bias (2, 3H) = [input; recurrent] | weight_ih (3H, I) gates r,z,n; b_ih, b_hh |

Rules: weights are transposed; LSTM gate order is the same; GRU blocks are reordered
z,r,h <-> r,z,n; where rnnkit has one bias, PyTorch's two biases are summed (and exporting puts
the whole bias in ``b_ih`` with ``b_hh = 0``). Only GRU with ``reset_after=True`` exists in
PyTorch (its ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).
"""

import numpy as np


def _gru_blocks(a, axis):
    """Swap the first two of three gate blocks along ``axis`` (z,r,h <-> r,z,n)."""
    first, second, third = np.split(np.asarray(a), 3, axis=axis)
    return np.concatenate([second, first, third], axis=axis)


def simple_rnn_from_torch(weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """PyTorch ``nn.RNN`` layer weights -> [kernel, recurrent_kernel, bias]."""
    return _single_bias_from_torch(weight_ih, weight_hh, bias_ih, bias_hh)


def lstm_from_torch(weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """PyTorch ``nn.LSTM`` layer weights -> [kernel, recurrent_kernel, bias] (same gate order)."""
    return _single_bias_from_torch(weight_ih, weight_hh, bias_ih, bias_hh)


def _single_bias_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
    ws = [np.asarray(weight_ih).T.copy(), np.asarray(weight_hh).T.copy()]
    if bias_ih is not None or bias_hh is not None:
        b = np.zeros(np.shape(weight_ih)[0])
        for part in (bias_ih, bias_hh):
            if part is not None:
                b = b + np.asarray(part)
        # the weight's float type, or wider: never an integer cast (1.4 -> 1, NaN -> -9e18)
        ws.append(b.astype(np.result_type(np.asarray(weight_ih).dtype, b.dtype)))
    return ws


def simple_rnn_to_torch(kernel, recurrent_kernel, bias=None):
    """[kernel, recurrent_kernel, bias] -> (weight_ih, weight_hh, bias_ih, bias_hh)."""
    return _single_bias_to_torch(kernel, recurrent_kernel, bias)


def lstm_to_torch(kernel, recurrent_kernel, bias=None):
    """[kernel, recurrent_kernel, bias] -> (weight_ih, weight_hh, bias_ih, bias_hh)."""
    return _single_bias_to_torch(kernel, recurrent_kernel, bias)


def _single_bias_to_torch(kernel, recurrent_kernel, bias):
    w_ih, w_hh = np.asarray(kernel).T.copy(), np.asarray(recurrent_kernel).T.copy()
    if bias is None:
        return w_ih, w_hh, None, None
    bias = np.asarray(bias)
    return w_ih, w_hh, bias.copy(), np.zeros_like(bias)


def gru_from_torch(weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """PyTorch ``nn.GRU`` weights -> [kernel, recurrent_kernel, bias (2, 3H)] (reset_after=True)."""
    ws = [_gru_blocks(weight_ih, 0).T.copy(), _gru_blocks(weight_hh, 0).T.copy()]
    if bias_ih is not None or bias_hh is not None:
        G = np.shape(weight_ih)[0]
        dtype = np.asarray(weight_ih).dtype
        b_i = np.zeros(G, dtype) if bias_ih is None else _gru_blocks(bias_ih, 0)
        b_h = np.zeros(G, dtype) if bias_hh is None else _gru_blocks(bias_hh, 0)
        ws.append(np.stack([b_i, b_h]))
    return ws


def gru_to_torch(kernel, recurrent_kernel, bias=None):
    """[kernel, recurrent_kernel, bias (2, 3H)] -> (weight_ih, weight_hh, bias_ih, bias_hh)."""
    w_ih = _gru_blocks(np.asarray(kernel).T, 0).copy()
    w_hh = _gru_blocks(np.asarray(recurrent_kernel).T, 0).copy()
    if bias is None:
        return w_ih, w_hh, None, None
    bias = np.asarray(bias)
    if bias.ndim != 2:
        raise ValueError(
            f"gru_to_torch: PyTorch's GRU is reset_after=True with a (2, 3H) bias, got {bias.shape}"
        )
    return w_ih, w_hh, _gru_blocks(bias[0], 0).copy(), _gru_blocks(bias[1], 0).copy()
