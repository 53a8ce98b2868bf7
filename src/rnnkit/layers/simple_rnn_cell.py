"""One step of a simple (Elman) RNN, Keras's ``SimpleRNNCell``: the weights of ``SimpleRNN``.

    a_t = (x_t * d_x) W + (h_prev * d_h) U + b                (B, H)
    h_t = act(a_t)                                            y_t = h_t, states [h_t]

``RNN(SimpleRNNCell(n))`` runs the ``SimpleRNN`` kernels (:meth:`sequence_layer`); the step is
what stacks of cells, ``cell(x_t, states)`` and the NumPy streaming step use.
``SimpleRNN(n).cell`` is a ``SimpleRNNCell`` holding the layer's weights.

>>> import numpy as np
>>> from rnnkit.layers import SimpleRNNCell
>>> cell = SimpleRNNCell(4, seed=0)
>>> y, (h,) = cell(np.ones((2, 3), dtype="float32"), [np.zeros((2, 4))])
>>> y.shape, cell.count_params()
((2, 4), 32)
"""

from .cell import DenseCell
from .simple_rnn import SimpleRNN


class SimpleRNNCell(DenseCell):
    """Simple RNN cell. Arguments, defaults and weight layout as ``keras.layers.SimpleRNNCell``.

    Args:
        units: H, the size of h_t.
        activation: applied to ``a_t`` (tanh).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as Keras.
        dropout, recurrent_dropout: fractions dropped from x_t and from h_prev in the recurrent
            product, masks fixed over the sequence, only when training.
        seed: int seed (or numpy Generator) for the dropout masks.
    """

    n_gates = 1
    state_names = ("h",)
    layer_class = SimpleRNN

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)

    def step(self, x_t, states, drop=None):
        """``(h_t, [h_t], cache)`` from x_t (B, I) and states [h_prev] (B, H)."""
        a, x_in, h_in = self._project(x_t, states[0], drop)            # (B, H)
        h_t = self.activation(a)
        return h_t, [h_t], (x_in, h_in, drop, a, h_t)

    def step_backward(self, dy_t, d_states, cache):
        """``(dx_t, [dh_prev])`` from dL/dy_t and dL/dh_t (B, H)."""
        x_in, h_in, drop, a, h_t = cache
        dh = dy_t + d_states[0]                   # y_t and the state h_t are one value
        # h_t = act(a_t)
        da = dh * self.activation.derivative(a, h_t)
        # a_t = x_in W + h_in U + b
        dx, dh_prev = self._project_backward(da, x_in, h_in, drop)
        return dx, [dh_prev]


SimpleRNN.cell_class = SimpleRNNCell  # SimpleRNN(n).cell (set here: this module imports the layer)
