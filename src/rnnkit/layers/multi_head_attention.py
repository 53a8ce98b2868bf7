"""MultiHeadAttention: Keras's layer, with the hand-written backward beside the forward.

For a query sequence q (B, Tq, Dq), a value sequence v (B, Tk, Dv) and keys k (default v),
with H heads of key size K and value size V (subscripts: b batch, q/t query/key step, h head):

    Q = q Wq + bq          (B, Tq, H, K)        Wq (Dq, H, K)
    Kt = k Wk + bk         (B, Tk, H, K)        Wk (Dk, H, K)
    Vt = v Wv + bv         (B, Tk, H, V)        Wv (Dv, H, V)
    S[b,h,q,t] = sum_k Q[b,q,h,k] Kt[b,t,h,k] / sqrt(K)       masked entries -> -inf
    P = softmax_t(S)       (B, H, Tq, Tk)       (dropout on P while training)
    O[b,q,h,v] = sum_t P[b,h,q,t] Vt[b,t,h,v]
    y = O Wo + bo          (B, Tq, Dout)        Wo (H, V, Dout), Dout = Dq unless output_shape

Backward, read bottom-up (g is the gradient of what is on the left of each forward line):

    dO = dy Wo^T,  dWo = O^T dy,  dbo = sum dy
    dP = dO Vt^T,  dVt = P^T dO
    dS = P * (dP - sum_t(dP * P))
    dQ = dS Kt / sqrt(K),  dKt = dS^T Q / sqrt(K)
    dW = x^T dX, db = sum dX, dx = dX W^T   for (x, X, W) in (q, Q, Wq), (k, Kt, Wk), (v, Vt, Wv)

Weights in Keras's order and shapes: query kernel/bias, key kernel/bias, value kernel/bias,
output kernel/bias. PyTorch's ``nn.MultiheadAttention`` (when Dq = H*K) holds
``in_proj_weight = [Wq; Wk; Wv]`` as (H*K, D) matrices, i.e. ``Wq.reshape(Dq, H*K).T``.

Call as Keras: ``mha(query, value, key=None, attention_mask=None,
return_attention_scores=False, training=False, use_causal_mask=False)``.
"""

import math
import numbers

import numpy as np

from .. import config, initializers
from ..random import make_rng
from .base import Layer


class MultiHeadAttention(Layer):
    """Keras's ``MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0,
    use_bias=True, output_shape=None, attention_axes=None, kernel_initializer=
    "glorot_uniform", bias_initializer="zeros", seed=None)``."""

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", seed=None, **kwargs):
        super().__init__(**kwargs)
        for what, v in (("num_heads", num_heads), ("key_dim", key_dim),
                        ("value_dim", value_dim or key_dim)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{self.name}: expected {what} to be a positive int, got {v!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"{self.name}: expected dropout in [0, 1), got {dropout!r}")
        if attention_axes not in (None, 1, (1,), [1]):
            raise ValueError(f"{self.name}: rnnkit attends over the time axis only "
                             f"(attention_axes=None), got {attention_axes!r}")
        if isinstance(output_shape, (list, tuple)):
            output_shape = output_shape[0] if len(output_shape) == 1 else output_shape
        if output_shape is not None and (isinstance(output_shape, bool) or not isinstance(
                output_shape, numbers.Integral) or output_shape < 1):
            raise ValueError(f"{self.name}: output_shape must be None or a positive int, got "
                             f"{output_shape!r}")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim or key_dim)
        self.dropout, self.use_bias = float(dropout), bool(use_bias)
        self.output_shape_ = output_shape
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed
        self.generator = make_rng(seed)
        self.supports_masking = True

    def __call__(self, query, value=None, key=None, **kwargs):
        if value is None:
            raise ValueError(f"{self.name}: call as mha(query, value[, key])")
        kwargs["value"] = value
        if key is not None:
            kwargs["key"] = key
        self._pending_shapes = (tuple(value.shape), None if key is None else tuple(key.shape))
        self._pending_scores = bool(kwargs.get("return_attention_scores", False))
        return super().__call__(query, **kwargs)

    def build(self, input_shape, value_shape=None, key_shape=None):
        """Create the four projections from the query's, key's and value's feature sizes."""
        q_shape = tuple(input_shape)
        v_shape = tuple(value_shape) if value_shape is not None else q_shape
        k_shape = tuple(key_shape) if key_shape is not None else v_shape
        H, K, V = self.num_heads, self.key_dim, self.value_dim
        Dq, Dk, Dv = q_shape[-1], k_shape[-1], v_shape[-1]
        if None in (Dq, Dk, Dv):
            raise ValueError(f"{self.name}: feature sizes must be known to build")
        Dout = self.output_shape_ or Dq
        for part, D, width in (("query", Dq, K), ("key", Dk, K), ("value", Dv, V)):
            setattr(self, f"{part}_kernel", self.add_weight(f"{part}_kernel", (D, H, width),
                                                            self.kernel_initializer))
            setattr(self, f"{part}_bias", self.add_weight(f"{part}_bias", (H, width),
                                                          self.bias_initializer)
                    if self.use_bias else None)
        self.output_kernel = self.add_weight("output_kernel", (H, V, Dout),
                                             self.kernel_initializer)
        self.output_bias = self.add_weight("output_bias", (Dout,), self.bias_initializer) \
            if self.use_bias else None
        self._build_input_shape = q_shape
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            value_shape, key_shape = getattr(self, "_pending_shapes", (None, None))
            self.build(input_shape, value_shape, key_shape)

    # ---- forward ---------------------------------------------------------------------------
    def _project(self, x, part):
        W = getattr(self, f"{part}_kernel").value
        b = getattr(self, f"{part}_bias")
        X = np.einsum("bti,ihk->bthk", x, W)
        return X + b.value if b is not None else X

    def _mask(self, B, Tq, Tk, attention_mask, use_causal_mask):
        mask = None
        if attention_mask is not None:
            mask = np.asarray(attention_mask, dtype=bool)
            if mask.shape != (B, Tq, Tk):
                raise ValueError(f"{self.name}: expected attention_mask of shape "
                                 f"{(B, Tq, Tk)}, got {mask.shape}")
        if use_causal_mask:
            causal = np.tril(np.ones((Tq, Tk), dtype=bool))       # Keras: key step <= query step
            mask = causal[None] if mask is None else mask & causal[None]
        return None if mask is None else mask[:, None, :, :]          # (B, 1, Tq, Tk)

    def forward(self, query, training=False, mask=None, value=None, key=None,
                attention_mask=None, return_attention_scores=False, use_causal_mask=False):
        """``y`` (B, Tq, Dout) (and the attention scores P (B, H, Tq, Tk) if asked)."""
        q = config.as_floatx(query, self.dtype)
        v = q if value is None else config.as_floatx(value, self.dtype)
        k = v if key is None else config.as_floatx(key, self.dtype)
        for what, x, part in (("query", q, "query"), ("value", v, "value"), ("key", k, "key")):
            D = getattr(self, f"{part}_kernel").shape[0]
            if x.ndim != 3 or x.shape[-1] != D:
                raise ValueError(f"{self.name}: expected {what} of shape (batch, time, {D}), "
                                 f"got {x.shape}")
        if not (q.shape[0] == k.shape[0] == v.shape[0]) or k.shape[1] != v.shape[1]:
            raise ValueError(f"{self.name}: query {q.shape}, key {k.shape} and value "
                             f"{v.shape} disagree on batch or key/value length")
        B, Tq, Tk = q.shape[0], q.shape[1], k.shape[1]
        Q, Kt, Vt = self._project(q, "query"), self._project(k, "key"), self._project(v, "value")
        scale = 1.0 / math.sqrt(self.key_dim)
        S = np.einsum("bqhk,bthk->bhqt", Q, Kt) * scale                # (B, H, Tq, Tk)
        m = self._mask(B, Tq, Tk, attention_mask, use_causal_mask)
        if m is not None:
            S = np.where(m, S, np.finfo(S.dtype).min / 2)
        P = np.exp(S - S.max(axis=-1, keepdims=True))
        P /= P.sum(axis=-1, keepdims=True)
        keep = None
        if training and self.dropout > 0:
            keep = (self.generator.random(P.shape) >= self.dropout) / (1.0 - self.dropout)
            keep = keep.astype(P.dtype)
        P_used = P if keep is None else P * keep
        O = np.einsum("bhqt,bthv->bqhv", P_used, Vt)                    # (B, Tq, H, V)
        y = np.einsum("bqhv,hvd->bqd", O, self.output_kernel.value)
        if self.output_bias is not None:
            y = y + self.output_bias.value
        self._cache = (q, k, v, Q, Kt, Vt, P, keep, O, scale, key is not None,
                       value is not None, return_attention_scores)
        return [y, P] if return_attention_scores else y

    # ---- backward --------------------------------------------------------------------------
    def backward(self, dy):
        """``[dquery, (dkey,) dvalue]`` (in the order the functional graph lists the call's
        tensors: query, then key and value by name); adds every weight gradient."""
        if self._cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        q, k, v, Q, Kt, Vt, P, keep, O, scale, has_key, has_value, scores = self._cache
        dP_extra = None
        if scores:
            dy, dP_extra = dy
        dy = np.asarray(dy)
        want = O.shape[:2] + (self.output_kernel.shape[-1],)
        if dy.shape != want:
            raise ValueError(f"{self.name}: expected dy of shape {want}, got {dy.shape}")
        Wo = self.output_kernel.value
        self.output_kernel.grad += np.einsum("bqhv,bqd->hvd", O, dy)
        if self.output_bias is not None:
            self.output_bias.grad += dy.sum(axis=(0, 1))
        dO = np.einsum("bqd,hvd->bqhv", dy, Wo)                         # (B, Tq, H, V)
        P_used = P if keep is None else P * keep
        dVt = np.einsum("bhqt,bqhv->bthv", P_used, dO)                  # (B, Tk, H, V)
        dP = np.einsum("bqhv,bthv->bhqt", dO, Vt)                       # (B, H, Tq, Tk)
        if keep is not None:
            dP = dP * keep
        if dP_extra is not None:
            dP = dP + dP_extra
        dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True))
        dQ = np.einsum("bhqt,bthk->bqhk", dS, Kt) * scale
        dKt = np.einsum("bhqt,bqhk->bthk", dS, Q) * scale
        grads = {}
        for part, x, dX in (("query", q, dQ), ("key", k, dKt), ("value", v, dVt)):
            W = getattr(self, f"{part}_kernel")
            b = getattr(self, f"{part}_bias")
            W.grad += np.einsum("bti,bthk->ihk", x, dX)
            if b is not None:
                b.grad += dX.sum(axis=(0, 1))
            grads[part] = np.einsum("bthk,ihk->bti", dX, W.value)
        if not has_value:                         # self-attention on one input
            return grads["query"] + grads["key"] + grads["value"]
        if not has_key:
            return [grads["query"], grads["key"] + grads["value"]]
        return [grads["query"], grads["key"], grads["value"]]

    # ---- shapes and config -------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        q_shape = tuple(input_shape)
        out = q_shape[:2] + (self.output_shape_ or q_shape[-1],)
        if getattr(self, "_pending_scores", False):
            k_len = (self._pending_shapes[1] or self._pending_shapes[0])[1]
            return [out, (q_shape[0], self.num_heads, q_shape[1], k_len)]
        return out

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
            "dropout": self.dropout, "use_bias": self.use_bias,
            "output_shape": self.output_shape_,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "seed": int(self.seed) if isinstance(self.seed, numbers.Integral) else None,
        })
        return cfg
