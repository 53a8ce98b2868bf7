"""Truncated backpropagation through time over one long stream, with stateful layers.

A long sequence (a text as token ids, a long signal) is cut into ``batch_size`` contiguous
streams that run side by side, and each stream into windows of ``seq_len`` steps::

    stream b = ids[b * L : (b + 1) * L]              L = len(ids) // batch_size
    sample i * batch_size + b = window i of stream b

``fit(x, y, batch_size=batch_size, shuffle=False)`` then feeds batch i = window i of every
stream; a model whose recurrent layers have ``stateful=True`` starts each window from the state
where the previous window of the same stream ended, and since carried states are constants, the
gradient stops at the window edge. That is truncated BPTT with k1 = k2 = ``seq_len``.

>>> import numpy as np
>>> x, y = stream_windows(np.arange(20), batch_size=2, seq_len=3)
>>> x[:2].tolist(), y[:2].tolist()
([[0, 1, 2], [9, 10, 11]], [[1, 2, 3], [10, 11, 12]])
"""

import numpy as np

from .callbacks import Callback


def stream_windows(ids, batch_size, seq_len):
    """(x, y) next-token windows arranged for stateful training; y is x shifted by one step.

    Args:
        ids: (N,) or (N, F) a long stream (token ids or feature vectors).
        batch_size: how many streams run side by side (the stateful batch size).
        seq_len: steps per window (where the gradient is truncated).

    Returns:
        x, y of shape (n_windows * batch_size, seq_len, ...); the tail that does not fill a
        whole window in every stream is dropped.
    """
    ids = np.asarray(ids)
    if batch_size <= 0 or seq_len <= 0:
        raise ValueError(f"stream_windows: batch_size and seq_len must be positive, got "
                         f"{batch_size} and {seq_len}")
    L = (len(ids) - 1) // batch_size            # steps per stream (one kept for the target)
    n_windows = L // seq_len
    if n_windows == 0:
        raise ValueError(f"stream_windows: a stream of {len(ids)} steps is too short for "
                         f"{batch_size} streams of at least {seq_len + 1} steps")
    usable = n_windows * seq_len
    starts = np.arange(batch_size) * L
    t = starts[:, None] + np.arange(usable)[None, :]          # (batch_size, usable)
    x = ids[t].reshape(batch_size, n_windows, seq_len, *ids.shape[1:])
    y = ids[t + 1].reshape(batch_size, n_windows, seq_len, *ids.shape[1:])
    # window-major order: sample i * batch_size + b is window i of stream b
    x = x.swapaxes(0, 1).reshape(n_windows * batch_size, seq_len, *ids.shape[1:])
    y = y.swapaxes(0, 1).reshape(n_windows * batch_size, seq_len, *ids.shape[1:])
    return x, y


class ResetStatesOnEpochBegin(Callback):
    """Start every epoch's streams from zero states (use with stream_windows)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_states()
