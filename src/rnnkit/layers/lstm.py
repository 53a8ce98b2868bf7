"""Long Short-Term Memory layer (Hochreiter & Schmidhuber, 1997), Keras's ``LSTM``.

    i = sigma(x_t W_i + h_prev U_i + b_i)          input gate
    f = sigma(x_t W_f + h_prev U_f + b_f)          forget gate
    g = tanh (x_t W_c + h_prev U_c + b_c)          candidate cell
    o = sigma(x_t W_o + h_prev U_o + b_o)          output gate
    c_t = f * c_prev + i * g
    h_t = o * tanh(c_t)

With ``zoneout`` / ``cell_zoneout`` (Krueger et al. 2016; not in Keras) each unit keeps its
previous value with that probability, the new states above being ``h~``, ``c~``::

    c_t = zc * c_prev + (1 - zc) * c~          h_t = zh * h_prev + (1 - zh) * h~

with 0/1 draws ``zc``, ``zh`` at every step when training and their expectation p at inference
(``predict``, streaming); see :mod:`rnnkit.layers.zoneout`. Note ``h~ = o * tanh(c~)``: the
output gate sees the cell's new value, zoned out or not. Such a layer has no .keras, ONNX or
PyTorch export (they have no zoneout).

Weights in Keras layout (``get_weights`` order): kernel (I, 4H), recurrent_kernel (H, 4H),
bias (4H,), gate blocks in the order i, f, c, o. PyTorch's ``nn.LSTM`` has the same gate order
with transposed weights and two biases whose sum is ours. ``unit_forget_bias=True`` (the default)
starts the forget-gate bias at 1. The recurrence and its BPTT are in
:mod:`rnnkit.kernels.lstm` (reference) and :mod:`rnnkit.kernels.fast.lstm` (compiled), chosen
by :mod:`rnnkit.kernels.dispatch`.

>>> import numpy as np
>>> from rnnkit.layers.lstm import LSTM
>>> lstm = LSTM(4, return_sequences=True, return_state=True, seed=0)
>>> y, h, c = lstm(np.ones((2, 5, 3), dtype="float32"))
>>> y.shape, h.shape, c.shape, lstm.count_params()
((2, 5, 4), (2, 4), (2, 4), 128)
"""

import numpy as np

from .. import activations, initializers
from ..kernels.dispatch import inference_kernel_for, input_forward_for, kernels_for
from .recurrent import Recurrent
from .zoneout import ZoneoutMixin


class _UnitForgetBias(initializers.Initializer):
    """Keras's LSTM bias start: ``bias_initializer`` everywhere except ones for the forget gate."""

    def __init__(self, base, units):
        super().__init__(None)
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        H = self.units
        return np.concatenate([
            self.base((H,), dtype), np.ones((H,), dtype=dtype), self.base((2 * H,), dtype)
        ])


class LSTM(ZoneoutMixin, Recurrent):
    """LSTM layer. Arguments, defaults and weight layout as ``keras.layers.LSTM``.

    Args:
        units: H, the size of h_t and c_t.
        activation: for the candidate g and for c_t (tanh).
        recurrent_activation: for the gates i, f, o (sigmoid).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as Keras.
        unit_forget_bias: start the forget-gate bias at 1 (True).
        zoneout, cell_zoneout: probability that a unit of h (of c) keeps its previous value
            (0; rnnkit's, not Keras's: see the module docstring).
        dropout, recurrent_dropout: fractions dropped from x_t and from h_prev in the recurrent
            product, with masks fixed over the sequence, only when training.
        return_sequences, return_state, go_backwards: as Keras.
        seed: int seed (or numpy Generator) for the dropout and zoneout masks.
    """

    n_gates = 4
    kernel_cell = "lstm"          # the name rnnkit.kernels.dispatch knows this cell by
    state_names = ("h", "c")
    zoneout_args = ("zoneout", "cell_zoneout")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, zoneout=0.0, cell_zoneout=0.0, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias
        self._set_zoneout(zoneout=zoneout, cell_zoneout=cell_zoneout)

    def _bias_init(self):
        if self.unit_forget_bias:
            return _UnitForgetBias(self.bias_initializer, self.units)
        return self.bias_initializer

    def _kernel_forward(self, xw, states0, mask, rec_dropout):
        lstm_forward, lstm_backward = kernels_for("lstm", self, xw.dtype)  # fast or reference
        zh, zc = self._zoneout_masks(xw.shape[0], xw.shape[1], xw.dtype)
        h_seq, h_T, c_T, cache = lstm_forward(
            xw, self.recurrent_kernel.value, states0[0], states0[1], mask, rec_dropout,
            self.activation, self.recurrent_activation, zh=zh, zc=zc,
        )
        return h_seq, [h_T, c_T], (lstm_backward, cache)

    def _kernel_infer(self, x, states0, mask, out):
        lstm_infer = inference_kernel_for("lstm", self, x.dtype)
        if lstm_infer is None or self._zoneout_drawn():     # (masks drawn: the cached kernel)
            return super()._kernel_infer(x, states0, mask, out)
        h_T, c_T = lstm_infer(x, self.kernel.value, self._input_bias(),
                              self.recurrent_kernel.value, states0[0], states0[1], mask, out,
                              self.zero_output_for_mask, self.go_backwards, self.zoneout,
                              self.cell_zoneout)
        return [h_T, c_T]

    def _kernel_forward_x(self, x_tm, states0, mask, rec_dropout):
        lstm_forward_x = input_forward_for("lstm", self, x_tm.dtype)
        if lstm_forward_x is None:
            return None
        _, lstm_backward = kernels_for("lstm", self, x_tm.dtype)
        zh, zc = self._zoneout_masks(x_tm.shape[0], x_tm.shape[1], x_tm.dtype)
        h_seq, h_T, c_T, cache = lstm_forward_x(
            x_tm, self.kernel.value, self._input_bias(), self.recurrent_kernel.value,
            states0[0], states0[1], mask, rec_dropout, zh=zh, zc=zc,
        )
        return h_seq, [h_T, c_T], (lstm_backward, cache)

    def _kernel_backward(self, dh_seq, d_states, cache):
        lstm_backward, cache = cache
        dxw, dW_hh, dh0, dc0 = lstm_backward(dh_seq, d_states[0], d_states[1], cache,
                                             self._dh_trace(dh_seq))
        self.recurrent_kernel.grad += dW_hh
        return dxw, [dh0, dc0]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            recurrent_activation=activations.serialize(self.recurrent_activation),
            unit_forget_bias=self.unit_forget_bias,
        )
        return cfg
