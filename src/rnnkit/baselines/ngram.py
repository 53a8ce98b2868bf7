"""A character n-gram language model with interpolated Kneser-Ney smoothing: the baseline a
character RNN has to beat.

Interpolated Kneser-Ney (Chen & Goodman 1998, section 3) over token ids, all orders 1..n::

    P_n(w | h) = max(c(h w) - D_n, 0) / c(h .)  +  D_n * N1+(h .) / c(h .) * P_{n-1}(w | h')

where ``h`` is the last n-1 tokens and ``h'`` its last n-2. The highest order counts ``c`` are
raw counts; every lower order uses *continuation* counts (how many distinct tokens precede the
k-gram), so a character that is frequent only after one context ("h" after "t") is not
over-predicted in new contexts. Order 1 interpolates with the uniform distribution over the
``vocab_size`` ids, so every id gets a non-zero probability. A context never seen at an order
falls back to the order below entirely. One discount per order, ``D = n1 / (n1 + 2 n2)``
(n1, n2: how many k-grams occur once, twice) unless given.

Everything is vectorised: a k-gram is one int64 code (base ``vocab_size``), counted with
``np.unique`` and looked up with ``np.searchsorted``; a megabyte of text fits a 5-gram in about
a second.

>>> import numpy as np
>>> lm = KneserNeyLM(order=3, vocab_size=4).fit(np.array([2, 3, 2, 3, 2, 3, 2, 3]))
>>> lm.prob(np.array([2, 3, 2, 3]), np.array([2, 3])).round(3)  # P(2 | "2 3"), P(3 | "3 2")
array([0.875, 0.875])
>>> lm.prob(np.array([2, 3, 2, 2]), np.array([3])).round(3)     # P(2 | "3 2"): never seen
array([0.042])
"""

import numpy as np

_MAX_CODE = 2 ** 62


def _codes(ids, k, base):
    """(len(ids) - k + 1,) int64 codes of every k-gram of ``ids`` (first token most significant)."""
    n = len(ids) - k + 1
    code = np.zeros(max(n, 0), dtype=np.int64)
    for j in range(k):
        code = code * base + ids[j:j + n]
    return code


def _lookup(keys, values, queries):
    """values[i] where keys[i] == query (keys sorted), else 0."""
    if len(keys) == 0:
        return np.zeros(len(queries), dtype=values.dtype)
    pos = np.searchsorted(keys, queries).clip(max=len(keys) - 1)
    return np.where(keys[pos] == queries, values[pos], 0)


class _Order:
    """Counts of one order: k-gram -> count, context -> (total, distinct followers)."""

    def __init__(self, grams, counts, base, discount=None):
        self.grams, self.counts = grams, counts                    # sorted unique codes
        ctx, inverse = np.unique(grams // base, return_inverse=True)
        self.contexts = ctx
        self.totals = np.bincount(inverse, weights=counts).astype(np.int64)
        self.types = np.bincount(inverse).astype(np.int64)
        if discount is None:
            n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
            discount = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
        self.discount = float(min(max(discount, 1e-3), 0.999))


class KneserNeyLM:
    """Interpolated Kneser-Ney n-gram model over ids ``0..vocab_size-1``.

    Args:
        order: n, the longest k-gram (context of n-1 tokens).
        vocab_size: how many ids the model spreads probability over (the RNN's softmax size).
        discounts: optional per-order discounts (order 1 first); default n1 / (n1 + 2 n2).
    """

    def __init__(self, order, vocab_size, discounts=None):
        if order < 1:
            raise ValueError(f"KneserNeyLM: order must be >= 1, got {order}")
        if vocab_size < 1:
            raise ValueError(f"KneserNeyLM: vocab_size must be >= 1, got {vocab_size}")
        if vocab_size ** order >= _MAX_CODE:
            raise ValueError(f"KneserNeyLM: order {order} over {vocab_size} ids does not fit an "
                             "int64 code; lower the order")
        if discounts is not None and len(discounts) != order:
            raise ValueError(f"KneserNeyLM: {len(discounts)} discounts for order {order}")
        self.order, self.vocab_size, self._given = order, vocab_size, discounts
        self.orders = None

    def fit(self, ids):
        """Count every k-gram of the (N,) id array ``ids``; returns self."""
        ids = self._check_ids(ids, "fit")
        if len(ids) < self.order:
            raise ValueError(f"KneserNeyLM.fit: {len(ids)} tokens is shorter than the order "
                             f"{self.order}")
        V, n = self.vocab_size, self.order
        given = self._given or [None] * n
        orders = [None] * n
        grams, counts = np.unique(_codes(ids, n, V), return_counts=True)   # raw, highest order
        orders[n - 1] = _Order(grams, counts, V, given[n - 1])
        for k in range(n - 1, 0, -1):          # continuation counts: distinct left neighbours
            suffix = orders[k].grams % (V ** k)
            grams, counts = np.unique(suffix, return_counts=True)
            orders[k - 1] = _Order(grams, counts, V, given[k - 1])
        self.orders = orders
        return self

    def prob(self, ids, positions):
        """P(ids[p] | the n-1 ids before p) for each p in ``positions`` (each p >= 1).

        Positions closer to the start than n-1 use the contexts there are (shorter orders).
        """
        if self.orders is None:
            raise RuntimeError("KneserNeyLM.prob: call fit first")
        ids = self._check_ids(ids, "prob")
        pos = np.asarray(positions, dtype=np.int64)
        if pos.size and (pos.min() < 0 or pos.max() >= len(ids)):
            raise ValueError("KneserNeyLM.prob: positions outside the id array")
        V = self.vocab_size
        w = ids[pos]
        p = np.full(len(pos), 1.0 / V)
        code = w.copy()                                      # the k-gram ending at p
        ctx = np.zeros(len(pos), dtype=np.int64)             # its context (k-1 tokens)
        for k in range(1, self.order + 1):
            if k > 1:
                back = pos - (k - 1)
                ok = back >= 0
                prev = ids[np.where(ok, back, 0)]
                ctx = np.where(ok, prev * V ** (k - 2) + ctx, ctx)
                code = np.where(ok, prev * V ** (k - 1) + code, code)
            else:
                ok = np.ones(len(pos), dtype=bool)
            o = self.orders[k - 1]
            if k == 1:
                total, types = float(o.totals.sum()), float(len(o.grams))
                total = np.full(len(pos), total)
                types = np.full(len(pos), types)
            else:
                total = _lookup(o.contexts, o.totals, ctx).astype(float)
                types = _lookup(o.contexts, o.types, ctx).astype(float)
            count = _lookup(o.grams, o.counts, code).astype(float)
            seen = ok & (total > 0)
            safe = np.where(seen, total, 1.0)
            mixed = (np.maximum(count - o.discount, 0.0) + o.discount * types * p) / safe
            p = np.where(seen, mixed, p)
        return p

    def bits_per_token(self, ids, positions):
        """Mean -log2 P over ``positions`` of ``ids``."""
        return float(-np.mean(np.log2(self.prob(ids, positions))))

    def _check_ids(self, ids, where):
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"KneserNeyLM.{where}: expected a 1-D integer id array, got "
                             f"{ids.dtype} of shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"KneserNeyLM.{where}: ids must be in [0, {self.vocab_size})")
        return ids.astype(np.int64)


def choose_order(train_ids, vocab_size, orders=range(2, 13), dev_fraction=0.1, print_fn=None):
    """The order with the lowest bits per token on the tail of ``train_ids`` (fitted on the rest).

    Only training data is used: the tail ``dev_fraction`` is held out from the fit. Returns
    ``(best_order, {order: bits})``; orders whose codes would overflow an int64 are skipped
    (with 100 distinct ids, orders above 9).
    """
    train_ids = np.asarray(train_ids)
    cut = int(len(train_ids) * (1 - dev_fraction))
    positions = np.arange(cut, len(train_ids))
    scores = {}
    for n in orders:
        if vocab_size ** n >= _MAX_CODE:
            continue
        lm = KneserNeyLM(n, vocab_size).fit(train_ids[:cut])
        scores[n] = lm.bits_per_token(train_ids, positions)
        if print_fn:
            print_fn(f"  {n}-gram: {scores[n]:.3f} bits/char on the training tail")
    best = min(scores, key=scores.get)
    return best, scores

