"""LayerNormLSTM: the LSTM with layer normalisation (Ba et al. 2016) and zoneout (Krueger et
al. 2016), as lmnt-com/haste's ``LayerNormLSTM``.

    z   = LN(x_t W) * gamma_x + LN(h_prev W_hh) * gamma_h + b        (LN over all 4H values)
    i, f, g, o = sig(z_i), sig(z_f), tanh(z_g), sig(z_o)
    c~  = f * c_prev + i * g
    h~  = o * tanh(LN(c~) * gamma_c + beta_c)
    c_t = zc * c_prev + (1 - zc) * c~         h_t = zh * h_prev + (1 - zh) * h~      (zoneout)

Zoneout keeps a unit's previous value with probability ``cell_zoneout`` (c) / ``zoneout`` (h):
fresh Bernoulli draws at every step and unit when training, and the expectation (the constant
probability) at inference, as haste and the paper (arguments and masks shared with LSTM and
GRU: :mod:`rnnkit.layers.zoneout`). With both at 0 it is the plain LayerNorm LSTM. The
recurrence and its hand-written BPTT are in :mod:`rnnkit.kernels.ln_lstm` (the readable NumPy
reference) and :mod:`rnnkit.kernels.fast.ln_lstm` (compiled, same contract), chosen like the
other cells' by :mod:`rnnkit.kernels.dispatch` (``RNNKIT_KERNELS``; default activations, float32
and float64; otherwise the reference); the input LayerNorm runs over all steps at once, outside
the time loop.

Weights (``get_weights`` order): kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,) (Keras
gate order i, f, c, o), input_gamma (4H,), recurrent_gamma (4H,), cell_gamma (H,),
cell_beta (H,).

>>> import numpy as np
>>> from rnnkit.layers.ln_lstm import LayerNormLSTM
>>> layer = LayerNormLSTM(4, zoneout=0.1, return_sequences=True)
>>> layer(np.ones((2, 5, 3))).shape, layer.count_params()
((2, 5, 4), 168)
"""

import numpy as np

from .. import activations
from ..kernels.dispatch import inference_kernel_for, kernels_for
from ..kernels.layer_norm import normalize, normalize_backward
from .lstm import _UnitForgetBias
from .recurrent import Recurrent
from .step_streamer import StepStreamer
from .zoneout import ZoneoutMixin


class LayerNormLSTM(ZoneoutMixin, Recurrent):
    """LSTM with LayerNorm on the gate pre-activations and on the cell, and zoneout.

    Args:
        units: H, the size of h_t and c_t.
        zoneout: probability of keeping each unit of h_prev instead of the new h (0).
        cell_zoneout: the same for the cell state c (0).
        epsilon: the LayerNorm epsilon (1e-5, as haste and PyTorch).
        seed: as :class:`~rnnkit.layers.LSTM`, and also draws the zoneout masks; so are
            activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, unit_forget_bias, dropout,
            recurrent_dropout, return_sequences, return_state, go_backwards and stateful.
    """

    n_gates = 4
    kernel_cell = None             # no one-step kernels: streams step by step via step()
    state_names = ("h", "c")
    zoneout_args = ("zoneout", "cell_zoneout")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, zoneout=0.0, cell_zoneout=0.0, epsilon=1e-5, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self._set_zoneout(zoneout=zoneout, cell_zoneout=cell_zoneout)
        if not (isinstance(epsilon, (int, float)) and epsilon > 0):
            raise ValueError(f"{self.name}: epsilon must be a number > 0, got {epsilon!r}")
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.epsilon = float(epsilon)
        self._training = False
        self._no_cache = False     # True while a forward-only pass runs (no backward follows)

    def _bias_init(self):
        if self.unit_forget_bias:
            return _UnitForgetBias(self.bias_initializer, self.units)
        return self.bias_initializer

    def _build_cell(self, input_dim):
        super()._build_cell(input_dim)
        G, H = 4 * self.units, self.units
        self.input_gamma = self.add_weight("input_gamma", (G,), "ones")
        self.recurrent_gamma = self.add_weight("recurrent_gamma", (G,), "ones")
        self.cell_gamma = self.add_weight("cell_gamma", (H,), "ones")
        self.cell_beta = self.add_weight("cell_beta", (H,), "zeros")

    # the bias joins after the input LayerNorm (in _kernel_forward), not the projection
    def _input_bias(self):
        return None

    def _add_bias_grad(self, dxw_sum):
        pass                       # added in _kernel_backward

    def _kernel_forward(self, xw, states0, mask, rec_dropout):
        T, B, _ = xw.shape
        xhat, rstd = normalize(xw, self.epsilon)                      # (T, B, 4H), all steps
        xn = xhat * self.input_gamma.value
        if self.bias is not None:
            xn += self.bias.value
        zh, zc = self._zoneout_masks(T, B, xw.dtype)
        args = (xn, self.recurrent_kernel.value, self.recurrent_gamma.value,
                self.cell_gamma.value, self.cell_beta.value, states0[0], states0[1], mask, zh,
                zc, rec_dropout, self.epsilon, self.activation, self.recurrent_activation)
        ln_lstm_infer = inference_kernel_for("ln_lstm", self, xw.dtype) if self._no_cache \
            else None
        if ln_lstm_infer is not None:            # fast, keeping nothing for a backward pass
            h_seq, h_T, c_T = ln_lstm_infer(*args)
            return h_seq, [h_T, c_T], None
        ln_lstm_forward, ln_lstm_backward = kernels_for("ln_lstm", self, xw.dtype)  # fast or ref
        h_seq, h_T, c_T, cache = ln_lstm_forward(*args)
        return h_seq, [h_T, c_T], (xhat, rstd, ln_lstm_backward, cache)

    def _kernel_infer(self, x, states0, mask, out):
        """The base's forward without a cache (under inference_mode), with the fast kernel's
        forward-only pass where the fast path applies."""
        self._no_cache = True
        try:
            return super()._kernel_infer(x, states0, mask, out)
        finally:
            self._no_cache = False

    def _kernel_backward(self, dh_seq, d_states, cache):
        xhat, rstd, ln_lstm_backward, kcache = cache
        dxn, dW_hh, dgamma_h, dgamma_c, dbeta_c, dh0, dc0 = ln_lstm_backward(
            dh_seq, d_states[0], d_states[1], kcache, self._dh_trace(dh_seq))
        self.recurrent_kernel.grad += dW_hh
        self.recurrent_gamma.grad += dgamma_h
        self.cell_gamma.grad += dgamma_c
        self.cell_beta.grad += dbeta_c
        if self.bias is not None:
            self.bias.grad += dxn.sum(axis=(0, 1))                    # xn = xhat gamma_x + b
        self.input_gamma.grad += np.sum(dxn * xhat, axis=(0, 1))
        dxw = normalize_backward(dxn * self.input_gamma.value, xhat, rstd)
        return dxw, [dh0, dc0]

    def step(self, x_t, states):
        """One inference step: x_t (B, I), [h_prev, c_prev] -> [h_t, c_t] (zoneout by its
        expectation)."""
        saved, self._training, self._no_cache = self._training, False, True
        try:
            xw = (np.asarray(x_t, dtype=self.kernel.value.dtype) @ self.kernel.value)[None]
            _, new_states, _ = self._kernel_forward(xw, states, None, None)
        finally:
            self._training, self._no_cache = saved, False
        return new_states

    def streamer(self, batch_size=1, initial_state=None):
        """A :class:`~rnnkit.layers.step_streamer.StepStreamer` over :meth:`step`."""
        return StepStreamer(self, batch_size=batch_size, initial_state=initial_state)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            recurrent_activation=activations.serialize(self.recurrent_activation),
            unit_forget_bias=self.unit_forget_bias, epsilon=self.epsilon,
        )
        return cfg
