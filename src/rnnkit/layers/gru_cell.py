"""One GRU step, Keras's ``GRUCell``: the same weights, layout and kernels as ``GRU``.

    xw = (x_t * d_x) W + b_ih ;  h_in = h_prev * d_h          (B, 3H), gate blocks z, r, h
    reset_after=True (default):
        hU = h_in U + b_hh
        z = sigma(xw_z + hU_z)   r = sigma(xw_r + hU_r)   hh = act(xw_h + r * hU_h)
    reset_after=False:
        z = sigma(xw_z + h_in U_z)   r = sigma(xw_r + h_in U_r)   hh = act(xw_h + (r * h_in) U_h)
    h_t = z * h_prev + (1 - z) * hh                           y_t = h_t, states [h_t]

Bias (2, 3H) = [b_ih; b_hh] with reset_after=True, (3H,) without (b_hh = 0). ``RNN(GRUCell(n))``
runs the ``GRU`` kernels (:meth:`sequence_layer`); the step is what stacks of cells,
``cell(x_t, states)`` and the NumPy streaming step use. ``GRU(n).cell`` is a ``GRUCell``
holding the layer's weights.

>>> import numpy as np
>>> from rnnkit.layers import GRUCell
>>> cell = GRUCell(4, seed=0)
>>> y, (h,) = cell(np.ones((2, 3), dtype="float32"), [np.zeros((2, 4))])
>>> y.shape, cell.count_params(), cell.bias.shape
((2, 4), 108, (2, 12))
"""

import numpy as np

from .. import activations
from ..kernels.equations import gru_state_update, gru_state_update_backward
from .cell import DenseCell
from .gru import GRU


class GRUCell(DenseCell):
    """GRU cell. Arguments, defaults and weight layout as ``keras.layers.GRUCell``.

    Args:
        units: H, the size of h_t.
        activation: for the candidate hh (tanh).
        recurrent_activation: for the gates z and r (sigmoid).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as Keras.
        reset_after: the reset gate after the recurrent product, with a recurrent bias (True).
        dropout, recurrent_dropout: fractions dropped from x_t and from h_prev where it enters
            the recurrent products, masks fixed over the sequence, only when training.
        seed: int seed (or numpy Generator) for the dropout masks.
    """

    n_gates = 3
    state_names = ("h",)
    layer_class = GRU

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 dropout=0.0, recurrent_dropout=0.0, reset_after=True, seed=None, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        G = self.n_gates * self.units
        return (2, G) if self.reset_after else (G,)

    def _biases(self):
        """``(b_ih, b_hh)``, either None where absent."""
        if self.bias is None:
            return None, None
        if self.reset_after:
            return self.bias.value[0], self.bias.value[1]
        return self.bias.value, None

    def step(self, x_t, states, drop=None):
        """``(h_t, [h_t], cache)`` from x_t (B, I) and states [h_prev] (B, H)."""
        h_prev = states[0]
        H = self.units
        sig, act = self.recurrent_activation, self.activation
        U = self.recurrent_kernel.value
        b_ih, b_hh = self._biases()
        x_in, h_in = self._inputs(x_t, h_prev, drop)
        xw = x_in @ self.kernel.value                                   # (B, 3H)
        if b_ih is not None:
            xw += b_ih
        if self.reset_after:
            hU = h_in @ U                                               # (B, 3H)
            if b_hh is not None:
                hU += b_hh
            a_zr = xw[:, :2 * H] + hU[:, :2 * H]
            zr = sig(a_zr)
            z, r = zr[:, :H], zr[:, H:]
            cand = hU[:, 2 * H:]                                        # hU_h
            a_h = xw[:, 2 * H:] + r * cand
        else:
            a_zr = xw[:, :2 * H] + h_in @ U[:, :2 * H]
            zr = sig(a_zr)
            z, r = zr[:, :H], zr[:, H:]
            cand = r * h_in                                             # r * h_in
            a_h = xw[:, 2 * H:] + cand @ U[:, 2 * H:]
        hh = act(a_h)
        h_t = gru_state_update(h_prev, z, hh)
        return h_t, [h_t], (x_in, h_in, drop, h_prev, a_zr, z, r, cand, a_h, hh)

    def step_backward(self, dy_t, d_states, cache):
        """``(dx_t, [dh_prev])`` from dL/dy_t and dL/dh_t (B, H)."""
        x_in, h_in, drop, h_prev, a_zr, z, r, cand, a_h, hh = cache
        H = self.units
        sig, act = self.recurrent_activation, self.activation
        U = self.recurrent_kernel.value
        dh = dy_t + d_states[0]                   # y_t and the state h_t are one value
        # h_t = z * h_prev + (1 - z) * hh
        dh_prev, dz, dhh = gru_state_update_backward(dh, h_prev, z, hh)
        # hh = act(a_h)
        da_h = dhh * act.derivative(a_h, hh)
        if self.reset_after:
            # a_h = xw_h + r * hU_h
            dr = da_h * cand
            d_cand = da_h * r
        else:
            # a_h = xw_h + (r * h_in) U_h
            d_cand = da_h @ U[:, 2 * H:].T
            dr = d_cand * h_in
        # z, r = sigma(a_zr)
        da_zr = np.concatenate([dz, dr], axis=1) * sig.derivative(a_zr, np.concatenate([z, r], 1))
        dxw = np.concatenate([da_zr, da_h], axis=1)                     # (B, 3H)
        if self.reset_after:
            # hU = h_in U + b_hh ;  a_zr = xw_zr + hU_zr
            dhU = np.concatenate([da_zr, d_cand], axis=1)
            self.recurrent_kernel.grad += h_in.T @ dhU
            if self.bias is not None:
                self.bias.grad[1] += dhU.sum(axis=0)
            dh_in = dhU @ U.T
        else:
            # a_zr = xw_zr + h_in U_zr ;  cand = r * h_in
            self.recurrent_kernel.grad[:, :2 * H] += h_in.T @ da_zr
            self.recurrent_kernel.grad[:, 2 * H:] += cand.T @ da_h
            dh_in = da_zr @ U[:, :2 * H].T + d_cand * r
        # xw = x_in W + b_ih
        self.kernel.grad += x_in.T @ dxw
        if self.bias is not None:
            if self.reset_after:
                self.bias.grad[0] += dxw.sum(axis=0)
            else:
                self.bias.grad += dxw.sum(axis=0)
        dx = self._undrop(dxw @ self.kernel.value.T, drop, 0)
        # h_in = h_prev * d_h
        dh_prev += self._undrop(dh_in, drop, 1)
        return dx, [dh_prev]

    def _layer_options(self):
        return dict(super()._layer_options(), recurrent_activation=self.recurrent_activation,
                    reset_after=self.reset_after)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(recurrent_activation=activations.serialize(self.recurrent_activation),
                   reset_after=self.reset_after)
        return cfg


GRU.cell_class = GRUCell  # GRU(n).cell (set here: the cell module imports the layer module)
