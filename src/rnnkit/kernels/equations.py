"""Each cell update written once: the equations every reference kernel and every cell calls.

The whole-sequence reference kernels (:mod:`rnnkit.kernels.lstm`, ``gru``, ``simple_rnn``) and
the cells (:class:`rnnkit.layers.LSTMCell`, ``GRUCell``, ``SimpleRNNCell``: also the one-step
reference of streaming) take their state updates from here, each beside its adjoint::

    LSTM   c_t = f * c_prev + i * g                 dc_prev = dc f ; df = dc c_prev
                                                    di = dc g ;      dg = dc i
           h_t = o * act(c_t)                       do = dh act(c_t)
                                                    dc += dh o act'(c_t)
    GRU    h_t = z * h_prev + (1 - z) * hh          dh_prev = dh z ; dz = dh (h_prev - hh)
                                                    dhh = dh (1 - z)
    mask   s_t = m ? s_new : s_prev                 ds_new = m ? ds : 0 ; ds_prev += m ? 0 : ds
    zone   s_t = z * s_prev + (1 - z) * s_new       ds_new = ds (1 - z) ; ds_prev += ds z

``zone`` is zoneout (Krueger et al. 2016) of a state (h, or c of the LSTM): ``z`` is the keep-mask,
a 0/1 draw per step and unit when training (the unit keeps its previous value with probability
p) and the constant p at inference (the expectation). The padding mask acts after it: a padded
step carries the state whatever zoneout drew.

The state updates and their adjoints (``lstm_cell_update``, ``lstm_hidden``,
``gru_state_update``, ``carry_masked``, ``zoneout`` and their ``*_backward``) are plain elementwise
arithmetic (plus ``np.where``) on arrays of one shape (B, H) or on scalars, with no Python
objects, so ``numba.njit(lstm_cell_update)`` compiles them as they are: the compiled kernels can
call the same definitions (a test compiles each one and compares). :func:`lstm_gates` and
:func:`lstm_gates_backward` split a pre-activation block in the Keras gate order and apply
:mod:`rnnkit.activations` objects: NumPy only.

>>> import numpy as np
>>> c_prev, i, f, g = np.array([1.0]), np.array([0.5]), np.array([0.25]), np.array([-1.0])
>>> lstm_cell_update(c_prev, i, f, g)
array([-0.25])
>>> [d.tolist() for d in lstm_cell_update_backward(np.array([2.0]), c_prev, i, f, g)]
[[-2.0], [2.0], [1.0], [0.5]]
"""

import numpy as np


# ---- LSTM ------------------------------------------------------------------------------------
def lstm_cell_update(c_prev, i, f, g):
    """``c_t = f * c_prev + i * g``: the new cell state (B, H) from the gates (B, H) each."""
    return f * c_prev + i * g


def lstm_cell_update_backward(dc, c_prev, i, f, g):
    """Adjoint of :func:`lstm_cell_update`: ``(di, df, dg, dc_prev)`` from ``dc = dL/dc_t``."""
    # c_t = f * c_prev + i * g
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    return di, df, dg, dc_prev


def lstm_hidden(o, act_c):
    """``h_t = o * act(c_t)``, given ``act_c = act(c_t)``."""
    return o * act_c


def lstm_hidden_backward(dh, dc, o, act_c, dact_c):
    """Adjoint of :func:`lstm_hidden`: ``(do, dc_total)``, where ``dact_c = act'(c_t)`` and
    ``dc`` is the gradient that reached ``c_t`` from later steps."""
    # h_t = o * act(c_t)
    do = dh * act_c
    dc_total = dc + dh * o * dact_c
    return do, dc_total


def lstm_gates(z, activation, recurrent_activation):
    """``i, f, g, o`` (B, H) each from the pre-activations ``z`` (B, 4H), Keras order i, f, c, o:
    ``i, f, o = sigma(z_i, z_f, z_o)``, ``g = act(z_g)``."""
    H = z.shape[-1] // 4
    sig, act = recurrent_activation, activation
    return sig(z[..., :H]), sig(z[..., H:2 * H]), act(z[..., 2 * H:3 * H]), sig(z[..., 3 * H:])


def lstm_gates_backward(di, df, dg, do, z, i, f, g, o, activation, recurrent_activation):
    """Adjoint of :func:`lstm_gates`: ``dz`` (B, 4H) from the gate gradients."""
    H = i.shape[-1]
    sig, act = recurrent_activation, activation
    dz = np.empty(i.shape[:-1] + (4 * H,), dtype=i.dtype)
    dz[..., :H] = di * sig.derivative(z[..., :H], i)
    dz[..., H:2 * H] = df * sig.derivative(z[..., H:2 * H], f)
    dz[..., 2 * H:3 * H] = dg * act.derivative(z[..., 2 * H:3 * H], g)
    dz[..., 3 * H:] = do * sig.derivative(z[..., 3 * H:], o)
    return dz


# ---- GRU -------------------------------------------------------------------------------------
def gru_state_update(h_prev, z, hh):
    """``h_t = z * h_prev + (1 - z) * hh``: the new state (B, H) from the update gate and the
    candidate."""
    return z * h_prev + (1 - z) * hh


def gru_state_update_backward(dh, h_prev, z, hh):
    """Adjoint of :func:`gru_state_update`: ``(dh_prev, dz, dhh)`` from ``dh = dL/dh_t``."""
    # h_t = z * h_prev + (1 - z) * hh
    dh_prev = dh * z
    dz = dh * (h_prev - hh)
    dhh = dh * (1 - z)
    return dh_prev, dz, dhh


# ---- masks -----------------------------------------------------------------------------------
def carry_masked(m, s_new, s_prev):
    """A padded step carries the state through: ``s_t = s_new`` where ``m`` (B, 1) is True,
    else ``s_prev``."""
    return np.where(m, s_new, s_prev)


def carry_masked_backward(m, ds):
    """Adjoint of :func:`carry_masked`: ``(ds_new, ds_prev)``, the gradient split by the mask."""
    return np.where(m, ds, 0), np.where(m, 0, ds)


# ---- zoneout ---------------------------------------------------------------------------------
def zoneout(z, s_new, s_prev):
    """``s_t = z * s_prev + (1 - z) * s_new``: zoneout of a state, ``z`` the keep-mask (0/1
    when training, the probability p at inference) broadcast against (B, H), or scalars.
    Written ``s_new + z (s_prev - s_new)``: no literal, so a float32 scalar stays float32 in
    compiled code."""
    return s_new + z * (s_prev - s_new)


def zoneout_backward(z, ds):
    """Adjoint of :func:`zoneout`: ``(ds_new, ds_prev)`` from ``ds = dL/ds_t``."""
    # s_t = z * s_prev + (1 - z) * s_new
    ds_prev = ds * z
    return ds - ds_prev, ds_prev
