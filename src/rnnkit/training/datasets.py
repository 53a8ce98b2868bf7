"""Batches from datasets: what ``fit``/``evaluate``/``predict`` take besides arrays.

Keras 3 lets ``fit(x)`` take, instead of arrays, anything that yields batches:

* a ``PyDataset`` (``keras.utils.PyDataset``, formerly ``Sequence``): ``__len__`` batches,
  ``__getitem__(i)`` the i-th, ``on_epoch_end()`` after each epoch;
* a re-iterable (``rnnkit.data.timeseries_dataset_from_array(...)``, a list-like of batches):
  iterated anew every epoch;
* a generator or any one-shot iterator: read on across epochs, ``steps_per_epoch`` batches at a
  time (without it, an epoch runs until the iterator is exhausted).

Every element is a batch: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``, with ``x``
(and ``y``) an array or a list of arrays for a model with several inputs (outputs): a tuple
separates x, y and weights, a list holds several inputs, as in Keras. Each batch is checked as
arrays given to ``fit`` are (shapes, ragged data, sample counts). ``class_weight`` turns each
sample's class into a sample weight (multiplied with any given).
"""

import warnings

import numpy as np

__all__ = ["PyDataset", "Sequence", "apply_class_weight", "is_dataset", "DataStream"]


class PyDataset:
    """Keras's ``PyDataset``: subclass it with ``__len__`` (batches per epoch) and
    ``__getitem__(index)`` (one batch: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``).

    ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are accepted for Keras code;
    rnnkit reads the batches in order in the training thread.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}.__getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__}.__len__")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_begin(self):
        """Called before each epoch."""

    def on_epoch_end(self):
        """Called after each epoch (shuffle here)."""


Sequence = PyDataset          # Keras 2's name


def is_dataset(x):
    """Whether ``x`` yields batches rather than being the data itself."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return False                               # an array-like (a torch tensor, say)
    return isinstance(x, PyDataset) or hasattr(x, "__iter__") or hasattr(x, "__next__")


def unpack(element, where):
    """``(x, y, sample_weight)`` of one dataset element (y and sample_weight may be None)."""
    if isinstance(element, tuple):
        if not 1 <= len(element) <= 3:
            raise ValueError(f"{where}: a dataset element must be x, (x,), (x, y) or "
                             f"(x, y, sample_weight); got a tuple of {len(element)}")
        return tuple(element) + (None,) * (3 - len(element))
    return element, None, None


class DataStream:
    """The batches of one dataset for one ``fit``/``evaluate``/``predict``.

    Args:
        data: the dataset (see the module docstring).
        steps: batches per epoch (``steps_per_epoch``/``steps``), or None for all of them.
        where: "fit", "evaluate"... for messages.
    """

    def __init__(self, data, steps, where):
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)
                                  or steps < 1):
            raise ValueError(f"{where}: steps must be a positive int or None, got {steps!r}")
        self.data, self.where = data, where
        self.indexed = isinstance(data, PyDataset) or (
            hasattr(data, "__getitem__") and hasattr(data, "__len__")
            and not hasattr(data, "__iter__"))
        self.one_shot = not self.indexed and iter(data) is data
        known = len(data) if (self.indexed or hasattr(data, "__len__")) else None
        if self.indexed and steps is not None and steps > known:
            raise ValueError(f"{where}: steps={steps} but the dataset has {known} batches")
        self.steps = steps if steps is not None else known
        self._iterator = iter(data) if self.one_shot else None
        self._peeked = []
        self.exhausted = False

    def peek(self):
        """The first batch, kept to be the first of the first epoch."""
        if not self._peeked:
            it = self._iterator if self.one_shot else None
            if self.indexed:
                first = self.data[0]
            else:
                it = it if it is not None else iter(self.data)
                try:
                    first = next(it)
                except StopIteration:
                    raise ValueError(f"{self.where}: the dataset yields no batch") from None
                if not self.one_shot:
                    self._fresh = it           # the rest of this pass serves the first epoch
            self._peeked = [first]
        return self._peeked[0]

    def epoch(self):
        """The batches of one epoch."""
        n = 0
        if self.indexed:
            if hasattr(self.data, "on_epoch_begin"):
                self.data.on_epoch_begin()
            for i in range(self.steps):
                yield self._peeked.pop() if (i == 0 and self._peeked) else self.data[i]
            if hasattr(self.data, "on_epoch_end"):
                self.data.on_epoch_end()
            return
        if self._peeked:
            n += 1
            yield self._peeked.pop()
            it = self._iterator if self.one_shot else self._fresh
        else:
            it = self._iterator if self.one_shot else iter(self.data)
        while self.steps is None or n < self.steps:
            try:
                element = next(it)
            except StopIteration:
                if n == 0 or (self.one_shot and self.steps is not None):
                    self.exhausted = True
                    warnings.warn(f"{self.where}: the input ran out of data after {n} batches "
                                  "of this epoch; training stops (give a dataset that repeats, "
                                  "or steps_per_epoch * epochs batches)", stacklevel=3)
                return
            n += 1
            yield element


def apply_class_weight(class_weight, ys, sw, where):
    """Sample weights from ``class_weight`` ({class index: weight}) and the targets ``ys``
    (one output: integer labels (B,) / (B, 1), or one-hot (B, C)), times ``sw`` if given."""
    if class_weight is None:
        return sw
    if len(ys) != 1:
        raise ValueError(f"{where}: class_weight works for a model with one output")
    y = np.asarray(ys[0])
    labels = y.argmax(axis=-1) if (y.ndim >= 2 and y.shape[-1] > 1) else y.reshape(len(y), -1)[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"{where}: class_weight needs one class per sample, got targets of "
                         f"shape {y.shape}")
    try:
        weights = np.array([class_weight[int(c)] for c in labels], dtype=np.float64)
    except KeyError as e:
        raise ValueError(f"{where}: class {e.args[0]} has no entry in class_weight "
                         f"({sorted(class_weight)})") from None
    return weights if sw is None else sw * weights
