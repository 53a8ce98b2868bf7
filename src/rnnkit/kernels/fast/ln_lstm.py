"""Layer-normalised LSTM with zoneout as compiled passes: the contract of
:mod:`rnnkit.kernels.ln_lstm`.

Same equations, gate order (i, f, g, o), arguments, returns and cache use as the reference
kernel, for the default activations (tanh, sigmoid) in float32 and float64. Each pass over the
sequence is one Numba call per batch block (no Python per step); per step one product for the
recurrence (BLAS, a hand loop for a one-row block), then short row loops that LLVM vectorises::

    forward   r    = h_in W_hh                   h_in = h_prev, or h_prev * rec (dropout)
              rhat = (r - mean r) * r_rstd       r_rstd = 1 / sqrt(var r + eps)   (over 4H)
              z    = xn_t + rhat * gamma_h
              i, f, o = sig(z_i), sig(z_f), sig(z_o) ;  g = tanh(z_g)
              c~   = f * c_prev + i * g
              chat = (c~ - mean c~) * c_rstd     c_rstd = 1 / sqrt(var c~ + eps)  (over H)
              h~   = o * tanh(chat * gamma_c + beta_c)
              c_t  = zc * c_prev + (1 - zc) * c~ ;  h_t = zh * h_prev + (1 - zh) * h~

    backward  dh, dc: dL/dh_t, dL/dc_t through every path
              dh~ = dh (1 - zh) ;  dc~ = dc (1 - zc) ;  dh_prev = dh zh ;  dc_prev = dc zc
              a_c = tanh(chat gamma_c + beta_c)                          (recomputed)
              dz_o = dh~ a_c o (1 - o) ;  dcn = dh~ o (1 - a_c^2)
              dgamma_c += dcn chat ;  dbeta_c += dcn ;  dchat = dcn gamma_c
              dc~ += (dchat - mean dchat - chat mean(dchat chat)) c_rstd
              dz_i = dc~ g i (1 - i) ;  dz_f = dc~ c_prev f (1 - f) ;  dz_g = dc~ i (1 - g^2)
              dc_prev += dc~ f ;  dxn_t = dz
              dgamma_h += dz rhat ;  drhat = dz gamma_h
              dr  = (drhat - mean drhat - rhat mean(drhat rhat)) r_rstd
              dh_prev += (dr W_hh^T) * rec                                 (BLAS)
              dW_hh = sum_t h_in^T dr                       (one product after the loop)

The compiled passes take their arrays packed in the namedtuples below, one per kind (numba
types a namedtuple by its class, so ``cache=True`` keeps working). The gradients have buffers
of their own (nothing is written over the forward's values), so a cache can serve more than
one backward pass. The sums over the batch of ``dgamma_h``, ``dgamma_c`` and ``dbeta_c`` are
kept per row (each row sums over its steps in time order) and added over the rows after the
pass, and ``dW_hh`` is one product after it: no element's summation order depends on how the
batch was split over threads (:func:`rnnkit.kernels.fast.common.run_blocks`).

:func:`ln_lstm_infer` is the forward pass for inference: the same call with ``keep`` False,
the per-step values (gates, rhat, chat) written to one-step buffers instead of kept for all T.
"""

import collections

import numpy as np
from numba import njit

from ..shapes import check_backward_grads
from ._lowlevel import SMALL_MNK, gemm_rows, like, recurrent_step, sigmoid, tanh
from .common import Cache, mask_and_rec, matmul_split, run_blocks, trace_buffer

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")

# W_hh (H, 4H) recurrent kernel; gamma_h (4H,) the scale of LN(h_in W_hh); gamma_c, beta_c (H,)
# the cell LayerNorm's scale and shift; eps: the LayerNorm epsilon (a scalar of the dtype)
Weights = collections.namedtuple("Weights", "W_hh gamma_h gamma_c beta_c eps")
# mask (T, B) bool, False at padded steps; rec (B, H) the recurrent dropout multiplier of h_prev;
# zh, zc (T, B, H) zoneout keep-masks (0/1 when training, p at inference); use_*: whether the
# array is given (else a (1, 1) / (1, 1, 1) placeholder that is never read)
Steps = collections.namedtuple("Steps", "mask rec use_rec zh use_zh zc use_zc")
# the forward's values kept for backward: h, c (T+1, B, H) states, slot 0 the initial ones;
# gates (T, B, 4H) activations i, f, g, o; rhat (T, B, 4H) LN(h_in W_hh) before its scale;
# r_rstd (T, B) its 1 / sqrt(var + eps); chat (T, B, H) LN(c~) before its scale; c_rstd (T, B)
Saved = collections.namedtuple("Saved", "h c gates rhat r_rstd chat c_rstd")
# dxn (T, B, 4H) dL/dxn = dL/dz; dr (T, B, 4H) dL/d(h_in W_hh); dgamma_h_rows (B, 4H),
# dgamma_c_rows, dbeta_c_rows (B, H): per-row sums over the steps; dh, dc (B, H) the gradient
# of the carried states: dL/dh_T, dL/dc_T on entry, dL/dh_0, dL/dc_0 on exit
Grads = collections.namedtuple("Grads", "dxn dr dgamma_h_rows dgamma_c_rows dbeta_c_rows dh dc")


@njit(**_JIT)
def _row(a, t, b, use):
    """``a[t, b]`` where ``use``, else the placeholder's row ``a[0, 0]`` (never read)."""
    return a[t, b] if use else a[0, 0]


@njit(**_JIT)
def _forward_pass(xn, w, steps, saved, keep, r, h_in, c_new, small, b0, b1):
    # xn (T, B, 4H) LN(x W) gamma_x + b; w: Weights; steps: Steps; saved: Saved (out; h[0],
    # c[0] in); keep: store every step's values in saved (else its step axis has one slot,
    # written over at every step: forward only); scratch rows b0..b1-1 of: r (B, 4H) the
    # step's h_in W_hh, h_in (B, H) h_prev * rec, c_new (B, H) the step's c~ before zoneout
    T, B, G = xn.shape
    H = G // 4
    one, zero = like(xn, 1.0), like(xn, 0.0)
    inv_G, inv_H = like(xn, 1.0 / G), like(xn, 1.0 / H)
    h, c, gh, gc, bc = saved.h, saved.c, w.gamma_h, w.gamma_c, w.beta_c
    for t in range(T):
        s = t if keep else 0                     # the slot of step t in saved's per-step arrays
        # r[b0:b1] = h_in @ W_hh  (BLAS with beta = 1 on zeros; a hand loop for one row)
        for b in range(b0, b1):
            r_b = r[b]
            for j in range(G):
                r_b[j] = zero
        if steps.use_rec:
            for b in range(b0, b1):
                hp, rec_b, hi = h[t, b], steps.rec[b], h_in[b]
                for j in range(H):
                    hi[j] = hp[j] * rec_b[j]
            recurrent_step(h_in, w.W_hh, r, small, b0, b1)
        else:
            recurrent_step(h[t], w.W_hh, r, small, b0, b1)
        for b in range(b0, b1):
            c_prev, h_prev, c_t, h_t = c[t, b], h[t, b], c[t + 1, b], h[t + 1, b]   # (H,)
            if not steps.mask[t, b]:             # padded step: carry the states through
                for j in range(H):
                    c_t[j] = c_prev[j]
                    h_t[j] = h_prev[j]
                continue
            # rhat = LN(r) over the 4H values
            r_b, rh = r[b], saved.rhat[s, b]                                  # (4H,)
            mu = zero
            for j in range(G):
                mu += r_b[j]
            mu *= inv_G
            var = zero
            for j in range(G):
                d = r_b[j] - mu
                var += d * d
            r_rstd = one / np.sqrt(var * inv_G + w.eps)
            saved.r_rstd[s, b] = r_rstd
            for j in range(G):
                rh[j] = (r_b[j] - mu) * r_rstd
            # z = xn_t + rhat gamma_h -> i, f, g, o;  c~ = f c_prev + i g
            a, x_t, cn = saved.gates[s, b], xn[t, b], c_new[b]           # (4H,), (4H,), (H,)
            i, f, g, o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            mu_c = zero
            for j in range(H):
                ij = sigmoid(x_t[j] + rh[j] * gh[j])
                fj = sigmoid(x_t[H + j] + rh[H + j] * gh[H + j])
                gj = tanh(x_t[2 * H + j] + rh[2 * H + j] * gh[2 * H + j])
                oj = sigmoid(x_t[3 * H + j] + rh[3 * H + j] * gh[3 * H + j])
                i[j], f[j], g[j], o[j] = ij, fj, gj, oj
                cj = fj * c_prev[j] + ij * gj
                cn[j] = cj
                mu_c += cj
            mu_c *= inv_H
            var_c = zero
            for j in range(H):
                d = cn[j] - mu_c
                var_c += d * d
            c_rstd = one / np.sqrt(var_c * inv_H + w.eps)
            saved.c_rstd[s, b] = c_rstd
            # h~ = o tanh(chat gamma_c + beta_c); zoneout mixes in the previous states
            ch = saved.chat[s, b]                                               # (H,)
            zh, zc = _row(steps.zh, t, b, steps.use_zh), _row(steps.zc, t, b, steps.use_zc)
            for j in range(H):
                chj = (cn[j] - mu_c) * c_rstd
                ch[j] = chj
                h_new = o[j] * tanh(chj * gc[j] + bc[j])
                if steps.use_zh:
                    h_t[j] = zh[j] * h_prev[j] + (one - zh[j]) * h_new
                else:
                    h_t[j] = h_new
                if steps.use_zc:
                    c_t[j] = zc[j] * c_prev[j] + (one - zc[j]) * cn[j]
                else:
                    c_t[j] = cn[j]


@njit(**_JIT)
def _backward_pass(dh_seq, w, WT, steps, saved, grads, dchat, dh_rec, trace, use_trace, small,
                   b0, b1):
    # dh_seq (T, B, H) dL/dh_t from above; w: Weights; WT = W_hh^T (4H, H); steps: Steps;
    # saved: Saved; grads: Grads (dh, dc in and out, the rest out); scratch rows b0..b1-1 of:
    # dchat (B, H) dL/dchat of the step, dh_rec (B, H) dr W_hh^T; trace (T, B, H) receives
    # dL/dh_t when use_trace
    T, B, G = saved.gates.shape
    H = G // 4
    one, zero = like(dh_seq, 1.0), like(dh_seq, 0.0)
    inv_G, inv_H = like(dh_seq, 1.0 / G), like(dh_seq, 1.0 / H)
    gh, gc, bc = w.gamma_h, w.gamma_c, w.beta_c
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            dh, dc, ds = grads.dh[b], grads.dc[b], dh_seq[t, b]                 # (H,)
            for j in range(H):
                dh[j] += ds[j]                   # dL/dh_t, every path
            if use_trace:
                tr = trace[t, b]
                for j in range(H):
                    tr[j] = dh[j]
            dz, dr = grads.dxn[t, b], grads.dr[t, b]                             # (4H,)
            if not steps.mask[t, b]:             # padded step: dh, dc pass on unchanged
                for j in range(G):
                    dz[j] = zero
                    dr[j] = zero
                continue
            a, rh, ch = saved.gates[t, b], saved.rhat[t, b], saved.chat[t, b]
            i, f, g, o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            dz_i, dz_f, dz_g, dz_o = dz[:H], dz[H:2 * H], dz[2 * H:3 * H], dz[3 * H:]
            c_prev, dch = saved.c[t, b], dchat[b]
            dgc, dbc = grads.dgamma_c_rows[b], grads.dbeta_c_rows[b]
            zh, zc = _row(steps.zh, t, b, steps.use_zh), _row(steps.zc, t, b, steps.use_zc)
            # h~ = o a_c, a_c = tanh(cn), cn = chat gamma_c + beta_c
            m1, m2 = zero, zero
            for j in range(H):
                dh_new = dh[j] * (one - zh[j]) if steps.use_zh else dh[j]       # dL/dh~
                oj = o[j]
                a_c = tanh(ch[j] * gc[j] + bc[j])
                dz_o[j] = dh_new * a_c * oj * (one - oj)
                dcn = dh_new * oj * (one - a_c * a_c)
                dgc[j] += dcn * ch[j]
                dbc[j] += dcn
                d = dcn * gc[j]
                dch[j] = d
                m1 += d
                m2 += d * ch[j]
            m1 *= inv_H
            m2 *= inv_H
            c_rstd = saved.c_rstd[t, b]
            # c~ = f c_prev + i g;  zoneout: the kept part of dh, dc goes to h_prev, c_prev
            for j in range(H):
                dc_new = dc[j] * (one - zc[j]) if steps.use_zc else dc[j]
                dc_new += (dch[j] - m1 - ch[j] * m2) * c_rstd                   # dL/dc~
                ij, fj, gj = i[j], f[j], g[j]
                dz_i[j] = dc_new * gj * ij * (one - ij)
                dz_f[j] = dc_new * c_prev[j] * fj * (one - fj)
                dz_g[j] = dc_new * ij * (one - gj * gj)
                dc[j] = (dc[j] * zc[j] if steps.use_zc else zero) + dc_new * fj  # dL/dc_prev
                dh[j] = dh[j] * zh[j] if steps.use_zh else zero     # + dr W_hh^T below
            # z = xn + rhat gamma_h:  dgamma_h += dz rhat, dr from drhat = dz gamma_h
            dgh = grads.dgamma_h_rows[b]
            n1, n2 = zero, zero
            for j in range(G):
                dgh[j] += dz[j] * rh[j]
                d = dz[j] * gh[j]
                n1 += d
                n2 += d * rh[j]
            n1 *= inv_G
            n2 *= inv_G
            r_rstd = saved.r_rstd[t, b]
            for j in range(G):
                dr[j] = (dz[j] * gh[j] - n1 - rh[j] * n2) * r_rstd
        # dh_rec = dr @ W_hh^T (BLAS), times the dropout mask, into dL/dh_prev
        gemm_rows(b1 - b0, H, G, grads.dr, (t * B + b0) * G, G, WT, 0, H,
                  0.0, dh_rec, b0 * H, H, small)
        for b in range(b0, b1):
            if not steps.mask[t, b]:
                continue
            dh, s = grads.dh[b], dh_rec[b]
            if steps.use_rec:
                rec_b = steps.rec[b]
                for j in range(H):
                    dh[j] += s[j] * rec_b[j]
            else:
                for j in range(H):
                    dh[j] += s[j]


def _keep_mask(keep, T, B, H, dtype):
    """A zoneout keep-mask as a C-contiguous (T, B, H) array (a copy where it comes as (T, 1, 1),
    in another dtype or read-only) and True, or a placeholder and False for None."""
    if keep is None:
        return np.zeros((1, 1, 1), dtype=dtype), False
    if (isinstance(keep, np.ndarray) and keep.shape == (T, B, H) and keep.dtype == dtype
            and keep.flags.c_contiguous and keep.flags.writeable):
        return keep, True                        # read only by the passes
    full = np.empty((T, B, H), dtype=dtype)
    full[...] = keep
    return full, True


def _check_defaults(activation, recurrent_activation):
    for what, act, name in (("activation", activation, "tanh"),
                            ("recurrent_activation", recurrent_activation, "sigmoid")):
        got = getattr(act, "name", act)
        if act is not None and got != name:
            raise ValueError(f"fast ln_lstm_forward: implements {what}={name!r} only, got "
                             f"{got!r}; use rnnkit.kernels.ln_lstm")


def ln_lstm_forward(xn, W_hh, gamma_h, gamma_c, beta_c, h0, c0, mask=None, zh=None, zc=None,
                    rec_dropout=None, eps=1e-5, activation=None, recurrent_activation=None):
    """As :func:`rnnkit.kernels.ln_lstm.ln_lstm_forward` (default activations only).

    Returns:
        h_seq (T, B, H), h_T, c_T (B, H) and the cache for :func:`ln_lstm_backward`.
    """
    _check_defaults(activation, recurrent_activation)
    return _forward(xn, W_hh, gamma_h, gamma_c, beta_c, h0, c0, mask, zh, zc, rec_dropout, eps,
                    keep=True)


def ln_lstm_infer(xn, W_hh, gamma_h, gamma_c, beta_c, h0, c0, mask=None, zh=None, zc=None,
                  rec_dropout=None, eps=1e-5, activation=None, recurrent_activation=None):
    """:func:`ln_lstm_forward` for inference (no backward follows): the same pass, but the
    per-step values a backward needs (gates, rhat, chat, (T, B, 4H) and (T, B, H)) go to
    buffers of one step, written over at every step. Returns h_seq (T, B, H), h_T, c_T (B, H).
    """
    _check_defaults(activation, recurrent_activation)
    h_seq, h_T, c_T, _ = _forward(xn, W_hh, gamma_h, gamma_c, beta_c, h0, c0, mask, zh, zc,
                                  rec_dropout, eps, keep=False)
    return h_seq, h_T, c_T


def _forward(xn, W_hh, gamma_h, gamma_c, beta_c, h0, c0, mask, zh, zc, rec_dropout, eps, keep):
    xn = np.ascontiguousarray(xn)
    dtype = xn.dtype
    T, B, G = xn.shape
    H = G // 4
    S = T if keep else 1                         # steps kept of the per-step values
    w = Weights(*(np.ascontiguousarray(a, dtype=dtype) for a in (W_hh, gamma_h, gamma_c,
                                                                  beta_c)), dtype.type(eps))
    mask, rec, rec_arg = mask_and_rec(mask, rec_dropout, T, B, H, dtype)
    steps = Steps(mask, rec_arg, rec is not None, *_keep_mask(zh, T, B, H, dtype),
                  *_keep_mask(zc, T, B, H, dtype))
    saved = Saved(h=np.empty((T + 1, B, H), dtype=dtype),      # h[t] is h_prev of step t
                  c=np.empty((T + 1, B, H), dtype=dtype),
                  gates=np.empty((S, B, G), dtype=dtype),
                  rhat=np.empty((S, B, G), dtype=dtype),
                  r_rstd=np.empty((S, B), dtype=dtype),
                  chat=np.empty((S, B, H), dtype=dtype),
                  c_rstd=np.empty((S, B), dtype=dtype))
    saved.h[0], saved.c[0] = h0, c0
    r = np.empty((B, G), dtype=dtype)            # the step's h_in W_hh
    h_in = np.empty((B, H), dtype=dtype)         # h_prev * rec
    c_new = np.empty((B, H), dtype=dtype)        # the step's c~

    def block(b0, b1):
        _forward_pass(xn, w, steps, saved, keep, r, h_in, c_new, SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    cache = Cache(w=w, steps=steps, saved=saved, rec=rec) if keep else None
    return saved.h[1:], saved.h[T].copy(), saved.c[T].copy(), cache


def ln_lstm_backward(dh_seq, dh_T, dc_T, cache, trace=None):
    """As :func:`rnnkit.kernels.ln_lstm.ln_lstm_backward`.

    Returns:
        dxn (T, B, 4H), dW_hh (H, 4H), dgamma_h (4H,), dgamma_c (H,), dbeta_c (H,),
        dh0 (B, H), dc0 (B, H).
    """
    w, steps, saved = cache.w, cache.steps, cache.saved
    dtype = saved.gates.dtype
    T, B, G = saved.gates.shape
    H = G // 4
    dh_seq = np.ascontiguousarray(dh_seq, dtype=dtype)
    check_backward_grads("ln_lstm_backward", dh_seq, (dh_T, dc_T), T, B, H)
    grads = Grads(
        dxn=np.empty((T, B, G), dtype=dtype),
        dr=np.empty((T, B, G), dtype=dtype),
        dgamma_h_rows=np.zeros((B, G), dtype=dtype),
        dgamma_c_rows=np.zeros((B, H), dtype=dtype),
        dbeta_c_rows=np.zeros((B, H), dtype=dtype),
        dh=np.zeros((B, H), dtype=dtype) if dh_T is None else np.array(dh_T, dtype=dtype),
        dc=np.zeros((B, H), dtype=dtype) if dc_T is None else np.array(dc_T, dtype=dtype))
    dchat = np.empty((B, H), dtype=dtype)        # the step's dL/dchat
    dh_rec = np.empty((B, H), dtype=dtype)       # the step's dr W_hh^T
    WT = np.ascontiguousarray(w.W_hh.T)          # (4H, H): BLAS is faster without transposes
    use_trace = trace is not None
    trace_arg = trace_buffer(trace, dh_rec)

    def block(b0, b1):
        _backward_pass(dh_seq, w, WT, steps, saved, grads, dchat, dh_rec, trace_arg, use_trace,
                       SMALL_MNK, b0, b1)

    run_blocks(block, B, H)
    if use_trace and trace_arg is not trace:
        trace[...] = trace_arg
    h_in = saved.h[:T] if cache.rec is None else saved.h[:T] * cache.rec      # (T, B, H)
    dW_hh = matmul_split(h_in.reshape(T * B, H).T, grads.dr.reshape(T * B, G),  # sum_t h_in^T dr
                         np.empty((H, G), dtype=dtype))
    return (grads.dxn, dW_hh, grads.dgamma_h_rows.sum(axis=0), grads.dgamma_c_rows.sum(axis=0),
            grads.dbeta_c_rows.sum(axis=0), grads.dh, grads.dc)
