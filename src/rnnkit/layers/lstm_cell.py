"""One LSTM step, Keras's ``LSTMCell``: the same weights, layout and kernels as ``LSTM``.

    z = (x_t * d_x) W + (h_prev * d_h) U + b                 (B, 4H), gate blocks i, f, c, o
    i = sigma(z_i)   f = sigma(z_f)   g = act(z_g)   o = sigma(z_o)
    c_t = f * c_prev + i * g
    h_t = o * act(c_t)                                        y_t = h_t, states [h_t, c_t]

``d_x``, ``d_h`` are the dropout masks of the call (ones without dropout). The backward below is
the forward read bottom-up; the state updates are those of :mod:`rnnkit.kernels.equations`,
shared with the whole-sequence kernels. ``RNN(LSTMCell(n))`` does not step through this cell:
:meth:`sequence_layer` hands it the ``LSTM`` kernels (fast or reference); the step is what a
stack of cells (``RNN([LSTMCell(n), ...])``), ``cell(x_t, states)`` and the NumPy streaming step
use. ``LSTM(n).cell`` is an ``LSTMCell`` holding the layer's weights.

>>> import numpy as np
>>> from rnnkit.layers import LSTMCell
>>> cell = LSTMCell(4, seed=0)
>>> y, (h, c) = cell(np.ones((2, 3), dtype="float32"), [np.zeros((2, 4))] * 2)
>>> y.shape, c.shape, cell.count_params(), [w.name for w in cell.weights]
((2, 4), (2, 4), 128, ['kernel', 'recurrent_kernel', 'bias'])
"""

from .. import activations
from ..kernels.equations import (lstm_cell_update, lstm_cell_update_backward, lstm_gates,
                                 lstm_gates_backward, lstm_hidden, lstm_hidden_backward)
from .cell import DenseCell
from .lstm import LSTM, _UnitForgetBias


class LSTMCell(DenseCell):
    """LSTM cell. Arguments, defaults and weight layout as ``keras.layers.LSTMCell``.

    Args:
        units: H, the size of h_t and c_t.
        activation: for the candidate g and for c_t (tanh).
        recurrent_activation: for the gates i, f, o (sigmoid).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as Keras.
        unit_forget_bias: start the forget-gate bias at 1 (True).
        dropout, recurrent_dropout: fractions dropped from x_t and from h_prev in the recurrent
            product, masks fixed over the sequence, only when training.
        seed: int seed (or numpy Generator) for the dropout masks.
    """

    n_gates = 4
    state_names = ("h", "c")
    layer_class = LSTM

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self):
        if self.unit_forget_bias:
            return _UnitForgetBias(self.bias_initializer, self.units)
        return self.bias_initializer

    def step(self, x_t, states, drop=None):
        """``(h_t, [h_t, c_t], cache)`` from x_t (B, I) and states [h_prev, c_prev] (B, H)."""
        h_prev, c_prev = states
        act, sig = self.activation, self.recurrent_activation
        z, x_in, h_in = self._project(x_t, h_prev, drop)               # (B, 4H)
        i, f, g, o = lstm_gates(z, act, sig)
        c_t = lstm_cell_update(c_prev, i, f, g)
        act_c = act(c_t)
        h_t = lstm_hidden(o, act_c)
        return h_t, [h_t, c_t], (x_in, h_in, drop, z, i, f, g, o, c_prev, c_t, act_c)

    def step_backward(self, dy_t, d_states, cache):
        """``(dx_t, [dh_prev, dc_prev])`` from dL/dy_t and dL/d[h_t, c_t] (B, H) each."""
        x_in, h_in, drop, z, i, f, g, o, c_prev, c_t, act_c = cache
        act, sig = self.activation, self.recurrent_activation
        dh = dy_t + d_states[0]                   # y_t and the state h_t are one value
        # h_t = o * act(c_t)
        do, dc = lstm_hidden_backward(dh, d_states[1], o, act_c, act.derivative(c_t, act_c))
        # c_t = f * c_prev + i * g
        di, df, dg, dc_prev = lstm_cell_update_backward(dc, c_prev, i, f, g)
        # i, f, g, o from z
        dz = lstm_gates_backward(di, df, dg, do, z, i, f, g, o, act, sig)
        # z = x_in W + h_in U + b
        dx, dh_prev = self._project_backward(dz, x_in, h_in, drop)
        return dx, [dh_prev, dc_prev]

    def _layer_options(self):
        return dict(super()._layer_options(), recurrent_activation=self.recurrent_activation,
                    unit_forget_bias=self.unit_forget_bias)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(recurrent_activation=activations.serialize(self.recurrent_activation),
                   unit_forget_bias=self.unit_forget_bias)
        return cfg


LSTM.cell_class = LSTMCell  # LSTM(n).cell (set here: the cell module imports the layer module)
