"""Additive (Bahdanau) attention: Keras 3's ``keras.layers.AdditiveAttention``.

Only the scores differ from :class:`~rnnkit.layers.attention.Attention` (masks, softmax,
dropout, ``return_attention_scores``, ``use_causal_mask`` and the returned gradients are the
same). For ``q (B, Tq, D)`` and ``k (B, Tv, D)``, with a learned ``scale (D,)``::

    u = q_i + k_j                       (B, Tq, Tv, D)
    t = tanh(u)
    s = sum_d scale_d * t               (B, Tq, Tv)     (scale = 1 when use_scale=False)

    backward:  dscale = sum_{b,i,j} ds * t ;  du = ds * scale * (1 - t^2)
               dq = sum_j du ;  dk = sum_i du

>>> import numpy as np
>>> from rnnkit.layers.additive_attention import AdditiveAttention
>>> layer = AdditiveAttention(name="bahdanau")
>>> out = layer([np.ones((2, 3, 4)), np.ones((2, 5, 6)), np.ones((2, 5, 4))])
>>> out.shape, layer.scale.shape
((2, 3, 6), (4,))
"""

import numpy as np

from .attention import Attention


class AdditiveAttention(Attention):
    """Additive attention over ``[query, value]`` or ``[query, value, key]``.

    Args:
        use_scale: learn a ``scale`` vector of the query's feature size (glorot_uniform, as
            Keras) weighting the features of ``tanh(q + k)``; else they are summed.
        dropout: the fraction of the attention distribution dropped while training.
        seed: an int, a ``numpy.random.Generator`` or None, for the dropout masks.
        **kwargs: ``name``, ``trainable``, ``dtype``...

    Call arguments as :class:`Attention`.
    """

    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def _mode_name(self):
        return "additive"

    def build(self, input_shape):
        q, _, _ = self._check_shapes(input_shape)
        if self.use_scale:
            if q[-1] is None:
                raise ValueError(f"{self.name}: the query's feature size must be known to "
                                 f"build the scale, got query shape {q}")
            self.scale = self.add_weight("scale", (q[-1],), "glorot_uniform")
        super(Attention, self).build(input_shape)

    def _scores(self, q, k):
        if self.use_scale:
            self._check_last_dim(q, self.scale.shape[0], "query")
        u = q[:, :, None, :] + k[:, None, :, :]                  # (B, Tq, Tv, D)
        t = np.tanh(u)
        s = (t * self.scale.value).sum(axis=-1) if self.use_scale else t.sum(axis=-1)
        return s, t                                              # (B, Tq, Tv)

    def _scores_backward(self, ds, q, k, t):
        dt = ds[..., None]                                       # s = sum_d scale_d t
        if self.use_scale:
            self.scale.grad += np.einsum("bijd,bij->d", t, ds)
            dt = dt * self.scale.value
        du = dt * (1.0 - t * t)                                  # t = tanh(u)
        return du.sum(axis=2), du.sum(axis=1)                    # u = q_i + k_j

    def get_config(self):
        cfg = super().get_config()
        del cfg["score_mode"]
        return cfg
