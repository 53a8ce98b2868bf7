"""Bag-of-n-grams features and L2 logistic regression in NumPy: the non-recurrent text baseline.

A sentence becomes its word unigrams and bigrams ("not", "good", "not good"), weighted by
tf-idf (sublinear term frequency ``1 + log tf``, smoothed idf ``log((1 + N) / (1 + df)) + 1``,
rows scaled to unit L2 norm), the usual strong linear baseline for sentence classification.
The rows are sparse (a sentence has tens of n-grams among thousands), held as
(row, column, value) triplets: ``X @ w`` and ``X.T @ r`` are two ``np.bincount`` calls.

The classifier minimises ``C * sum_i log(1 + exp(-y_i' (x_i . w + b))) + |w|^2 / 2``
(scikit-learn's convention; the bias is not penalised) by Newton's method with conjugate
gradients and a backtracking line search: the exact optimum, in a few dozen cheap passes.

>>> vec = BagOfNgrams().fit([["good"], ["bad"], ["not", "good"]])
>>> X = vec.transform([["good"], ["bad"], ["not", "good"]])
>>> clf = LogisticRegression(C=10.0).fit(X, np.array([1, 0, 0]))
>>> clf.predict(vec.transform([["good"], ["not", "good"]])).tolist()
[1, 0]
"""

import math

import numpy as np

from ..activations import sigmoid


def ngrams(tokens, n_max=2):
    """The 1..n_max-grams of a token list, each as one space-joined string."""
    return [" ".join(tokens[i:i + n]) for n in range(1, n_max + 1)
            for i in range(len(tokens) - n + 1)]


class SparseRows:
    """An (n, d) sparse matrix as COO triplets, with the two products a linear model needs."""

    def __init__(self, rows, cols, vals, shape):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.cols = np.asarray(cols, dtype=np.int64)
        self.vals = np.asarray(vals, dtype=np.float64)
        self.shape = tuple(shape)

    def dot(self, w):
        """X @ w: (d,) -> (n,)."""
        return np.bincount(self.rows, weights=self.vals * w[self.cols], minlength=self.shape[0])

    def tdot(self, r):
        """X.T @ r: (n,) -> (d,)."""
        return np.bincount(self.cols, weights=self.vals * r[self.rows], minlength=self.shape[1])

    def toarray(self):
        out = np.zeros(self.shape)
        np.add.at(out, (self.rows, self.cols), self.vals)
        return out


class BagOfNgrams:
    """tf-idf over word n-grams; the vocabulary and idf come from ``fit``'s documents only."""

    def __init__(self, n_max=2, min_df=1):
        if n_max < 1 or min_df < 1:
            raise ValueError(f"BagOfNgrams: n_max and min_df must be >= 1, got {n_max}, {min_df}")
        self.n_max, self.min_df = n_max, min_df
        self.index = None

    def fit(self, docs):
        """``docs``: lists of tokens. Returns self."""
        df = {}
        for doc in docs:
            for g in set(ngrams(doc, self.n_max)):
                df[g] = df.get(g, 0) + 1
        kept = sorted(g for g, k in df.items() if k >= self.min_df)
        if not kept:
            raise ValueError("BagOfNgrams.fit: no n-gram occurs in min_df documents")
        self.index = {g: j for j, g in enumerate(kept)}
        self.terms = kept
        n = len(docs)
        self.idf = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in kept])
        return self

    def transform(self, docs):
        """A SparseRows of shape (len(docs), vocabulary size); unknown n-grams are dropped."""
        if self.index is None:
            raise RuntimeError("BagOfNgrams.transform: call fit first")
        rows, cols, vals = [], [], []
        for i, doc in enumerate(docs):
            tf = {}
            for g in ngrams(doc, self.n_max):
                j = self.index.get(g)
                if j is not None:
                    tf[j] = tf.get(j, 0) + 1
            if not tf:
                continue
            js = np.fromiter(tf, dtype=np.int64, count=len(tf))
            v = (1 + np.log(np.fromiter(tf.values(), dtype=float, count=len(tf)))) * self.idf[js]
            rows.extend([i] * len(js))
            cols.extend(js.tolist())
            vals.extend((v / np.linalg.norm(v)).tolist())
        return SparseRows(rows, cols, vals, (len(docs), len(self.terms)))


class LogisticRegression:
    """Binary L2 logistic regression (labels 0/1) solved by Newton-CG; ``coef_``, ``intercept_``."""

    def __init__(self, C=1.0, tol=1e-8, max_iter=100):
        if not C > 0:
            raise ValueError(f"LogisticRegression: C must be > 0, got {C}")
        self.C, self.tol, self.max_iter = C, tol, max_iter

    def _loss(self, X, y, w, b):
        z = X.dot(w) + b
        # log(1 + exp(-z)) for y = 1, log(1 + exp(z)) for y = 0, computed stably
        return self.C * np.sum(np.logaddexp(0.0, np.where(y == 1, -z, z))) + 0.5 * w @ w

    def fit(self, X, y):
        y = np.asarray(y)
        if y.shape != (X.shape[0],) or not np.isin(y, (0, 1)).all():
            raise ValueError("LogisticRegression.fit: y must be 0/1 labels, one per row of X")
        C, (_, d) = self.C, X.shape
        w, b = np.zeros(d), 0.0
        f = self._loss(X, y, w, b)
        for self.n_iter_ in range(1, self.max_iter + 1):
            p = sigmoid(X.dot(w) + b)
            r, s = p - y, p * (1 - p)
            g_w, g_b = C * X.tdot(r) + w, C * r.sum()
            g_norm = math.sqrt(g_w @ g_w + g_b * g_b)
            if self.n_iter_ == 1:
                g0_norm = g_norm
            if g_norm <= self.tol * max(1.0, g0_norm):   # relative to the start
                break

            def hess(v_w, v_b):                          # H @ (v_w, v_b)
                u = s * (X.dot(v_w) + v_b)
                return C * X.tdot(u) + v_w, C * u.sum()

            # conjugate gradients on H p = -g, to a relative accuracy that tightens near the end
            p_w, p_b = np.zeros(d), 0.0
            r_w, r_b = -g_w, -g_b
            q_w, q_b = r_w.copy(), r_b
            rr = r_w @ r_w + r_b * r_b
            for _ in range(200):
                h_w, h_b = hess(q_w, q_b)
                alpha = rr / (q_w @ h_w + q_b * h_b)
                p_w, p_b = p_w + alpha * q_w, p_b + alpha * q_b
                r_w, r_b = r_w - alpha * h_w, r_b - alpha * h_b
                rr_new = r_w @ r_w + r_b * r_b
                if math.sqrt(rr_new) < min(0.5, math.sqrt(g_norm)) * g_norm:
                    break
                q_w, q_b = r_w + (rr_new / rr) * q_w, r_b + (rr_new / rr) * q_b
                rr = rr_new
            step, slope = 1.0, g_w @ p_w + g_b * p_b      # Armijo backtracking
            while step > 1e-10:
                f_new = self._loss(X, y, w + step * p_w, b + step * p_b)
                if f_new <= f + 1e-4 * step * slope:
                    break
                step *= 0.5
            w, b, f = w + step * p_w, b + step * p_b, f_new
        self.coef_, self.intercept_ = w, float(b)
        return self

    def decision_function(self, X):
        return X.dot(self.coef_) + self.intercept_

    def predict_proba(self, X):
        """P(label 1) per row."""
        return sigmoid(self.decision_function(X))

    def predict(self, X):
        return (self.decision_function(X) > 0).astype(np.int64)
