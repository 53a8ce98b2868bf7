"""The first-order linear recurrence ``h_t = a_t * h_{t-1} + b_t`` and its reverse (BPTT).

This is the whole recurrence of minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We
Needed?"): their gates depend on ``x_t`` only, so ``a_t`` and ``b_t`` are known for every step
before the loop starts and the loop is a *scan*. Three ways to run it, all with one contract
(``a``, ``b``: (T, B, H); ``h0``: (B, H); returns ``h``: (T, B, H)):

``sequential``  one step at a time, two NumPy calls per step: the readable truth.

``blocked``     a two-pass parallel scan. Cut time into ``n`` blocks of ``L`` steps.
                Pass 1 runs all blocks side by side from a zero state, keeping the local state
                ``u`` and the running product ``P`` of the ``a``'s inside each block (L steps of
                (n, B, H) arrays); pass 2 carries the true state into each block
                (``s_k = P_k[L-1] * s_{k-1} + u_k[L-1]``, n steps of (B, H)); pass 3 is one
                vector operation, ``h = u + P * s_{k-1}``. About ``3L + 2n`` NumPy calls instead
                of ``2T``. Products of ``a`` only ever span one block, and they go to zero only
                where the true contribution is below the smallest float, so nothing underflows
                that the sequential loop keeps: the two agree to rounding (1e-12 in float64).

``log``         Heinsen (2023), "Efficient parallelization of a ubiquitous sequential
                computation": ``h_t = exp(A_t) * (h0 + sum_{s<=t} b_s exp(-A_s))``,
                ``A_t = sum_{s<=t} log a_s``, evaluated in log space with one cumulative
                ``logaddexp``. It needs ``a > 0``; signed ``b`` is split into its positive and
                negative parts, two scans whose difference loses relative precision where they
                nearly cancel (the paper avoids this by making the candidate positive).
                The slowest here (an exp and a log per element) and the least exact; kept for
                comparison with the paper.

Compiled: where the fast kernels run (numba installed, ``RNNKIT_KERNELS`` not "reference", see
:mod:`rnnkit.kernels.dispatch`), ``sequential`` and ``auto`` are one compiled loop
(:mod:`rnnkit.kernels.fast.scan`), faster than all three NumPy versions; the backward's reverse
scan too. ``blocked`` and ``log`` always run in NumPy.

Without the compiled loop, ``auto`` is ``blocked`` for long sequences of few values (T >= 256
and B*H <= 128) and the NumPy ``sequential`` loop otherwise: the blocked scan touches ~5 times
more memory than the loop, whose (B, H) rows stay in cache, so it only wins where NumPy's
per-call overhead dominates. Measured on this 2-core AVX2 machine (heavily loaded; CPU ms, min
of 3, ``python benchmarks/bench_minrnn.py --scan --lengths 512,4096 --repeats 3 --cpu-time``):

    T     B   H    compiled loop   NumPy loop   NumPy blocked   NumPy log-space
    512   1   64        0.05           2.21          0.88             6.00
    512   16  64        0.87           2.72         15.85            95.57
    512   16  256       3.81           6.46         38.93           430.31
    4096  1   64        0.27          12.70          4.06            42.85
    4096  4   64        1.95          16.59         32.22           228.06
    4096  16  64       13.07          34.90        151.96          1238.35

The backward pass of a scan is a scan in reversed time: with ``g_t = dL/dh_t`` (all paths),
``g_t = dh_t + a_{t+1} g_{t+1}``; then ``dL/db_t = g_t``, ``dL/da_t = g_t h_{t-1}`` and
``dL/dh0 = a_0 g_0``.

>>> import numpy as np
>>> a = np.full((3, 1, 1), 0.5); b = np.ones((3, 1, 1))
>>> linear_scan(a, b, np.zeros((1, 1)), "sequential")[:, 0, 0].tolist()
[1.0, 1.5, 1.75]
>>> linear_scan(a, b, np.zeros((1, 1)), "blocked", block=2)[:, 0, 0].tolist()
[1.0, 1.5, 1.75]
"""

import math

import numpy as np

METHODS = ("auto", "sequential", "blocked", "log")
AUTO_BLOCKED_MIN_T = 256         # "auto" runs blocked from this many steps ...
AUTO_BLOCKED_MAX_BH = 128        # ... when a step has at most this many values (B*H)


def check_method(method, who="linear_scan"):
    if method not in METHODS:
        raise ValueError(f"{who}: scan must be one of {', '.join(METHODS)}, got {method!r}")
    return method


def _compiled(dtype):
    """:mod:`rnnkit.kernels.fast.scan` where the fast kernels are selected and can run for
    ``dtype``, else None (``RNNKIT_KERNELS=fast`` without numba is an error)."""
    from . import dispatch                  # read at every call, as for the other kernels
    m = dispatch.mode()
    if m == "reference" or np.dtype(dtype) not in (np.float32, np.float64):
        return None
    if not dispatch.fast_available():
        if m == "fast":
            raise ImportError("RNNKIT_KERNELS=fast, but the fast kernels cannot run here")
        return None
    from .fast import scan
    return scan


def scan_sequential(a, b, h0):
    """``h_t = a_t h_{t-1} + b_t`` step by step; a, b (T, B, H), h0 (B, H) -> h (T, B, H)."""
    h = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.result_type(a, b, h0))
    prev = h0
    for t in range(h.shape[0]):
        np.multiply(a[t], prev, out=h[t])
        h[t] += b[t]
        prev = h[t]
    return h


def default_block(T):
    """L ~ sqrt(2T/3) minimises the ~3L + 2T/L NumPy calls of the blocked scan."""
    return max(1, int(round(math.sqrt(2.0 * T / 3.0))))


def scan_blocked(a, b, h0, block=None):
    """The same recurrence by the two-pass blocked scan (see the module docstring)."""
    T = a.shape[0]
    dt = np.result_type(a, b, h0)
    if T == 0:
        return np.empty((0,) + tuple(h0.shape), dtype=dt)
    L = default_block(T) if block is None else int(block)
    n = -(-T // L)                                          # number of blocks
    rest = tuple(h0.shape)                                  # (B, H)
    aa = np.ones((n * L,) + rest, dtype=dt)                 # padding: a = 1, b = 0 at the end
    bb = np.zeros((n * L,) + rest, dtype=dt)
    aa[:T], bb[:T] = a, b
    aa, bb = aa.reshape((n, L) + rest), bb.reshape((n, L) + rest)
    u = np.empty_like(bb)                                   # (n, L, B, H) local states
    P = np.empty_like(aa)                                   # (n, L, B, H) running products
    # pass 1: every block from a zero state, all blocks at once
    u[:, 0], P[:, 0] = bb[:, 0], aa[:, 0]
    for j in range(1, L):
        np.multiply(aa[:, j], u[:, j - 1], out=u[:, j])
        u[:, j] += bb[:, j]
        np.multiply(aa[:, j], P[:, j - 1], out=P[:, j])
    # pass 2: the true state entering each block, s[k] = h at the end of block k-1
    s = np.empty((n,) + rest, dtype=dt)
    s[0] = h0
    for k in range(1, n):
        np.multiply(P[k - 1, L - 1], s[k - 1], out=s[k])
        s[k] += u[k - 1, L - 1]
    # pass 3: one vector operation
    u += P * s[:, None]
    return u.reshape((n * L,) + rest)[:T]


def scan_log(a, b, h0):
    """Heinsen's log-space scan; needs ``a > 0``. Signed b and h0 are split into two scans."""
    dt = np.result_type(a, b, h0)
    with np.errstate(divide="ignore"):
        A = np.cumsum(np.log(a), axis=0)                    # (T, B, H) log of prod a
        out = np.zeros(np.broadcast_shapes(a.shape, b.shape), dtype=dt)
        for sign in (1.0, -1.0):
            bs, hs = np.maximum(sign * b, 0), np.maximum(sign * h0, 0)
            if not (bs.any() or hs.any()):
                continue
            terms = np.log(bs) - A                           # log(b_s / A_s)
            terms[0] = np.logaddexp(terms[0], np.log(hs))    # the h0 term joins s = 0
            lse = np.logaddexp.accumulate(terms, axis=0)
            out += sign * np.exp(A + lse)
    return out


def linear_scan(a, b, h0, method="auto", block=None):
    """``h_t = a_t * h_{t-1} + b_t`` for t = 0..T-1 from ``h_{-1} = h0``.

    Args:
        a, b: (T, B, H) coefficients and inputs (any real ``a`` except for ``"log"``: a > 0).
        h0: (B, H) initial state.
        method: "auto", "sequential", "blocked" or "log" (see the module docstring).
        block: the block length of "blocked" (default ~sqrt(2T/3)).

    Returns:
        h (T, B, H).
    """
    check_method(method)
    T = a.shape[0]
    if method in ("auto", "sequential"):
        fast = _compiled(np.result_type(a, b, h0))
        if fast is not None:
            return fast.scan_forward(a, b, h0)
    if method == "auto":
        small = int(np.prod(a.shape[1:])) <= AUTO_BLOCKED_MAX_BH
        method = "blocked" if T >= AUTO_BLOCKED_MIN_T and small else "sequential"
    if method == "sequential":
        return scan_sequential(a, b, h0)
    if method == "blocked":
        return scan_blocked(a, b, h0, block)
    return scan_log(a, b, h0)


def linear_scan_backward(a, dh, method="auto", block=None):
    """The reverse scan: ``g_t = dh_t + a_{t+1} g_{t+1}`` (``g_{T-1} = dh_{T-1}``).

    Args:
        a: (T, B, H) the forward coefficients.
        dh: (T, B, H) dL/dh_t from outside the recurrence (the output gradients, with the
            final-state gradient already added to ``dh[T-1]``).
        method: as :func:`linear_scan` ("log" runs "blocked": dh has any sign and a may be 0).

    Returns:
        g (T, B, H) = dL/dh_t through every path, and dL/dh0 (B, H) = a_0 g_0.
    """
    check_method(method)
    T = a.shape[0]
    if T == 0:
        return np.zeros_like(dh), np.zeros(dh.shape[1:], dtype=dh.dtype)
    if method in ("auto", "sequential"):
        fast = _compiled(np.result_type(a, dh))
        if fast is not None:
            return fast.scan_reverse(a, dh)
    # in reversed time s = T-1-t: G_s = dh_rev_s + c_s G_{s-1} with c_s = a_{T-s} = a_rev_{s-1}
    c = np.empty_like(a)
    c[0] = 0.0                                              # multiplies G_{-1} = 0
    c[1:] = a[:0:-1]
    method = "blocked" if method == "log" else method
    g = linear_scan(c, dh[::-1], np.zeros(dh.shape[1:], dtype=dh.dtype), method, block)[::-1]
    return np.ascontiguousarray(g), a[0] * g[0]
