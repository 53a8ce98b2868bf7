"""The adding problem (Hochreiter & Schmidhuber, 1997): a test of long-range memory.

Each sample is a sequence of T steps with two channels::

    x[:, t, 0] = u_t ~ Uniform[0, 1)           the numbers
    x[:, t, 1] = 1 at exactly two steps, 0 elsewhere: one step p in the first half
                 [0, T//2) and one step q in the second half [T//2, T)
    y          = u_p + u_q                       shape (n, 1)

This is the usual modern formulation (Le, Jaitly & Hinton 2015; Arjovsky et al. 2016). The
first marked number can lie up to T - 1 steps before the end, so a model must carry it through
up to T steps of distractors: the gradient of the loss with respect to h_p has to flow back
through up to T Jacobians, which is what makes the task hard for a SimpleRNN.

The baseline: u_p and u_q are independent Uniform[0, 1), so y has mean 1 and variance
2 * 1/12 = 1/6. A model that ignores the input and always predicts 1.0 has an expected mean
squared error of 1/6 ~= 0.167; anything below it has learnt something about the markers.

>>> x, y = adding_problem(4, 10, seed=0)
>>> x.shape, y.shape, x[..., 1].sum(axis=1).tolist()
((4, 10, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
>>> bool(np.allclose(y[:, 0], (x[..., 0] * x[..., 1]).sum(axis=1)))
True
"""

import numpy as np

from .. import config
from ..random import make_rng

#: The mean squared error of always predicting the mean target 1.0: Var(u_p + u_q) = 2/12.
BASELINE_MSE = 1.0 / 6.0


def adding_problem(n, T, seed=None, dtype=None):
    """Draw ``n`` adding-problem sequences of length ``T``.

    Args:
        n: number of samples (>= 1).
        T: sequence length (>= 2): one marker falls in ``[0, T//2)``, the other in
            ``[T//2, T)``.
        seed: int seed or ``numpy.random.Generator`` (None: from ``rnnkit.random``).
        dtype: float type of the arrays (default ``rnnkit.config.floatx()``).

    Returns:
        x (n, T, 2): channel 0 the numbers, channel 1 the two markers; y (n, 1): the sum of
        the two marked numbers.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"adding_problem: n must be a positive integer, got {n!r}")
    if not isinstance(T, (int, np.integer)) or T < 2:
        raise ValueError(f"adding_problem: T must be an integer >= 2 (one marker in each half), "
                         f"got {T!r}")
    rng = make_rng(seed)
    half = T // 2
    u = rng.random((n, T))                                  # (n, T) numbers in [0, 1)
    p = rng.integers(0, half, size=n)                       # first marker, first half
    q = rng.integers(half, T, size=n)                       # second marker, second half
    rows = np.arange(n)
    marks = np.zeros((n, T))
    marks[rows, p] = 1.0
    marks[rows, q] = 1.0
    x = np.stack([u, marks], axis=-1)                       # (n, T, 2)
    y = (u[rows, p] + u[rows, q])[:, None]                  # (n, 1)
    dtype = dtype or config.floatx()
    return x.astype(dtype), y.astype(dtype)
