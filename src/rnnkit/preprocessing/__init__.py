"""``keras.preprocessing`` under rnnkit's name: ``rnnkit.preprocessing.sequence.pad_sequences``
and ``rnnkit.preprocessing.timeseries_dataset_from_array``, as Keras 3 keeps them."""

from ..data.timeseries import timeseries_dataset_from_array
from . import sequence

__all__ = ["sequence", "timeseries_dataset_from_array"]
