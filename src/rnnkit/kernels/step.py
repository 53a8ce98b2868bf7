"""One time step of each cell, for inference: the readable NumPy reference of streaming.

The whole-sequence kernels (:mod:`rnnkit.kernels.lstm`, ``gru``, ``simple_rnn``) take the input
projection of every step at once. A stream gets one ``x_t`` at a time, so a step computes its
own input projection; otherwise these are the same equations, written in the same order as the
whole-sequence kernels so that float64 results agree with them to rounding (~1e-15)::

    LSTM       z = h_prev @ W_hh + (x_t @ W_ih + b)                          (B, 4H)
               i, f, o = sigma(z_i, z_f, z_o) ;  g = act(z_g)
               c_t = f * c_prev + i * g ;  h_t = o * act(c_t)
    GRU        xw = x_t @ W_ih + b_ih                                        (B, 3H)
      reset_after=True:   hU = h_prev @ W_hh + b_hh
                          z, r = sigma(xw_zr + hU_zr) ;  hh = act(xw_h + r * hU_h)
      reset_after=False:  z, r = sigma(h_prev @ U_zr + xw_zr)
                          hh = act((r * h_prev) @ U_h + xw_h)
               h_t = z * h_prev + (1 - z) * hh
    SimpleRNN  h_t = act(h_prev @ W_hh + (x_t @ W_ih + b))

with zoneout (LSTM, GRU) by its expectation, the constant blends ``c_t = p_c c_prev + (1 - p_c)
c_t`` and ``h_t = p_h h_prev + (1 - p_h) h_t`` (``zoneout``, ``cell_zoneout``: 0 skips them).
No dropout, no mask and no cache: a step is inference only. :mod:`rnnkit.kernels.fast.step` is
the compiled version; :class:`rnnkit.layers.streaming.Streamer` chooses between them.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> B, I, H = 2, 3, 4
>>> x_t, h, c = rng.normal(size=(B, I)), np.zeros((B, H)), np.zeros((B, H))
>>> W_ih, W_hh, b = rng.normal(size=(I, 4 * H)), rng.normal(size=(H, 4 * H)), np.zeros(4 * H)
>>> h_t, c_t = lstm_step(x_t, h, c, W_ih, W_hh, b)
>>> h_t.shape, c_t.shape
((2, 4), (2, 4))
"""

from .. import activations
from .equations import gru_state_update, lstm_cell_update, lstm_gates, lstm_hidden, zoneout


def lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b, activation=activations.tanh,
              recurrent_activation=activations.sigmoid, zoneout_h=0.0, zoneout_c=0.0):
    """One LSTM step.

    Args:
        x_t: (B, I) input.  h_prev, c_prev: (B, H) states.
        W_ih: (I, 4H) kernel.  W_hh: (H, 4H) recurrent kernel.  b: (4H,) bias or None.
        activation, recurrent_activation: :class:`rnnkit.activations.Activation` objects.
        zoneout_h, zoneout_c: the zoneout probabilities p of h and c (0: none).

    Returns:
        h_t (B, H), c_t (B, H), new arrays.
    """
    xw = x_t @ W_ih                                   # (B, 4H)
    if b is not None:
        xw += b
    z = h_prev @ W_hh
    z += xw                                           # (B, 4H) pre-activations
    i, f, g, o = lstm_gates(z, activation, recurrent_activation)
    c_t = lstm_cell_update(c_prev, i, f, g)                       # c~
    h_t = lstm_hidden(o, activation(c_t))                         # h~
    if zoneout_c:                                     # zoneout by its expectation
        c_t = zoneout(zoneout_c, c_t, c_prev)
    if zoneout_h:
        h_t = zoneout(zoneout_h, h_t, h_prev)
    return h_t, c_t


def gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, reset_after=True,
             activation=activations.tanh, recurrent_activation=activations.sigmoid,
             zoneout_h=0.0):
    """One GRU step (gate blocks z, r, h).

    Args:
        x_t: (B, I) input.  h_prev: (B, H) state.
        W_ih: (I, 3H) kernel.  W_hh: (H, 3H) recurrent kernel.
        b_ih: (3H,) input bias or None.  b_hh: (3H,) recurrent bias (reset_after only) or None.
        reset_after: apply the reset gate after the recurrent product (True) or before (False).
        activation, recurrent_activation: :class:`rnnkit.activations.Activation` objects.
        zoneout_h: the zoneout probability p of h (0: none).

    Returns:
        h_t (B, H), a new array.
    """
    H = h_prev.shape[1]
    sig, act = recurrent_activation, activation
    xw = x_t @ W_ih                                   # (B, 3H)
    if b_ih is not None:
        xw += b_ih
    if reset_after:
        hU = h_prev @ W_hh                            # (B, 3H)
        if b_hh is not None:
            hU += b_hh
        zr = sig(xw[:, :2 * H] + hU[:, :2 * H])
        z, r = zr[:, :H], zr[:, H:]
        hh = act(xw[:, 2 * H:] + r * hU[:, 2 * H:])
    else:
        a_zr = h_prev @ W_hh[:, :2 * H]
        a_zr += xw[:, :2 * H]
        zr = sig(a_zr)
        z, r = zr[:, :H], zr[:, H:]
        a_h = (r * h_prev) @ W_hh[:, 2 * H:]
        a_h += xw[:, 2 * H:]
        hh = act(a_h)
    h_t = gru_state_update(h_prev, z, hh)
    if zoneout_h:                                     # zoneout by its expectation
        h_t = zoneout(zoneout_h, h_t, h_prev)
    return h_t


def simple_rnn_step(x_t, h_prev, W_ih, W_hh, b, activation=activations.tanh):
    """One SimpleRNN step: ``h_t = act(h_prev @ W_hh + x_t @ W_ih + b)``, a new (B, H) array.

    Args:
        x_t: (B, I) input.  h_prev: (B, H) state.
        W_ih: (I, H) kernel.  W_hh: (H, H) recurrent kernel.  b: (H,) bias or None.
        activation: an :class:`rnnkit.activations.Activation`.
    """
    xw = x_t @ W_ih                                   # (B, H)
    if b is not None:
        xw += b
    a = h_prev @ W_hh
    a += xw
    return activation(a)
