"""minGRU and minLSTM layers (Feng et al. 2024, "Were RNNs All We Needed?").

    minGRU:   z = sigma(x_t W_z + b_z)   hh = x_t W_h + b_h
              h_t = (1 - z) * h_prev + z * hh
    minLSTM:  f = sigma(x_t W_f + b_f)   i = sigma(x_t W_i + b_i)   hh = x_t W_h + b_h
              f' = f / (f + i)   i' = i / (f + i)
              h_t = f' * h_prev + i' * hh

No gate reads ``h_prev``, so there is no recurrent kernel: the weights are kernel (I, G*H) and
bias (G*H,), gate blocks z, h (minGRU, G = 2) or f, i, h (minLSTM, G = 3), and the recurrence
is the linear scan of :mod:`rnnkit.kernels.scan`, run step by step or in parallel (``scan=``).
The candidate has no activation in the paper (``activation="linear"``); any rnnkit activation
may be given (the paper's log-space variant uses a positive one).

Everything else is the shared time loop of :class:`~rnnkit.layers.recurrent.Recurrent`:
``return_sequences``, ``return_state``, ``go_backwards``, ``stateful``, masks (padded steps
carry the state), ``initial_state``, input ``dropout``. There is no ``recurrent_dropout``
(nothing recurrent to drop). ``streamer()`` steps the layer one ``x_t`` at a time.

>>> import numpy as np
>>> from rnnkit.layers.min_rnn import MinGRU, MinLSTM
>>> gru = MinGRU(4, return_sequences=True)
>>> y = gru(np.ones((2, 5, 3), dtype="float32"))
>>> y.shape, gru.count_params(), MinLSTM(4)(np.ones((2, 5, 3))).shape
((2, 5, 4), 32, (2, 4))
"""

import numpy as np

from .. import activations, initializers
from ..kernels import min_rnn as _mk
from ..kernels.scan import check_method
from .recurrent import Recurrent
from .step_streamer import StepStreamer


class _MinRecurrent(Recurrent):
    """What minGRU and minLSTM share: no recurrent kernel, one state h, a scan."""

    state_names = ("h",)
    kernel_cell = None                 # none of the LSTM/GRU/SimpleRNN kernels apply

    def __init__(self, units, activation="linear", scan="auto", **kwargs):
        for gone in ("recurrent_dropout", "recurrent_initializer"):
            value = kwargs.pop(gone, None)
            if value not in (None, 0, 0.0):
                raise ValueError(f"{type(self).__name__}: {gone} is not an argument of this "
                                 f"layer (no gate reads h_prev), got {value!r}")
        super().__init__(units, activation=activation, **kwargs)
        self.scan = check_method(scan, self.name)

    def _build_cell(self, input_dim):
        G = self.n_gates * self.units
        self.kernel = self.add_weight("kernel", (input_dim, G), self.kernel_initializer)
        self.recurrent_kernel = None
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (G,), self._bias_init())

    def _kernel_forward(self, xw, states0, mask, rec_dropout):
        forward, backward = self._kernels
        h_seq, h_T, cache = forward(xw, states0[0], mask, self.activation, self.scan)
        return h_seq, [h_T], cache

    def _kernel_backward(self, dh_seq, d_states, cache):
        backward = self._kernels[1]
        dxw, dh0 = backward(dh_seq, d_states[0], cache, self._dh_trace(dh_seq))
        return dxw, [dh0]

    def step(self, x_t, states):
        """One step for inference: x_t (B, I), states [h_prev (B, H)] -> [h_t (B, H)]."""
        xw = np.asarray(x_t, dtype=self.kernel.value.dtype) @ self.kernel.value
        if self.bias is not None:
            xw += self.bias.value
        a, b = self._coefficients(xw)
        return [a * states[0] + b]

    def streamer(self, batch_size=1, initial_state=None):
        """A :class:`~rnnkit.layers.step_streamer.StepStreamer`: ``stream.step(x_t (B, I))
        -> h_t (B, H)``, one :meth:`step` per call."""
        return StepStreamer(self, batch_size=batch_size, initial_state=initial_state)

    def get_config(self):
        cfg = super().get_config()
        del cfg["recurrent_initializer"], cfg["recurrent_dropout"]
        cfg["scan"] = self.scan
        return cfg


class MinGRU(_MinRecurrent):
    """minGRU layer: ``h_t = (1 - z) h_prev + z hh`` with ``z``, ``hh`` from ``x_t`` alone.

    Args:
        units: H, the size of h_t.
        activation: for the candidate hh ("linear", as the paper).
        use_bias, kernel_initializer, bias_initializer: as Keras (kernel (I, 2H), blocks z, h).
        scan: "auto", "sequential", "blocked" or "log" (:mod:`rnnkit.kernels.scan`).
        dropout: fraction of x_t dropped (one mask per sequence), only when training.
        return_sequences, return_state, go_backwards, stateful, zero_output_for_mask, seed:
            as the other recurrent layers.
    """

    n_gates = 2
    _kernels = (_mk.mingru_forward, _mk.mingru_backward)          # (forward, backward)

    def _coefficients(self, xw):
        H = self.units
        z = activations.sigmoid(xw[:, :H])
        return 1.0 - z, z * self.activation(xw[:, H:])


class _UnitForgetBias(initializers.Initializer):
    """``bias_initializer`` everywhere except ones for the forget block (the first H)."""

    def __init__(self, base, units):
        super().__init__(None)
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        H = self.units
        return np.concatenate([np.ones((H,), dtype=dtype), self.base((2 * H,), dtype)])


class MinLSTM(_MinRecurrent):
    """minLSTM layer: ``h_t = f' h_prev + i' hh`` with normalised gates from ``x_t`` alone.

    Args:
        units: H, the size of h_t.
        activation: for the candidate hh ("linear", as the paper).
        unit_forget_bias: start the forget-gate bias at 1 (False: the paper's plain start).
        use_bias, kernel_initializer, bias_initializer: as Keras (kernel (I, 3H), blocks
            f, i, h).
        scan, dropout, seed: as :class:`MinGRU`; so are return_sequences, return_state,
            go_backwards, stateful and zero_output_for_mask.
    """

    n_gates = 3
    _kernels = (_mk.minlstm_forward, _mk.minlstm_backward)        # (forward, backward)

    def __init__(self, units, unit_forget_bias=False, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self):
        if self.unit_forget_bias:
            return _UnitForgetBias(self.bias_initializer, self.units)
        return self.bias_initializer

    def _coefficients(self, xw):
        H = self.units
        f = activations.sigmoid(xw[:, :H])
        i = activations.sigmoid(xw[:, H:2 * H])
        s = f + i
        return f / s, (i / s) * self.activation(xw[:, 2 * H:])

    def get_config(self):
        cfg = super().get_config()
        cfg["unit_forget_bias"] = self.unit_forget_bias
        return cfg
