"""minGRU and minLSTM over a whole sequence (Feng et al. 2024, "Were RNNs All We Needed?").

Their gates read ``x_t`` only, never ``h_prev``, so every gate of every step comes out of the
input projection ``xw = x @ W + b`` (computed by the layer for all steps at once) and the only
thing left in time is the linear scan ``h_t = a_t h_prev + b_t`` of :mod:`.scan`::

    minGRU   (xw blocks z, h; (T, B, 2H))
        z  = sigma(xw_z)             hh = act(xw_h)        (act: linear in the paper)
        h_t = (1 - z) * h_prev + z * hh                    a = 1 - z,  b = z * hh

    minLSTM  (xw blocks f, i, h; (T, B, 3H))
        f  = sigma(xw_f)   i = sigma(xw_i)   hh = act(xw_h)
        f' = f / (f + i)   i' = i / (f + i)                (the paper's length normalisation)
        h_t = f' * h_prev + i' * hh                        a = f',     b = i' * hh

Where ``mask[t, b]`` is False the step carries the state (``a = 1``, ``b = 0``).

Backward: the reverse scan gives ``g_t = dL/dh_t``; then ``da_t = g_t h_prev``, ``db_t = g_t``
and the gate derivatives below, one line each.

Where the fast kernels run (``RNNKIT_KERNELS``, numba) and the candidate is linear (the paper's
default), ``scan="auto"`` and ``"sequential"`` run the fused compiled passes of
:mod:`rnnkit.kernels.fast.min_rnn` instead (gates, scan and derivatives in one sweep); other
activations use the compiled scan with the gate math here.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> xw = rng.normal(size=(5, 2, 6)); h0 = np.zeros((2, 3))
>>> h_seq, h_T, cache = mingru_forward(xw, h0)
>>> dxw, dh0 = mingru_backward(np.ones_like(h_seq), None, cache)
>>> h_seq.shape, dxw.shape, dh0.shape
((5, 2, 3), (5, 2, 6), (2, 3))
"""

import numpy as np

from .. import activations
from .scan import check_method, linear_scan, linear_scan_backward


def _fused(xw, activation, scan):
    """:mod:`rnnkit.kernels.fast.min_rnn` where the fused compiled pass applies, else None."""
    if scan not in ("auto", "sequential") or activation.name != "linear":
        return None
    from .scan import _compiled
    if _compiled(xw.dtype) is None:
        return None
    from .fast import min_rnn
    return min_rnn


def _fused_backward(dh_seq, dh_T, cache, trace):
    from .fast import min_rnn
    return min_rnn.backward(dh_seq, dh_T, cache[1], trace)


def _masked(a, b, mask):
    """Padded steps carry the state: a = 1, b = 0 where ``mask`` (T, B) is False."""
    if mask is None:
        return a, b
    m = mask[:, :, None]
    return np.where(m, a, 1.0).astype(a.dtype), np.where(m, b, 0.0).astype(b.dtype)


def _grad_seq(dh_seq, dh_T):
    dh = np.array(dh_seq, copy=True)
    if dh_T is not None:
        dh[-1] += dh_T                     # the final state is also h_{T-1}
    return dh


def _h_prev(h0, h_seq):
    """(T, B, H): h_prev of every step, h0 then h_0 .. h_{T-2}."""
    return np.concatenate([h0[None], h_seq[:-1]], axis=0)


def mingru_forward(xw, h0, mask=None, activation=activations.linear, scan="auto"):
    """Run minGRU over all T steps.

    Args:
        xw: (T, B, 2H) input projections, blocks z then h, time-major.
        h0: (B, H) initial state.
        mask: optional (T, B) bool, False at padded steps.
        activation: for the candidate hh (linear in the paper).
        scan: "auto", "sequential", "blocked" or "log" (see :mod:`rnnkit.kernels.scan`).

    Returns:
        h_seq (T, B, H), h_T (B, H) and the cache for :func:`mingru_backward`.
    """
    check_method(scan, "mingru")
    fused = _fused(xw, activation, scan)
    if fused is not None:
        h_seq, h_T, cache = fused.forward(fused.GRU, xw, h0, mask)
        return h_seq, h_T, ("fused", cache)
    T, B, G = xw.shape
    H = G // 2
    z = activations.sigmoid(xw[..., :H])                    # (T, B, H) update gate
    hh = activation(xw[..., H:])                            # (T, B, H) candidate
    a, b = _masked(1.0 - z, z * hh, mask)
    h_seq = linear_scan(a, b, h0, scan)
    h_T = h_seq[-1].copy() if T else np.array(h0, copy=True)
    return h_seq, h_T, (xw, h0, z, hh, a, h_seq, mask, activation, scan)


def mingru_backward(dh_seq, dh_T, cache, trace=None):
    """BPTT of :func:`mingru_forward`.

    Args:
        dh_seq: (T, B, H) dL/dh_t from the outputs; dh_T: (B, H) or None, from the final state.
        trace: optional (T, B, H) buffer that receives g_t = dL/dh_t (diagnostics).

    Returns:
        dxw (T, B, 2H), dh0 (B, H).
    """
    if isinstance(cache[0], str):
        return _fused_backward(dh_seq, dh_T, cache, trace)
    xw, h0, z, hh, a, h_seq, mask, act, scan = cache
    H = h0.shape[-1]
    g, dh0 = linear_scan_backward(a, _grad_seq(dh_seq, dh_T), scan)
    if trace is not None:
        trace[...] = g
    h_prev = _h_prev(h0, h_seq)
    # forward:  h_t = (1 - z) h_prev + z hh
    dz = g * (hh - h_prev)                                  # dh_t/dz = hh - h_prev
    dhh = g * z                                             # dh_t/dhh = z
    if mask is not None:                                    # padded steps used no gate
        m = mask[:, :, None]
        dz, dhh = dz * m, dhh * m
    dxw = np.empty_like(xw)
    dxw[..., :H] = dz * z * (1.0 - z)                       # sigma' = z (1 - z)
    dxw[..., H:] = act.vjp(xw[..., H:], hh, dhh)
    return dxw, dh0


def minlstm_forward(xw, h0, mask=None, activation=activations.linear, scan="auto"):
    """Run minLSTM over all T steps.

    Args:
        xw: (T, B, 3H) input projections, blocks f, i, h, time-major.
        h0, mask, activation, scan: as :func:`mingru_forward`.

    Returns:
        h_seq (T, B, H), h_T (B, H) and the cache for :func:`minlstm_backward`.
    """
    check_method(scan, "minlstm")
    fused = _fused(xw, activation, scan)
    if fused is not None:
        h_seq, h_T, cache = fused.forward(fused.LSTM, xw, h0, mask)
        return h_seq, h_T, ("fused", cache)
    T, B, G = xw.shape
    H = G // 3
    f = activations.sigmoid(xw[..., :H])                    # (T, B, H) forget gate
    i = activations.sigmoid(xw[..., H:2 * H])               # (T, B, H) input gate
    hh = activation(xw[..., 2 * H:])                        # (T, B, H) candidate
    s = f + i
    fn, in_ = f / s, i / s                                  # f', i': sum to one
    a, b = _masked(fn, in_ * hh, mask)
    h_seq = linear_scan(a, b, h0, scan)
    h_T = h_seq[-1].copy() if T else np.array(h0, copy=True)
    return h_seq, h_T, (xw, h0, f, i, s, fn, in_, hh, a, h_seq, mask, activation, scan)


def minlstm_backward(dh_seq, dh_T, cache, trace=None):
    """BPTT of :func:`minlstm_forward`; arguments and returns as :func:`mingru_backward`
    (dxw is (T, B, 3H))."""
    if isinstance(cache[0], str):
        return _fused_backward(dh_seq, dh_T, cache, trace)
    xw, h0, f, i, s, fn, in_, hh, a, h_seq, mask, act, scan = cache
    H = h0.shape[-1]
    g, dh0 = linear_scan_backward(a, _grad_seq(dh_seq, dh_T), scan)
    if trace is not None:
        trace[...] = g
    h_prev = _h_prev(h0, h_seq)
    # forward:  h_t = f' h_prev + (1 - f') hh,  f' = f / (f + i)
    dfn = g * (h_prev - hh)                                 # dh_t/df' = h_prev - hh
    dhh = g * in_                                           # dh_t/dhh = i'
    if mask is not None:
        m = mask[:, :, None]
        dfn, dhh = dfn * m, dhh * m
    df = dfn * i / (s * s)                                  # df'/df = i / (f + i)^2
    di = -dfn * f / (s * s)                                 # df'/di = -f / (f + i)^2
    dxw = np.empty_like(xw)
    dxw[..., :H] = df * f * (1.0 - f)
    dxw[..., H:2 * H] = di * i * (1.0 - i)
    dxw[..., 2 * H:] = act.vjp(xw[..., 2 * H:], hh, dhh)
    return dxw, dh0
