"""``keras.utils`` under rnnkit's name: ``from rnnkit.utils import pad_sequences`` as in Keras.

| name | what it does |
|---|---|
| ``pad_sequences`` | lists of sequences to one padded array (:mod:`rnnkit.data.sequence`) |
| ``timeseries_dataset_from_array`` | sliding windows over a series, in batches |
| ``to_categorical`` | class indices to one-hot rows |
| ``set_random_seed`` | seeds Python, NumPy and rnnkit in one call |
| ``get_file`` | a cached or local file (rnnkit never downloads) |
| ``PyDataset`` / ``Sequence`` | batches by index, for ``fit(dataset)`` |
"""

from ..data.sequence import pad_sequences
from ..data.timeseries import timeseries_dataset_from_array
from ..training.datasets import PyDataset, Sequence
from .categorical import to_categorical
from .files import get_file
from .seed import set_random_seed

__all__ = ["PyDataset", "Sequence", "get_file", "pad_sequences", "set_random_seed",
           "timeseries_dataset_from_array", "to_categorical"]
