"""Fully-connected recurrent layer (Elman, 1990), Keras's ``SimpleRNN``.

    h_t = act(x_t W + h_prev U + b)

Weights in Keras layout (``get_weights`` order): kernel (I, H), recurrent_kernel (H, H),
bias (H,). PyTorch's ``nn.RNN`` has the same maths with transposed weights and two biases whose
sum is ours (``nonlinearity`` "tanh" or "relu"; any rnnkit activation works here). The
recurrence and its BPTT are in :mod:`rnnkit.kernels.simple_rnn` (reference) and
:mod:`rnnkit.kernels.fast.simple_rnn` (compiled, tanh and relu), chosen by
:mod:`rnnkit.kernels.dispatch`.

>>> import numpy as np
>>> from rnnkit.layers.simple_rnn import SimpleRNN
>>> rnn = SimpleRNN(4, return_sequences=True, return_state=True, seed=0)
>>> y, h = rnn(np.ones((2, 5, 3), dtype="float32"))
>>> y.shape, h.shape, rnn.count_params()
((2, 5, 4), (2, 4), 32)
"""

from ..kernels.dispatch import inference_kernel_for, input_forward_for, kernels_for
from .recurrent import Recurrent


class SimpleRNN(Recurrent):
    """Simple RNN layer. Arguments, defaults and weight layout as ``keras.layers.SimpleRNN``.

    Args:
        units: H, the size of h_t.
        activation: applied to ``x_t W + h_prev U + b`` (tanh).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as Keras.
        dropout, recurrent_dropout: fractions dropped from x_t and from h_prev in the recurrent
            product, with masks fixed over the sequence, only when training.
        return_sequences, return_state, go_backwards: as Keras.
        seed: int seed (or numpy Generator) for the dropout masks.
    """

    n_gates = 1
    kernel_cell = "simple_rnn"          # the name rnnkit.kernels.dispatch knows this cell by
    state_names = ("h",)

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, activation=activation, **kwargs)

    def _kernel_forward(self, xw, states0, mask, rec_dropout):
        simple_rnn_forward, simple_rnn_backward = kernels_for("simple_rnn", self, xw.dtype)
        h_seq, h_T, cache = simple_rnn_forward(
            xw, self.recurrent_kernel.value, states0[0], mask, rec_dropout, self.activation,
        )
        return h_seq, [h_T], (simple_rnn_backward, cache)

    def _kernel_infer(self, x, states0, mask, out):
        simple_rnn_infer = inference_kernel_for("simple_rnn", self, x.dtype)
        if simple_rnn_infer is None:
            return super()._kernel_infer(x, states0, mask, out)
        h_T = simple_rnn_infer(x, self.kernel.value, self._input_bias(),
                               self.recurrent_kernel.value, states0[0], mask, self.activation,
                               out, self.zero_output_for_mask, self.go_backwards)
        return [h_T]

    def _kernel_forward_x(self, x_tm, states0, mask, rec_dropout):
        simple_rnn_forward_x = input_forward_for("simple_rnn", self, x_tm.dtype)
        if simple_rnn_forward_x is None:
            return None
        _, simple_rnn_backward = kernels_for("simple_rnn", self, x_tm.dtype)
        h_seq, h_T, cache = simple_rnn_forward_x(
            x_tm, self.kernel.value, self._input_bias(), self.recurrent_kernel.value,
            states0[0], mask, rec_dropout, self.activation,
        )
        return h_seq, [h_T], (simple_rnn_backward, cache)

    def _kernel_backward(self, dh_seq, d_states, cache):
        simple_rnn_backward, cache = cache
        dxw, dW_hh, dh0 = simple_rnn_backward(dh_seq, d_states[0], cache,
                                                    self._dh_trace(dh_seq))
        self.recurrent_kernel.grad += dW_hh
        return dxw, [dh0]
