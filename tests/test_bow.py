"""rnnkit.baselines.bow: tf-idf n-gram features and the Newton-CG logistic regression (the text baseline)."""

import math

import numpy as np
import pytest

from rnnkit.baselines.bow import BagOfNgrams, LogisticRegression, SparseRows, ngrams

DOCS = [["not", "good"], ["good", "food"], ["bad", "food", "bad"], ["very", "good"],
        ["not", "bad"], ["bad"]]


def test_ngrams_and_tfidf_rows():
    assert ngrams(["a", "b", "c"]) == ["a", "b", "c", "a b", "b c"]
    vec = BagOfNgrams().fit(DOCS)
    assert "not good" in vec.index and "good food" in vec.index
    X = vec.transform(DOCS + [["unseen", "words"]]).toarray()
    assert X.shape == (7, len(vec.terms))
    assert np.allclose(np.linalg.norm(X[:6], axis=1), 1.0) and not X[6].any()
    # "bad" twice in doc 2: sublinear tf 1 + log 2, idf log(7 / 4) + 1 (df 3 of 6)
    row = X[2] / X[2][vec.index["food"]]
    idf = {t: math.log(7 / (1 + df)) + 1 for t, df in (("bad", 3), ("food", 2))}
    assert row[vec.index["bad"]] == pytest.approx((1 + math.log(2)) * idf["bad"] / idf["food"])


def test_sparse_products_match_dense():
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 5, 20), rng.integers(0, 7, 20)   # repeated cells add up
    X = SparseRows(rows, cols, rng.normal(size=20), (5, 7))
    A, w, r = X.toarray(), rng.normal(size=7), rng.normal(size=5)
    assert np.allclose(X.dot(w), A @ w) and np.allclose(X.tdot(r), A.T @ r)


def test_logistic_regression_reaches_the_optimum():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(80, 10)) * (rng.random((80, 10)) < 0.4)
    y = (A @ rng.normal(size=10) + 0.3 * rng.normal(size=80) > 0.2).astype(int)
    X = SparseRows(*np.nonzero(A), A[np.nonzero(A)], A.shape)
    for C in (0.1, 10.0):
        clf = LogisticRegression(C=C).fit(X, y)
        p = 1 / (1 + np.exp(-(A @ clf.coef_ + clf.intercept_)))
        grad_w, grad_b = C * A.T @ (p - y) + clf.coef_, C * np.sum(p - y)   # zero at the optimum
        assert np.abs(grad_w).max() < 1e-5 and abs(grad_b) < 1e-5
    try:
        from sklearn.linear_model import LogisticRegression as Reference
    except ImportError:
        return
    ref = Reference(C=10.0, tol=1e-12, max_iter=10_000).fit(A, y)
    assert np.allclose(clf.coef_, ref.coef_[0], atol=1e-4)
    assert clf.intercept_ == pytest.approx(ref.intercept_[0], abs=1e-4)
    assert (clf.predict(X) == ref.predict(A)).all()


def test_text_classifier_separates_a_toy_corpus():
    vec = BagOfNgrams().fit(DOCS)
    clf = LogisticRegression(C=10.0).fit(vec.transform(DOCS), np.array([0, 1, 0, 1, 1, 0]))
    assert clf.predict(vec.transform([["good"], ["bad"], ["not", "bad"]])).tolist() == [1, 0, 1]
    assert clf.coef_[vec.index["not good"]] < 0 < clf.coef_[vec.index["not bad"]]


def test_bad_arguments():
    with pytest.raises(ValueError, match="C must be > 0"):
        LogisticRegression(C=0)
    X = BagOfNgrams().fit(DOCS).transform(DOCS)
    with pytest.raises(ValueError, match="0/1 labels"):
        LogisticRegression().fit(X, np.array([0, 1, 2, 0, 1, 0]))
    with pytest.raises(ValueError, match="min_df"):
        BagOfNgrams(min_df=3).fit([["a"], ["b"]])
    with pytest.raises(RuntimeError, match="call fit first"):
        BagOfNgrams().transform(DOCS)
