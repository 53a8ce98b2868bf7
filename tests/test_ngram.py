"""rnnkit.baselines.ngram: the interpolated Kneser-Ney character model used as the text baseline."""

import numpy as np
import pytest

from rnnkit.data import CharVocab
from rnnkit.baselines.ngram import KneserNeyLM, choose_order

TEXT = ("the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat.\n" * 20
        + "the end of the text is not like the rest.\n")


def _ids(text=TEXT):
    vocab = CharVocab.from_text(text)
    return vocab.encode(text).astype(np.int64), len(vocab)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_distribution_sums_to_one_for_seen_and_unseen_contexts(order):
    ids, V = _ids()
    lm = KneserNeyLM(order, V).fit(ids)
    for context in (ids[10:14], np.array([3, 3, 3, 3]), ids[:0]):   # seen, unseen, none
        probe = np.concatenate([context, [0]])
        total = 0.0
        for w in range(V):
            probe[-1] = w
            total += lm.prob(probe, [len(context)])[0]
        assert total == pytest.approx(1.0, abs=1e-9)
    assert lm.prob(ids, np.arange(1, len(ids))).min() > 0        # every id has mass


def test_higher_orders_predict_repetitive_text_better_and_order_is_chosen_on_train_only():
    ids, V = _ids()
    cut = len(ids) * 3 // 4
    bits = [KneserNeyLM(n, V).fit(ids[:cut]).bits_per_token(ids, np.arange(cut, len(ids)))
            for n in (1, 2, 4)]
    assert bits[0] > bits[1] > bits[2]
    assert bits[0] < np.log2(V)                                    # better than uniform
    best, scores = choose_order(ids[:cut], V, orders=range(1, 6))
    assert set(scores) == {1, 2, 3, 4, 5} and scores[best] == min(scores.values())
    assert best >= 3


def test_counts_and_continuation_counts_by_hand():
    # ids "2 3 2 3 2 4": trigram counts raw, bigram counts = distinct left neighbours
    lm = KneserNeyLM(3, 5, discounts=[0.5, 0.5, 0.5]).fit(np.array([2, 3, 2, 3, 2, 4]))
    top = lm.orders[2]
    assert dict(zip(top.grams.tolist(), top.counts.tolist())) == {
        2 * 25 + 3 * 5 + 2: 2, 3 * 25 + 2 * 5 + 3: 1, 3 * 25 + 2 * 5 + 4: 1}
    bigram = lm.orders[1]       # "3 2" is preceded only by 2; "2 3" by 3; "2 4" by 3
    assert dict(zip(bigram.grams.tolist(), bigram.counts.tolist())) == {
        2 * 5 + 3: 1, 3 * 5 + 2: 1, 2 * 5 + 4: 1}
    # by hand: P_1(2) = (1 - .5 + .5 * 3 / 5) / 3 (continuation counts 2, 3, 4 once each),
    # P_2(2 | 3) = (1 - .5 + .5 * 1 * P_1) / 1, P_3(2 | 2 3) = (2 - .5 + .5 * 1 * P_2) / 2
    p1 = (0.5 + 0.5 * 3 / 5) / 3
    p2 = 0.5 + 0.5 * p1
    assert lm.prob(np.array([2, 3, 2]), [2])[0] == pytest.approx((1.5 + 0.5 * p2) / 2, abs=1e-12)


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="order must be >= 1"):
        KneserNeyLM(0, 10)
    with pytest.raises(ValueError, match="does not fit an int64"):
        KneserNeyLM(12, 1000)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 4\)"):
        KneserNeyLM(2, 4).fit(np.array([1, 2, 7]))
    with pytest.raises(ValueError, match="1-D integer"):
        KneserNeyLM(2, 4).fit(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="shorter than the order"):
        KneserNeyLM(3, 4).fit(np.array([1, 2]))
    with pytest.raises(RuntimeError, match="call fit first"):
        KneserNeyLM(2, 4).prob(np.array([1, 2]), [1])
