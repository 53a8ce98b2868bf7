"""timeseries_dataset_from_array: Keras's documented examples, batching, shuffling, errors."""

import numpy as np
import pytest

from rnnkit.data.timeseries import timeseries_dataset_from_array


def _all(ds):
    xs, ys = [], []
    for batch in ds:
        x, y = batch if isinstance(batch, tuple) else (batch, None)
        xs.append(x)
        if y is not None:
            ys.append(y)
    return np.concatenate(xs), (np.concatenate(ys) if ys else None)


def test_keras_example_1_sampling_rate_and_stride():
    ds = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2,
                                       sequence_stride=3, batch_size=8)
    x, _ = _all(ds)
    assert x[0].tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert x[1].tolist() == [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]
    assert x[2].tolist() == [6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
    assert x[-1].tolist() == [78, 80, 82, 84, 86, 88, 90, 92, 94, 96]
    assert len(ds) == -(-len(x) // 8)


def test_keras_example_2_temporal_regression():
    data = np.random.default_rng(0).standard_normal(50)
    ds = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10, batch_size=4)
    x, y = next(iter(ds))
    np.testing.assert_array_equal(x[0], data[:10])
    assert y[0] == data[10]
    X, Y = _all(ds)
    for i in range(len(X)):          # every window is followed by its target
        np.testing.assert_array_equal(X[i], data[i:i + 10])
        assert Y[i] == data[i + 10]
    np.testing.assert_array_equal(ds.arrays()[0], X)


def test_keras_example_3_non_overlapping_many_to_many():
    X, Y = np.arange(100), np.arange(100) * 2
    xs = timeseries_dataset_from_array(X, None, sequence_length=20, sequence_stride=20)
    ys = timeseries_dataset_from_array(Y, None, sequence_length=20, sequence_stride=20)
    for inputs, targets in zip(xs, ys):
        np.testing.assert_array_equal(inputs[0], X[:20])
        np.testing.assert_array_equal(targets[1], Y[20:40])


def test_multichannel_start_end_index_and_unbatched():
    data = np.arange(60).reshape(30, 2)
    ds = timeseries_dataset_from_array(data, np.arange(30), sequence_length=4, start_index=5,
                                       end_index=20, batch_size=None)
    items = list(ds)
    x0, y0 = items[0]
    np.testing.assert_array_equal(x0, data[5:9])
    assert y0 == 5
    assert all(x.shape == (4, 2) for x, _ in items)
    assert max(int(x[-1, 0]) for x, _ in items) <= 2 * 19   # never reads past end_index


def test_shuffle_is_a_permutation_reproducible_by_seed_and_new_each_epoch():
    data = np.arange(40)
    a = timeseries_dataset_from_array(data, data, 5, batch_size=7, shuffle=True, seed=3)
    b = timeseries_dataset_from_array(data, data, 5, batch_size=7, shuffle=True, seed=3)
    xa, ya = _all(a)
    xb, _ = _all(b)
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, xa[:, 0])
    assert sorted(xa[:, 0].tolist()) == list(range(36))
    xa2, _ = _all(a)
    assert not np.array_equal(xa2, xa)                       # a new order for epoch 2


@pytest.mark.parametrize("kwargs, match", [
    (dict(sequence_length=0), "sequence_length must be positive"),
    (dict(sequence_length=3, sampling_rate=0), "sampling_rate"),
    (dict(sequence_length=3, sequence_stride=0), "sequence_stride"),
    (dict(sequence_length=3, start_index=11), "start_index"),
    (dict(sequence_length=3, start_index=5, end_index=4), "end_index"),
    (dict(sequence_length=30), "too few"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        timeseries_dataset_from_array(np.arange(10), None, **kwargs)
