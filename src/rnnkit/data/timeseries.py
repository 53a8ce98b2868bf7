"""Sliding windows over a time series, as ``keras.utils.timeseries_dataset_from_array`` makes.

Window ``i`` starts at ``start_index + p_i`` (``p_i = i * sequence_stride``, shuffled if asked)
and takes ``sequence_length`` steps spaced ``sampling_rate`` apart; its target is
``targets[start_index + p_i]``. To predict step ``t + L`` from steps ``t .. t + L - 1``, pass
``data[:-L]`` and ``targets = data[L:]`` (Keras's own example).

Batches are cut with index arithmetic when they are asked for: the windows are never stored all
at once, so an epoch over a long series costs one batch of memory.

>>> import numpy as np
>>> data = np.arange(10)
>>> ds = timeseries_dataset_from_array(data[:-3], data[3:], sequence_length=3, batch_size=2)
>>> x, y = next(iter(ds))
>>> x.tolist(), y.tolist()
([[0, 1, 2], [1, 2, 3]], [3, 4])
>>> len(ds), ds.num_windows
(3, 5)
"""

import numpy as np


class TimeseriesDataset:
    """An iterable of ``(x_batch, y_batch)`` (or ``x_batch`` without targets) windows."""

    def __init__(self, data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                 batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None):
        self.data = np.asarray(data)
        self.targets = None if targets is None else np.asarray(targets)
        n = len(self.data)
        start = 0 if start_index is None else int(start_index)
        end = n if end_index is None else int(end_index)
        checks = [
            (sequence_length > 0, f"sequence_length must be positive, got {sequence_length}"),
            (0 <= start < n, f"start_index must be in [0, {n}), got {start_index}"),
            (start < end <= n, f"end_index must be in ({start}, {n}], got {end_index}"),
            (0 < sampling_rate < n, f"sampling_rate must be in [1, {n}), got {sampling_rate}"),
            (0 < sequence_stride < n, f"sequence_stride must be in [1, {n}), got {sequence_stride}"),
            (batch_size is None or batch_size > 0, f"batch_size must be positive, got {batch_size}"),
        ]
        for ok, why in checks:
            if not ok:
                raise ValueError(f"timeseries_dataset_from_array: {why}")
        self.sequence_length, self.sampling_rate = int(sequence_length), int(sampling_rate)
        self.batch_size = batch_size
        self.start, self.end = start, end
        num = end - start - (self.sequence_length - 1) * self.sampling_rate
        if self.targets is not None:
            num = min(num, len(self.targets) - start)
        if num <= 0:
            raise ValueError(f"timeseries_dataset_from_array: {end - start} steps are too few for "
                             f"one window of {sequence_length} steps at sampling_rate "
                             f"{sampling_rate}")
        self.positions = np.arange(0, num, sequence_stride)
        self.shuffle, self.seed = shuffle, seed
        self._epoch = 0
        self._offsets = np.arange(self.sequence_length) * self.sampling_rate

    @property
    def num_windows(self):
        return len(self.positions)

    def __len__(self):
        """The number of batches per epoch."""
        if self.batch_size is None:
            return self.num_windows
        return -(-self.num_windows // self.batch_size)

    def windows(self, positions):
        """The windows (and targets) that start at ``positions`` (relative to start_index)."""
        starts = self.start + np.asarray(positions)
        x = self.data[starts[:, None] + self._offsets[None, :]]     # (n, L, ...) gathered now
        if self.targets is None:
            return x
        return x, self.targets[starts]

    def __iter__(self):
        order = self.positions
        if self.shuffle:  # a new order every epoch, reproducible from the seed
            seed = None if self.seed is None else self.seed + self._epoch
            order = np.random.default_rng(seed).permutation(order)
            self._epoch += 1
        step = self.batch_size or 1
        for i in range(0, len(order), step):
            batch = self.windows(order[i:i + step])
            if self.batch_size is None:   # unbatched: one window (and target) at a time
                batch = batch[0] if self.targets is None else (batch[0][0], batch[1][0])
            yield batch

    def take(self, count):
        """The first ``count`` batches of each pass, as ``tf.data.Dataset.take``."""
        return Take(self, count)

    def arrays(self):
        """All windows at once, ``(x, y)``, for ``model.fit(x, y)`` on series that fit in memory."""
        return self.windows(self.positions)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """Keras's function of the same name and arguments; returns a :class:`TimeseriesDataset`."""
    return TimeseriesDataset(data, targets, sequence_length, sequence_stride, sampling_rate,
                             batch_size, shuffle, seed, start_index, end_index)


class Take:
    """At most ``count`` batches of each pass over ``dataset`` (an iterable of batches)."""

    def __init__(self, dataset, count):
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"take: count must be a non-negative int, got {count!r}")
        self.dataset, self.count = dataset, int(count)

    def __len__(self):
        return min(self.count, len(self.dataset))

    def __iter__(self):
        for i, batch in enumerate(self.dataset):
            if i >= self.count:
                return
            yield batch

    def take(self, count):
        return Take(self, count)
