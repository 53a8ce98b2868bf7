"""Layer normalisation (Ba, Kiros & Hinton 2016): the forward and its backward.

Over the normalised axes (the last one by default), with ``n`` values per group::

    mu = mean(x)    var = mean((x - mu)^2)      (population variance, as Keras and PyTorch)
    xhat = (x - mu) / sqrt(var + eps)
    y = gamma * xhat + beta

Backward, with ``dxhat = dy * gamma`` (means over the same axes)::

    dgamma = sum dy * xhat      dbeta = sum dy      (summed over everything else)
    dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps)

Used by :class:`rnnkit.layers.LayerNormalization` and inside the LayerNorm LSTM recurrence.

>>> import numpy as np
>>> xhat, rstd = normalize(np.array([[1.0, 2.0, 3.0]]), eps=0.0)
>>> np.round(xhat, 4).tolist()
[[-1.2247, 0.0, 1.2247]]
"""

import numpy as np


def normalize(x, eps, axis=-1):
    """``xhat`` (same shape as x) and ``rstd = 1 / sqrt(var + eps)`` (kept dims) over ``axis``
    (an int or a tuple of ints)."""
    mu = x.mean(axis=axis, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=axis, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    return xc * rstd, rstd


def normalize_backward(dxhat, xhat, rstd, axis=-1):
    """dL/dx from dL/dxhat (``xhat``, ``rstd`` from :func:`normalize`)."""
    m1 = dxhat.mean(axis=axis, keepdims=True)
    m2 = np.mean(dxhat * xhat, axis=axis, keepdims=True)
    return (dxhat - m1 - xhat * m2) * rstd


def layer_norm(x, gamma, beta, eps, axis=-1):
    """``y = gamma * xhat + beta``; gamma, beta broadcastable to x or None. Returns y, cache."""
    xhat, rstd = normalize(x, eps, axis)
    y = xhat * gamma if gamma is not None else xhat.copy()
    if beta is not None:
        y += beta
    return y, (xhat, rstd, gamma, axis)


def layer_norm_backward(dy, cache):
    """dx, and the un-reduced ``dy * xhat`` (for dgamma) — the caller sums it and ``dy`` (for
    dbeta) over the axes its gamma and beta were broadcast along."""
    xhat, rstd, gamma, axis = cache
    dxhat = dy * gamma if gamma is not None else dy
    return normalize_backward(dxhat, xhat, rstd, axis), dy * xhat
