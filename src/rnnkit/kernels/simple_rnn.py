"""Simple (Elman) RNN over a whole sequence: the forward recurrence and its BPTT.

Reference NumPy kernel, written to be read beside the equations::

    a_t = xw_t + (h_prev * r) @ W_hh              xw_t = x_t @ W_ih + b, given for all t
    h_t = act(a_t)

``r`` is the optional recurrent-dropout mask (B, H), fixed over time; ``act`` is the activation
(tanh by default). Where ``mask[t, b]`` is False the step is skipped: ``h_t = h_prev``.

The input projection ``xw`` and the gradients ``dW_ih = X^T dxw``, ``dW_hh = H_prev^T dxw`` and
``dx = dxw W_ih^T`` are single matrix products outside the time loop; inside it only the
recurrent product and the activation remain.

>>> import numpy as np
>>> T, B, H = 3, 2, 4
>>> rng = np.random.default_rng(0)
>>> xw, W_hh = rng.normal(size=(T, B, H)), rng.normal(size=(H, H))
>>> h_seq, h_T, cache = simple_rnn_forward(xw, W_hh, np.zeros((B, H)))
>>> dxw, dW_hh, dh0 = simple_rnn_backward(np.ones_like(h_seq), None, cache)
>>> dxw.shape, dW_hh.shape, dh0.shape
((3, 2, 4), (4, 4), (2, 4))
"""

import numpy as np

from .. import activations
from .equations import carry_masked, carry_masked_backward
from .shapes import check_backward_grads


def simple_rnn_forward(xw, W_hh, h0, mask=None, rec_dropout=None, activation=activations.tanh):
    """Run the simple RNN recurrence over all T steps.

    Args:
        xw: (T, B, H) input projections ``x_t @ W_ih + b`` for every step, time-major.
        W_hh: (H, H) recurrent kernel.
        h0: (B, H) initial hidden state.
        mask: optional (T, B) bool, False where a step is padding (state carried through).
        rec_dropout: optional (B, H) multiplier applied to ``h_prev`` in the recurrent product.
        activation: a :class:`rnnkit.activations.Activation`.

    Returns:
        h_seq (T, B, H), h_T (B, H), and the cache for :func:`simple_rnn_backward`.
    """
    T, B, H = xw.shape
    act = activation
    h_all = np.empty((T + 1, B, H), dtype=xw.dtype)  # h_all[t] is h_prev of step t
    h_all[0] = h0
    a = np.empty((T, B, H), dtype=xw.dtype)          # pre-activations a_t
    y = np.empty((T, B, H), dtype=xw.dtype)          # act(a_t), before any mask

    for t in range(T):
        h_prev = h_all[t]
        h_in = h_prev if rec_dropout is None else h_prev * rec_dropout
        a_t = np.matmul(h_in, W_hh, out=a[t])
        a_t += xw[t]                                                      # (B, H)
        y[t] = act(a_t)
        if mask is None:
            h_all[t + 1] = y[t]
        else:                                      # padded step: carry the state through
            h_all[t + 1] = carry_masked(mask[t][:, None], y[t], h_prev)

    cache = (xw.dtype, W_hh, h_all, a, y, mask, rec_dropout, act)
    return h_all[1:], h_all[T].copy(), cache


def simple_rnn_backward(dh_seq, dh_T, cache, dh_trace=None):
    """Backpropagation through time for :func:`simple_rnn_forward`.

    Args:
        dh_seq: (T, B, H) gradient of the loss with respect to every output ``h_t``.
        dh_T: (B, H) gradient with respect to the final state, or None.
        cache: what :func:`simple_rnn_forward` returned.
        dh_trace: optional (T, B, H) array that receives the total dL/dh_t of every step.

    Returns:
        dxw (T, B, H), dW_hh (H, H), dh0 (B, H).
    """
    dtype, W_hh, h_all, a, y, mask, rec_dropout, act = cache
    T, B, H = a.shape
    dxw = np.empty((T, B, H), dtype=dtype)
    check_backward_grads("simple_rnn_backward", dh_seq, (dh_T,), T, B, H)
    dh = np.zeros((B, H), dtype=dtype) if dh_T is None else np.array(dh_T, dtype=dtype)

    for t in reversed(range(T)):
        dh = dh + dh_seq[t]
        if dh_trace is not None:               # dL/dh_t in full, for diagnostics
            dh_trace[t] = dh
        if mask is not None:                   # a padded step passes its gradient straight on
            dh, dh_skip = carry_masked_backward(mask[t][:, None], dh)
        # h_t = act(a_t)
        da = np.multiply(dh, act.derivative(a[t], y[t]), out=dxw[t])
        # a_t = xw_t + (h_prev * r) @ W_hh
        dh_prev = da @ W_hh.T
        if rec_dropout is not None:
            dh_prev *= rec_dropout
        if mask is not None:
            dh_prev += dh_skip
        dh = dh_prev

    # dW_hh = sum_t (h_prev_t * r)^T da_t, one product over all steps
    h_in = h_all[:T] if rec_dropout is None else h_all[:T] * rec_dropout
    dW_hh = h_in.reshape(T * B, H).T @ dxw.reshape(T * B, H)
    return dxw, dW_hh, dh
