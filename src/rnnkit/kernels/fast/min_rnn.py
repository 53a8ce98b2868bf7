"""minGRU and minLSTM as fused compiled passes: the contract of :mod:`rnnkit.kernels.min_rnn`
for the paper's linear candidate (``activation="linear"``), float32 and float64.

The sigmoid gates are one NumPy call over all steps (exactly the reference's values; a
compiled approximate tanh was 2x faster but moved float32 gradients over 4096 steps by 1.3e-6),
then one Numba call per pass: the scan and (backward) the gate derivatives in a single sweep
over time, with no further (T, B, H) temporaries; the inner loop over the H units vectorises.
The cache is ``xw``, the gates (z; f and i), ``h0``, ``h_seq`` and the mask::

    minGRU    z = sig(xw_z), hh = xw_h          h_t = (1 - z) h_prev + z hh
              dxw_z = dh (hh - h_prev) z (1 - z) ;  dxw_h = dh z ;  dh_prev = dh (1 - z)
    minLSTM   f = sig(xw_f), i = sig(xw_i), hh = xw_h, s = f + i
              h_t = (f / s) h_prev + (i / s) hh
              df' = dh (h_prev - hh) ; dxw_f = df' i / s^2 f (1 - f)
              dxw_i = -df' f / s^2 i (1 - i) ; dxw_h = dh i / s ; dh_prev = dh f / s

``dh`` is dL/dh_t through every path (the output gradient of step t plus what flows back from
t+1; the reference calls it ``g_t``); padded steps pass it through unchanged and get no gate
gradient.

The compiled passes take :class:`Sequence` (the forward's inputs, gates and outputs: also the
cache), :class:`Grads` (the backward's gradients) and :class:`Options`, handed over as plain
tuples (:func:`rnnkit.kernels.fast.common.plain`: numba calls them faster) and unpacked in the
namedtuples' field order.
"""

import collections

import numpy as np
from numba import njit

from ...activations import sigmoid as sigmoid_np

from ._lowlevel import like
from .common import plain

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")
GRU, LSTM = 0, 1

Sequence = collections.namedtuple("Sequence", "xw z f i h0 h mask")
Sequence.__doc__ = """One sequence of a minGRU or minLSTM: ``xw`` (T, B, 2H) blocks z, h or
(T, B, 3H) blocks f, i, h, the input projections; the gates, (T, B, H) each: ``z`` (minGRU),
``f`` and ``i`` (minLSTM), the other cell's a (1, 1, 1) placeholder; ``h0`` (B, H) the initial
state; ``h`` (T, B, H) h_t, written by the forward; ``mask`` (T, B) bool, False at padded
steps (a (1, 1) placeholder without a mask)."""

Grads = collections.namedtuple("Grads", "dh_seq dh dxw dh_trace")
Grads.__doc__ = """The backward's gradients: ``dh_seq`` (T, B, H) dL/dh_t from the outputs;
``dh`` (B, H) dL/dh_t through every path, given dL/dh_T, left holding dL/dh0; ``dxw`` (T, B,
2H or 3H) written; ``dh_trace`` (T, B, H) dL/dh_t of every step (``Options.use_trace``)."""

Options = collections.namedtuple("Options", "cell use_mask use_trace")
Options.__doc__ = """``cell`` GRU or LSTM; ``use_mask`` read ``Sequence.mask``; ``use_trace``
fill ``Grads.dh_trace``."""


@njit(**_JIT)
def _carry(h, t, b, prev, H):
    for j in range(H):
        h[t, b, j] = prev[b, j]


@njit(**_JIT)
def _gru_forward(seq, opt):
    """h_t = (1 - z) h_prev + z hh, hh = xw_h, into ``seq.h`` (see :class:`Sequence`)."""
    xw, z_seq, _, _, h0, h, mask = seq          # see Sequence; f and i unused
    cell, use_mask, use_trace = opt
    T, B, _ = xw.shape
    H = h0.shape[1]
    one = like(xw, 1.0)
    prev = h0.copy()                            # (B, H) h_prev
    for t in range(T):
        for b in range(B):
            if use_mask and not mask[t, b]:
                _carry(h, t, b, prev, H)
                continue
            for j in range(H):
                z = z_seq[t, b, j]
                v = (one - z) * prev[b, j] + z * xw[t, b, H + j]
                h[t, b, j] = v
                prev[b, j] = v


@njit(**_JIT)
def _lstm_forward(seq, opt):
    """h_t = (f h_prev + i hh) / (f + i), hh = xw_h, into ``seq.h`` (see :class:`Sequence`)."""
    xw, _, f_seq, i_seq, h0, h, mask = seq      # see Sequence; z unused
    cell, use_mask, use_trace = opt
    T, B, _ = xw.shape
    H = h0.shape[1]
    prev = h0.copy()                            # (B, H) h_prev
    for t in range(T):
        for b in range(B):
            if use_mask and not mask[t, b]:
                _carry(h, t, b, prev, H)
                continue
            for j in range(H):
                f, i = f_seq[t, b, j], i_seq[t, b, j]
                v = (f * prev[b, j] + i * xw[t, b, 2 * H + j]) / (f + i)
                h[t, b, j] = v
                prev[b, j] = v


@njit(**_JIT)
def _backward(seq, grads, opt):
    """BPTT of either cell (see the module docstring): ``grads.dxw`` and ``grads.dh``."""
    xw, z_seq, f_seq, i_seq, h0, h, mask = seq  # see Sequence
    dh_seq, dh, dxw, dh_trace = grads           # (T, B, H), (B, H), (T, B, G*H), (T, B, H)
    cell, use_mask, use_trace = opt
    T, B, _ = xw.shape
    H = h0.shape[1]
    one, zero = like(xw, 1.0), like(xw, 0.0)
    for t in range(T - 1, -1, -1):
        for b in range(B):
            for j in range(H):
                dh[b, j] += dh_seq[t, b, j]              # dL/dh_t, every path
            if use_trace:
                for j in range(H):
                    dh_trace[t, b, j] = dh[b, j]
            if use_mask and not mask[t, b]:
                for j in range(dxw.shape[2]):
                    dxw[t, b, j] = zero                  # state carried: dh passes through
                continue
            hp = h0[b] if t == 0 else h[t - 1, b]        # (H,) h_prev
            if cell == GRU:
                for j in range(H):
                    dhj = dh[b, j]
                    z = z_seq[t, b, j]
                    dxw[t, b, j] = dhj * (xw[t, b, H + j] - hp[j]) * z * (one - z)
                    dxw[t, b, H + j] = dhj * z
                    dh[b, j] = dhj * (one - z)
            else:
                for j in range(H):
                    dhj = dh[b, j]
                    f, i = f_seq[t, b, j], i_seq[t, b, j]
                    r = one / (f + i)
                    dfn = dhj * (hp[j] - xw[t, b, 2 * H + j]) * r * r
                    dxw[t, b, j] = dfn * i * f * (one - f)
                    dxw[t, b, H + j] = -dfn * f * i * (one - i)
                    dxw[t, b, 2 * H + j] = dhj * i * r
                    dh[b, j] = dhj * f * r


def forward(cell, xw, h0, mask=None):
    """h_seq (T, B, H), h_T (B, H) and the cache for :func:`backward` (cell GRU or LSTM).

    ``xw`` (T, B, 2H) for GRU (blocks z, h), (T, B, 3H) for LSTM (blocks f, i, h); ``h0``
    (B, H); ``mask`` optional (T, B) bool.
    """
    xw = np.ascontiguousarray(xw)
    T, B, _ = xw.shape
    H = h0.shape[1]
    h0 = np.ascontiguousarray(h0, dtype=xw.dtype)
    h = np.empty((T, B, H), dtype=xw.dtype)
    use_mask = mask is not None
    mask = np.ascontiguousarray(mask, dtype=np.bool_) if use_mask else \
        np.ones((1, 1), dtype=np.bool_)
    unused = np.empty((1, 1, 1), dtype=xw.dtype)
    first = np.ascontiguousarray(sigmoid_np(xw[..., :H]))           # (T, B, H) z, or f
    opt = Options(cell, use_mask, False)
    if cell == GRU:
        seq = Sequence(xw, first, unused, unused, h0, h, mask)
        _gru_forward(*plain(seq, opt))
    else:
        i = np.ascontiguousarray(sigmoid_np(xw[..., H:2 * H]))      # (T, B, H)
        seq = Sequence(xw, unused, first, i, h0, h, mask)
        _lstm_forward(*plain(seq, opt))
    h_T = h[-1].copy() if T else h0.copy()
    return h, h_T, (seq, opt)


def backward(dh_seq, dh_T, cache, trace=None):
    """dxw (T, B, G*H) and dh0 (B, H), as :func:`rnnkit.kernels.min_rnn.mingru_backward`."""
    seq, opt = cache
    xw = seq.xw
    dh = np.zeros(seq.h0.shape, dtype=xw.dtype) if dh_T is None else \
        np.array(dh_T, dtype=xw.dtype, copy=True)                  # (B, H)
    dxw = np.empty_like(xw)
    use_trace = trace is not None
    grads = Grads(np.ascontiguousarray(dh_seq, dtype=xw.dtype), dh, dxw,
                  trace if use_trace else np.empty((1, 1, 1), dtype=xw.dtype))
    _backward(*plain(seq, grads, opt._replace(use_trace=use_trace)))
    return dxw, dh
