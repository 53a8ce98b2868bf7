"""Gated Recurrent Unit layer (Cho et al., 2014), Keras's ``GRU``.

    z  = sigma(x_t W_z + h_prev U_z + b_z)                      update gate
    r  = sigma(x_t W_r + h_prev U_r + b_r)                      reset gate
    hh = tanh (x_t W_h + r * (h_prev U_h + b'_h) + b_h)         reset_after=True (default)
    hh = tanh (x_t W_h + (r * h_prev) U_h + b_h)                reset_after=False
    h_t = z * h_prev + (1 - z) * hh

With ``zoneout`` (Krueger et al. 2016; not in Keras) each unit of h keeps its previous value with
that probability, ``h~`` being the new state above::

    h_t = zh * h_prev + (1 - zh) * h~

with 0/1 draws ``zh`` at every step when training and their expectation p at inference
(``predict``, streaming); see :mod:`rnnkit.layers.zoneout`. Such a layer has no .keras, ONNX or
PyTorch export (they have no zoneout).

Weights in Keras layout (``get_weights`` order): kernel (I, 3H), recurrent_kernel (H, 3H), gate
blocks z, r, h; bias (2, 3H) = [input bias; recurrent bias] with reset_after=True (the
recurrent bias ``b'`` is added to ``h_prev U`` for all three gates), or (3H,) with
reset_after=False. PyTorch's ``nn.GRU`` is reset_after=True with gate order r, z, n and
transposed weights (see :mod:`rnnkit.io.torch_layout`). The recurrence and its BPTT are in
:mod:`rnnkit.kernels.gru` (reference) and :mod:`rnnkit.kernels.fast.gru` (compiled), chosen by
:mod:`rnnkit.kernels.dispatch`.

>>> import numpy as np
>>> from rnnkit.layers.gru import GRU
>>> gru = GRU(4, return_sequences=True, return_state=True, seed=0)
>>> y, h = gru(np.ones((2, 5, 3), dtype="float32"))
>>> y.shape, h.shape, gru.count_params(), gru.bias.shape
((2, 5, 4), (2, 4), 108, (2, 12))
"""

from .. import activations
from ..kernels.dispatch import inference_kernel_for, input_forward_for, kernels_for
from .recurrent import Recurrent
from .zoneout import ZoneoutMixin


class GRU(ZoneoutMixin, Recurrent):
    """GRU layer. Arguments, defaults and weight layout as ``keras.layers.GRU``.

    Args:
        units: H, the size of h_t.
        activation: for the candidate hh (tanh).
        recurrent_activation: for the gates z and r (sigmoid).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as Keras.
        reset_after: apply the reset gate after the recurrent product, with a separate
            recurrent bias (True, as Keras, cuDNN and PyTorch), or before it (False).
        zoneout: probability that a unit of h keeps its previous value (0; rnnkit's, not
            Keras's: see the module docstring).
        dropout, recurrent_dropout: fractions dropped from x_t and from h_prev where it enters
            the recurrent products, with masks fixed over the sequence, only when training.
        return_sequences, return_state, go_backwards: as Keras.
        seed: int seed (or numpy Generator) for the dropout and zoneout masks.
    """

    n_gates = 3
    kernel_cell = "gru"          # the name rnnkit.kernels.dispatch knows this cell by
    state_names = ("h",)
    zoneout_args = ("zoneout",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, zoneout=0.0, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)
        self._set_zoneout(zoneout=zoneout)

    # with reset_after the bias is (2, 3H): row 0 joins the input projection, row 1 the
    # recurrent product inside the kernel
    def _bias_shape(self):
        G = self.n_gates * self.units
        return (2, G) if self.reset_after else (G,)

    def _input_bias(self):
        if self.bias is None:
            return None
        return self.bias.value[0] if self.reset_after else self.bias.value

    def _recurrent_bias(self):
        return self.bias.value[1] if self.bias is not None and self.reset_after else None

    def _add_bias_grad(self, dxw_sum):
        if self.bias is not None:
            if self.reset_after:
                self.bias.grad[0] += dxw_sum
            else:
                self.bias.grad += dxw_sum

    def _kernel_forward(self, xw, states0, mask, rec_dropout):
        gru_forward, gru_backward = kernels_for("gru", self, xw.dtype)  # fast or reference
        zh, = self._zoneout_masks(xw.shape[0], xw.shape[1], xw.dtype)
        h_seq, h_T, cache = gru_forward(
            xw, self.recurrent_kernel.value, self._recurrent_bias(), states0[0], mask,
            rec_dropout, self.reset_after, self.activation, self.recurrent_activation, zh=zh,
        )
        return h_seq, [h_T], (gru_backward, cache)

    def _kernel_infer(self, x, states0, mask, out):
        gru_infer = inference_kernel_for("gru", self, x.dtype)
        if gru_infer is None or self._zoneout_drawn():      # (masks drawn: the cached kernel)
            return super()._kernel_infer(x, states0, mask, out)
        h_T = gru_infer(x, self.kernel.value, self._input_bias(), self.recurrent_kernel.value,
                        self._recurrent_bias(), states0[0], mask, self.reset_after, out,
                        self.zero_output_for_mask, self.go_backwards, self.zoneout)
        return [h_T]

    def _kernel_forward_x(self, x_tm, states0, mask, rec_dropout):
        gru_forward_x = input_forward_for("gru", self, x_tm.dtype)
        if gru_forward_x is None:
            return None
        _, gru_backward = kernels_for("gru", self, x_tm.dtype)
        zh, = self._zoneout_masks(x_tm.shape[0], x_tm.shape[1], x_tm.dtype)
        h_seq, h_T, cache = gru_forward_x(
            x_tm, self.kernel.value, self._input_bias(), self.recurrent_kernel.value,
            self._recurrent_bias(), states0[0], mask, rec_dropout, self.reset_after, zh=zh,
        )
        return h_seq, [h_T], (gru_backward, cache)

    def _kernel_backward(self, dh_seq, d_states, cache):
        gru_backward, cache = cache
        dxw, dW_hh, db_hh, dh0 = gru_backward(dh_seq, d_states[0], cache, self._dh_trace(dh_seq))
        self.recurrent_kernel.grad += dW_hh
        if db_hh is not None:
            self.bias.grad[1] += db_hh
        return dxw, [dh0]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            recurrent_activation=activations.serialize(self.recurrent_activation),
            reset_after=self.reset_after,
        )
        return cfg
