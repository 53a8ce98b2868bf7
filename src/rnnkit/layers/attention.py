"""Dot-product (Luong) attention: Keras 3's ``keras.layers.Attention``, with a written-out backward.

For a query ``q (B, Tq, D)``, a value ``v (B, Tv, Dv)`` and a key ``k (B, Tv, D)`` (the value
when no key is given)::

    s   = q @ k^T                           (B, Tq, Tv)   score_mode="dot"
        = scale * (q @ k^T)                               ... with use_scale
    s   = c * sum_d tanh(q_i + k_j)         (B, Tq, Tv)   "concat" (c: concat_score_weight)
        = c * sum_d tanh(scale * (q_i + k_j))             ... with use_scale
    s   = s - 1e9 * (1 - keep)              keep: value mask (B, 1, Tv) and/or causal j <= i
    w   = softmax(s, axis=-1)               (B, Tq, Tv)   the attention distribution
    a   = w * drop / (1 - dropout)          only when training with dropout (else a = w)
    out = a @ v                             (B, Tq, Dv)
    out = out * query_mask[..., None]       when a query mask is given

``return_attention_scores=True`` returns ``[out, a]`` (the distribution after masking, softmax
and dropout, as Keras returns it). Backward is the forward read bottom-up::

    da = dout @ v^T (+ the gradient of a when it was returned) ;  dv = a^T @ dout
    dw = da * drop / (1 - dropout)
    ds = w * (dw - sum_j(dw * w))            the softmax Jacobian; masking adds a constant
    dot:    dscale = sum(ds * q k^T) ;  dq = (scale ds) @ k ;  dk = (scale ds)^T @ q
    concat: dc = sum(ds * sum_d t) ;  dz = c ds (1 - t^2) ;  dscale = sum(dz * u) ;
            du = scale dz ;  dq = sum_j du ;  dk = sum_i du       (u = q_i + k_j, t = tanh(z))

``backward`` returns ``[dq, dv]`` for ``[query, value]`` (the key's gradient is added into
``dv``) or ``[dq, dv, dk]`` for ``[query, value, key]``::

    >>> import numpy as np
    >>> from rnnkit.layers.attention import Attention
    >>> q, v = np.ones((2, 3, 4)), np.ones((2, 5, 4))
    >>> layer = Attention()
    >>> out, scores = layer([q, v], return_attention_scores=True)
    >>> out.shape, scores.shape, bool(np.allclose(scores.sum(axis=-1), 1.0))
    ((2, 3, 4), (2, 3, 5), True)
    >>> [g.shape for g in layer.backward([np.ones_like(out), None])]
    [(2, 3, 4), (2, 5, 4)]

Masks follow Keras: ``mask=[query_mask (B, Tq), value_mask (B, Tv)]`` (a third, key mask is
accepted and ignored); the output mask is the query mask. The value mask is broadcast over the
query steps as ``(B, 1, Tv)`` (Keras 3 since keras-team/keras#21595).
"""

import numbers

import numpy as np

from .. import config
from ..activations import softmax
from ..random import make_rng
from .base import Layer

_ROLES = ("query", "value", "key")


class Attention(Layer):
    """Dot-product attention over ``[query, value]`` or ``[query, value, key]``.

    Args:
        use_scale: learn a scalar ``scale`` (initialised to 1) multiplying the scores.
        score_mode: "dot" (``q @ k^T``) or "concat" (``sum tanh(q + k)`` times a learned scalar
            ``concat_score_weight``, initialised to 1).
        dropout: the fraction of the attention distribution dropped while training.
        seed: an int, a ``numpy.random.Generator`` or None, for the dropout masks.
        **kwargs: ``name``, ``trainable``, ``dtype``...

    Call arguments: ``inputs`` (a list), ``mask=[query_mask, value_mask]``, ``training``,
    ``return_attention_scores`` (then the call returns ``[output, scores]``) and
    ``use_causal_mask`` (query step i sees value steps j <= i).

    Attributes:
        generator: the Generator that draws the dropout masks (None without dropout).
    """

    supports_masking = True

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{self.name}: invalid score_mode {score_mode!r}; expected one "
                             f"of 'dot', 'concat'")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not (
                0 <= dropout < 1):
            raise ValueError(f"{self.name}: expected dropout in [0, 1), got {dropout!r}")
        if seed is not None and not isinstance(seed, (numbers.Integral, np.random.Generator)):
            raise TypeError(f"{self.name}: expected seed to be an int, a numpy Generator or "
                            f"None, got {seed!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        # as Keras, a generator only when there is dropout (no draw from the global seed else)
        self.generator = make_rng(seed) if self.dropout > 0 else None
        self.scale = None
        self.concat_score_weight = None

    # ---- shapes and checks -------------------------------------------------------------------
    def _check_shapes(self, shapes):
        """Validate ``[query, value(, key)]`` shapes; returns (q, v, k) shapes (k = v if absent)."""
        cls = type(self).__name__
        if not isinstance(shapes, (list, tuple)) or not all(
                isinstance(s, (list, tuple)) for s in shapes):
            raise ValueError(f"{self.name}: {cls} must be called on a list of inputs "
                             f"[query, value] or [query, value, key], got input shape {shapes}")
        if not 2 <= len(shapes) <= 3:
            raise ValueError(f"{self.name}: {cls} expects 2 or 3 inputs [query, value] or "
                             f"[query, value, key], got {len(shapes)}")
        for role, s in zip(_ROLES, shapes):
            if len(s) != 3:
                raise ValueError(f"{self.name}: expected {role} of rank 3 (batch, time, "
                                 f"features), got shape {tuple(s)}")
        q, v = tuple(shapes[0]), tuple(shapes[1])
        k = tuple(shapes[2]) if len(shapes) == 3 else v
        k_role = "key" if len(shapes) == 3 else "value (used as key)"

        def differ(a, b):
            return a is not None and b is not None and a != b

        if differ(q[-1], k[-1]):
            raise ValueError(f"{self.name}: query and {k_role} must have the same number of "
                             f"features for {self._mode_name()} scores, got query shape {q} "
                             f"and {k_role} shape {k}")
        if differ(k[1], v[1]):
            raise ValueError(f"{self.name}: key and value must have the same number of time "
                             f"steps, got key shape {k} and value shape {v}")
        if any(differ(a[0], b[0]) for a in (q, v, k) for b in (q, v, k)):
            raise ValueError(f"{self.name}: query, value and key must have the same batch size,"
                             f" got shapes {[tuple(s) for s in shapes]}")
        return q, v, k

    def _mode_name(self):
        return f"{self.score_mode!r}"

    def _check_mask(self, mask, B, Tq, Tv):
        """``(query_mask (B, Tq) or None, value_mask (B, Tv) or None)`` as bool arrays."""
        if mask is None:
            return None, None
        if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
            got = f"a list of {len(mask)}" if isinstance(mask, (list, tuple)) else (
                f"an array of shape {np.shape(mask)}")
            raise ValueError(f"{self.name}: mask must be a list [query_mask, value_mask] "
                             f"(a key mask may follow and is ignored), got {got}")
        out = []
        for role, m, want in (("query", mask[0], (B, Tq)), ("value", mask[1], (B, Tv))):
            if m is not None:
                m = np.asarray(m)
                if m.shape != want:
                    raise ValueError(f"{self.name}: expected a {role} mask of shape {want} "
                                     f"(batch, time), got {m.shape}")
                m = m.astype(bool)
            out.append(m)
        return tuple(out)

    def _add_scalar_weight(self, name):
        """A weight of shape () initialised to 1, as Keras's."""
        return self.add_weight(name, (), "ones")

    def build(self, input_shape):
        self._check_shapes(input_shape)
        if self.use_scale:
            self.scale = self._add_scalar_weight("scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self._add_scalar_weight("concat_score_weight")
        super().build(input_shape)

    def compute_output_shape(self, input_shape, return_attention_scores=False):
        """``(B, Tq, Dv)``, or ``[(B, Tq, Dv), (B, Tq, Tv)]`` when the scores are returned."""
        q, v, k = self._check_shapes(input_shape)
        out = (q[0], q[1], v[-1])
        return [out, (q[0], q[1], v[1])] if return_attention_scores else out

    def _symbolic_call(self, inputs, tensor_kwargs, other_kwargs):
        # Layer._symbolic_call asks compute_output_shape(input_shape) for the outputs; whether
        # the scores are a second output is a call argument, held here for this one call (it is
        # recorded on the Node with the other non-tensor kwargs, so a Model re-applies it).
        returns_scores = bool(other_kwargs.get("return_attention_scores", False))
        plain = self.compute_output_shape
        self.compute_output_shape = lambda s: plain(s, return_attention_scores=returns_scores)
        try:
            return super()._symbolic_call(inputs, tensor_kwargs, other_kwargs)
        finally:
            del self.compute_output_shape

    def compute_mask(self, inputs, mask=None):
        """The query mask (Keras): padded query steps stay padded in the output."""
        if mask is None or not isinstance(mask, (list, tuple)) or mask[0] is None:
            return None
        return np.asarray(mask[0], dtype=bool)

    # ---- scores: the part AdditiveAttention replaces -------------------------------------------
    def _scores(self, q, k):
        """``s (B, Tq, Tv)`` from ``q (B, Tq, D)`` and ``k (B, Tv, D)``, and what backward needs."""
        if self.score_mode == "dot":
            qk = q @ k.transpose(0, 2, 1)                        # (B, Tq, Tv)
            s = qk * self.scale.value if self.use_scale else qk
            return s, qk
        u = q[:, :, None, :] + k[:, None, :, :]                  # (B, Tq, Tv, D)
        t = np.tanh(u * self.scale.value if self.use_scale else u)
        sum_t = t.sum(axis=-1)                                   # (B, Tq, Tv)
        return self.concat_score_weight.value * sum_t, (u, t, sum_t)

    def _scores_backward(self, ds, q, k, cache):
        """``(dq, dk)`` from ``ds (B, Tq, Tv)``; adds into the score weights' ``.grad``."""
        if self.score_mode == "dot":
            qk = cache
            if self.use_scale:
                self.scale.grad += np.sum(ds * qk)              # s = scale * qk
                ds = ds * self.scale.value
            dq = ds @ k                                          # (B, Tq, D)
            dk = ds.transpose(0, 2, 1) @ q                       # (B, Tv, D)
            return dq, dk
        u, t, sum_t = cache
        c = self.concat_score_weight
        c.grad += np.sum(ds * sum_t)                             # s = c * sum_d t
        dz = (ds * c.value)[..., None] * (1.0 - t * t)           # t = tanh(z), (B, Tq, Tv, D)
        if self.use_scale:
            self.scale.grad += np.sum(dz * u)                    # z = scale * u
            dz = dz * self.scale.value
        return dz.sum(axis=2), dz.sum(axis=1)                    # u = q_i + k_j

    # ---- forward / backward --------------------------------------------------------------------
    def forward(self, inputs, training=False, mask=None, return_attention_scores=False,
                use_causal_mask=False):
        """``out (B, Tq, Dv)``, or ``[out, scores (B, Tq, Tv)]`` with return_attention_scores.

        Args:
            inputs: ``[query (B, Tq, D), value (B, Tv, Dv)]`` or ``[query, value, key (B, Tv, D)]``.
            training: apply dropout to the attention distribution.
            mask: ``[query_mask (B, Tq), value_mask (B, Tv)]`` (either may be None) or None.
            return_attention_scores: also return the attention distribution.
            use_causal_mask: query step i attends only to value steps j <= i.
        """
        if not isinstance(inputs, (list, tuple)):
            self._check_shapes(np.shape(inputs))                 # raises the list error
        self._check_shapes([np.shape(x) for x in inputs])
        self._maybe_build([np.shape(x) for x in inputs])
        xs = [config.as_floatx(x, self.dtype) for x in inputs]
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) == 3 else v
        B, Tq, _ = q.shape
        Tv = v.shape[1]
        q_mask, v_mask = self._check_mask(mask, B, Tq, Tv)

        s, score_cache = self._scores(q, k)                      # (B, Tq, Tv)
        keep = None
        if use_causal_mask:
            keep = np.tril(np.ones((1, Tq, Tv), dtype=bool))     # j <= i
        if v_mask is not None:
            keep = v_mask[:, None, :] if keep is None else keep & v_mask[:, None, :]
        if keep is not None:                                     # Keras's additive bias
            big = 65504.0 if s.dtype == np.float16 else 1.0e9
            s = s - big * (~keep).astype(s.dtype)
        w = softmax(s)                                          # (B, Tq, Tv)
        drop = None
        if training and self.dropout > 0:
            drop = (self.generator.random(w.shape) >= self.dropout).astype(w.dtype)
            drop /= w.dtype.type(1.0 - self.dropout)
        a = w if drop is None else w * drop
        out = a @ v                                              # (B, Tq, Dv)
        if q_mask is not None:
            out = out * q_mask[..., None]
        self._cache = dict(q=q, k=k, v=v, w=w, a=a, drop=drop, q_mask=q_mask,
                           score_cache=score_cache, has_key=len(xs) == 3,
                           returns_scores=bool(return_attention_scores))
        return [out, a] if return_attention_scores else out

    def backward(self, dy):
        """``[dq, dv]`` (key gradient added into dv) or ``[dq, dv, dk]``, aligned with the inputs.

        ``dy`` is ``dout (B, Tq, Dv)``, or ``[dout, dscores]`` when the forward returned the
        scores (either may be None). Adds into ``scale.grad`` / ``concat_score_weight.grad``.
        """
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        c = self._cache
        q, k, v, w, a = c["q"], c["k"], c["v"], c["w"], c["a"]
        if c["returns_scores"]:
            if not isinstance(dy, (list, tuple)) or len(dy) != 2:
                raise ValueError(f"{self.name}: the forward returned [output, scores]; "
                                 f"expected dy = [doutput, dscores]")
            d_out, d_a = dy
        else:
            d_out, d_a = dy, None
        B, Tq, Dv = q.shape[0], q.shape[1], v.shape[-1]
        for what, g, want in (("doutput", d_out, (B, Tq, Dv)), ("dscores", d_a, a.shape)):
            if g is not None and np.shape(g) != want:
                raise ValueError(f"{self.name}: expected {what} of shape {want}, "
                                 f"got {np.shape(g)}")
        da = np.zeros_like(a)
        dv = np.zeros_like(v)
        if d_out is not None:
            d_out = np.asarray(d_out, dtype=v.dtype)
            if c["q_mask"] is not None:
                d_out = d_out * c["q_mask"][..., None]           # out = out * query_mask
            da = d_out @ v.transpose(0, 2, 1)                    # out = a @ v
            dv = a.transpose(0, 2, 1) @ d_out
        if d_a is not None:
            da = da + d_a                                        # a was also an output
        dw = da if c["drop"] is None else da * c["drop"]         # a = w * drop
        ds = w * (dw - np.sum(dw * w, axis=-1, keepdims=True))   # w = softmax(s)
        dq, dk = self._scores_backward(ds, q, k, c["score_cache"])
        if c["has_key"]:
            return [dq, dv, dk]
        return [dq, dv + dk]                                     # the value was also the key

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"use_scale": self.use_scale, "score_mode": self.score_mode,
                    "dropout": self.dropout,
                    # not in Keras's config; a Generator is not JSON-able (then None)
                    "seed": int(self.seed) if isinstance(self.seed, numbers.Integral) else None})
        return cfg
