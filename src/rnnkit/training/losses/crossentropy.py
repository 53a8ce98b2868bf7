"""Cross-entropy losses (Keras 3 formulas), each with its gradient written out by hand.

Probabilities are clipped to ``[eps, 1 - eps]`` with ``eps = rnnkit.config.epsilon()`` (1e-7)
as Keras does; the clip passes no gradient where it is active. Logits (``from_logits=True``)
are never clipped::

    binary, probabilities:  p = clip(y, eps, 1-eps); e = -(t log p + (1-t) log(1-p))
                            values = mean(e over C);  de/dp = (1-t)/(1-p) - t/p
    binary, logits x:       e = log(1 + exp(x)) - t x;  de/dx = sigmoid(x) - t
    categorical, probs y:   p = y / sum(y); q = clip(p, eps, 1-eps); values = -sum(t log q)
                            dq = -t / q ; dp = dq [inside clip] ; dy = (dp - sum(dp p)) / sum(y)
    categorical, logits x:  values = -sum(t log_softmax(x));  dx = softmax(x) sum(t) - t
    sparse:                 categorical with t = one_hot(label)

``label_smoothing`` (binary and categorical) replaces ``t`` by ``t (1 - ls) + ls / 2`` and
``t (1 - ls) + ls / C`` before all of the above, as Keras does.

With ``from_logits=True`` the binary loss is the exact ``log(1 + exp(x)) - t x`` (Keras's
TensorFlow, JAX and PyTorch backends; its NumPy backend clips ``sigmoid(x)`` instead).

    >>> import numpy as np
    >>> from rnnkit.training.losses import SparseCategoricalCrossentropy
    >>> scce = SparseCategoricalCrossentropy()
    >>> round(scce(np.array([1, 2]), np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), 4)
    1.1769
"""

import numpy as np

from ... import config
from ...activations import log_softmax
from .base import Loss, align_ranks, broadcast_weights


def _check_axis(axis, name):
    if axis != -1:
        raise ValueError(f"{name}: only axis=-1 (the last axis) is supported, got axis={axis}")


def _sigmoid_from(x, e):
    """``sigmoid(x)`` given ``e = exp(-|x|)``, without overflow for either sign of ``x``."""
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class BinaryCrossentropy(Loss):
    """Binary cross-entropy, averaged over the last axis, then Keras's reduction.

    Args:
        from_logits: ``y_pred`` holds logits (no sigmoid applied) rather than probabilities.
        label_smoothing: squeeze the targets towards 0.5 by this fraction.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        _check_axis(axis, self.name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def forward(self, y_true, y_pred, mask=None):
        t = align_ranks(y_true, y_pred, self.name).astype(y_pred.dtype)
        if self.label_smoothing:
            t = t * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            x = y_pred
            e = np.exp(-np.abs(x))
            # log(1 + exp(x)) - t x  ==  max(x, 0) - t x + log(1 + exp(-|x|))
            bce = np.maximum(x, 0) - x * t + np.log1p(e)
            cache = (t, x, e)
        else:
            eps = config.epsilon()
            p = np.clip(y_pred, eps, 1.0 - eps)
            bce = -(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))
            cache = (t, y_pred, p, eps)
        return np.mean(bce, axis=-1), cache

    def backward(self, dvalues, cache):
        C = cache[1].shape[-1]
        dbce = dvalues[..., None] * (1.0 / C)                    # values = mean(bce)
        if self.from_logits:
            t, x, e = cache
            return dbce * (_sigmoid_from(x, e) - t)              # dbce/dx = sigmoid(x) - t
        t, y, p, eps = cache
        dp = dbce * ((1.0 - t) / (1.0 - p) - t / p)             # dbce/dp
        return dp * ((y >= eps) & (y <= 1.0 - eps))              # the clip passes inside only

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class CategoricalCrossentropy(Loss):
    """Cross-entropy with one-hot (or soft) targets over the last axis.

    Args:
        from_logits: ``y_pred`` holds logits (no softmax applied) rather than probabilities.
        label_smoothing: mix the targets with the uniform distribution by this fraction.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        _check_axis(axis, self.name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def targets_fit(self, t_shape, p_shape):
        return t_shape == p_shape

    def forward(self, y_true, y_pred, mask=None):
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true of shape {y_true.shape} does not match "
                             f"y_pred of shape {y_pred.shape} (one-hot targets expected; use "
                             f"sparse_categorical_crossentropy for integer labels)")
        t = y_true.astype(y_pred.dtype)
        if self.label_smoothing:
            t = t * (1.0 - self.label_smoothing) + self.label_smoothing / t.shape[-1]
        if self.from_logits:
            log_prob = log_softmax(y_pred)                      # (..., C)
            return -np.sum(t * log_prob, axis=-1), (t, log_prob)
        eps = config.epsilon()
        s = np.sum(y_pred, axis=-1, keepdims=True)               # (..., 1)
        p = y_pred / s
        q = np.clip(p, eps, 1.0 - eps)
        return -np.sum(t * np.log(q), axis=-1), (t, p, q, s, eps)

    def backward(self, dvalues, cache):
        dv = dvalues[..., None]
        if self.from_logits:
            t, log_prob = cache
            # values = -sum(t log_softmax(x))  ->  dx = softmax(x) sum(t) - t
            return dv * (np.exp(log_prob) * np.sum(t, axis=-1, keepdims=True) - t)
        t, p, q, s, eps = cache
        dq = -dv * t / q                                         # values = -sum(t log q)
        dp = dq * ((p >= eps) & (p <= 1.0 - eps))                # q = clip(p)
        return (dp - np.sum(dp * p, axis=-1, keepdims=True)) / s  # p = y / sum(y)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer labels in ``[0, C)``: ``y_true`` of shape ``y_pred.shape[:-1]``
    (or with a trailing axis of 1). Labels at masked steps are not checked (padding may hold any
    value there).

    Args:
        from_logits: ``y_pred`` holds logits (no softmax applied) rather than probabilities.
    """

    def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)

    sparse = True

    def targets_fit(self, t_shape, p_shape):
        return t_shape == p_shape[:-1] or t_shape == p_shape[:-1] + (1,)

    def _labels(self, y_true, y_pred, mask):
        labels = y_true
        if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
            labels = labels[..., 0]
        if labels.shape != y_pred.shape[:-1]:
            raise ValueError(f"{self.name}: labels of shape {y_true.shape} do not match y_pred "
                             f"of shape {y_pred.shape} (expected {y_pred.shape[:-1]})")
        checked = np.ones(labels.shape, dtype=bool)
        if mask is not None:
            checked = broadcast_weights(mask, labels.shape, "mask", self.name) != 0
        if not np.issubdtype(labels.dtype, np.integer):
            labels = labels.astype(np.float64)
            fractional = (labels != np.round(labels)) & checked
            if fractional.any():
                raise ValueError(f"{self.name}: labels must be integers, got "
                                 f"{float(labels[fractional][0])}")
            labels = np.where(checked, labels, 0).astype(np.int64)
        C = y_pred.shape[-1]
        bad = ((labels < 0) | (labels >= C)) & checked
        if bad.any():
            raise ValueError(f"{self.name}: label {int(labels[bad][0])} outside [0, {C})")
        return np.where(checked, labels, 0)[..., None]          # (..., 1) indices

    def forward(self, y_true, y_pred, mask=None):
        idx = self._labels(y_true, y_pred, mask)
        if self.from_logits:
            log_prob = log_softmax(y_pred)                      # (..., C)
            values = -np.take_along_axis(log_prob, idx, axis=-1)[..., 0]
            return values, (idx, log_prob)
        eps = config.epsilon()
        s = np.sum(y_pred, axis=-1, keepdims=True)               # (..., 1)
        p_l = np.take_along_axis(y_pred, idx, axis=-1) / s       # p at the label, (..., 1)
        q_l = np.clip(p_l, eps, 1.0 - eps)
        return -np.log(q_l[..., 0]), (idx, y_pred.shape, p_l, q_l, s, eps)

    def backward(self, dvalues, cache):
        dv = dvalues[..., None]
        if self.from_logits:
            idx, log_prob = cache
            g = np.exp(log_prob)                                 # softmax(x) - one_hot(label)
            np.put_along_axis(g, idx, np.take_along_axis(g, idx, axis=-1) - 1.0, axis=-1)
            return dv * g
        idx, shape, p_l, q_l, s, eps = cache
        dp_l = -dv / q_l * ((p_l >= eps) & (p_l <= 1.0 - eps))  # values = -log clip(p_l)
        dp = np.zeros(shape, dtype=dvalues.dtype)
        np.put_along_axis(dp, idx, dp_l, axis=-1)
        return (dp - dp_l * p_l) / s                             # p = y / sum(y)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary cross-entropy, averaged over the last axis (no reduction), as Keras."""
    return BinaryCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical cross-entropy over the last axis (no reduction), as Keras."""
    return CategoricalCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample cross-entropy with integer labels (no reduction), as Keras."""
    return SparseCategoricalCrossentropy(from_logits).call(y_true, y_pred)
