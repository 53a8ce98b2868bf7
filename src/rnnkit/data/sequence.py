"""Batches of sequences: padding to one length (Keras's ``pad_sequences``) and next-token windows.

    >>> import numpy as np
    >>> from rnnkit.data import pad_sequences, lm_windows
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]]).tolist()
    [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, truncating="post").tolist()
    [[0, 1], [2, 3], [4, 5]]
    >>> x, y = lm_windows(np.arange(10), seq_len=4)
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2, 3], [4, 5, 6, 7]], [[1, 2, 3, 4], [5, 6, 7, 8]])
"""

import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad (or truncate) every sequence to the same length: ``keras.utils.pad_sequences``.

    Same arguments, results and dtypes as Keras 3 (keras/src/utils/sequence_utils.py). Two
    places where Keras fails with an obscure NumPy error give a defined result here: an empty
    list of sequences gives shape ``(0, maxlen or 0)``, and ``maxlen=0`` gives ``(n, 0)``.
    ``padding`` and ``truncating`` are checked before any work, even when nothing is padded.

    Args:
        sequences: a list (or any sized iterable) of sequences; each sequence a list or array
            whose items are scalars or arrays of one common shape.
        maxlen: length of the result; default the longest sequence.
        dtype: of the result ("int32"); use ``object`` for strings.
        padding: "pre" or "post": add ``value`` before or after each short sequence.
        truncating: "pre" or "post": remove the excess from the start or the end of each long
            sequence.
        value: the padding value (0.0, cast to ``dtype``).

    Returns:
        ``(len(sequences), maxlen) + item_shape`` array of ``dtype``.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: `sequences` must be iterable.")
    if padding not in ("pre", "post"):
        raise ValueError(f'pad_sequences: padding type "{padding}" not understood '
                         '(expected "pre" or "post")')
    if truncating not in ("pre", "post"):
        raise ValueError(f'pad_sequences: truncating type "{truncating}" not understood '
                         '(expected "pre" or "post")')
    if maxlen is not None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
            raise ValueError(f"pad_sequences: maxlen must be a non-negative int or None, "
                             f"got {maxlen!r}")
        maxlen = int(maxlen)

    lengths, sample_shape, found = [], (), False
    for x in sequences:                  # the item shape comes from the first non-empty one
        try:
            lengths.append(len(x))
        except TypeError:
            raise ValueError(f"pad_sequences: `sequences` must be a list of iterables. "
                             f"Found non-iterable: {x}") from None
        if not found and len(x):
            sample_shape, found = np.asarray(x).shape[1:], True
    if maxlen is None:
        maxlen = max(lengths) if lengths else 0

    is_dtype_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_dtype_str:
        raise ValueError(f"pad_sequences: `dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}. Set `dtype=object` for variable length strings.")

    out = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError(f"pad_sequences: shape of sample {trunc.shape[1:]} of sequence at "
                             f"position {i} is different from expected shape {sample_shape}")
        if padding == "post":
            out[i, :len(trunc)] = trunc
        else:
            out[i, -len(trunc):] = trunc
    return out


def lm_windows(ids, seq_len, step=None):
    """Next-token windows of a token stream for language modelling.

    Window ``k`` starts at ``k * step``: ``x[k] = ids[k*step : k*step + seq_len]`` and
    ``y[k] = ids[k*step + 1 : k*step + seq_len + 1]`` (``x`` shifted by one). Only windows
    whose target fits are made, so the last ``(len(ids) - 1 - seq_len) % step`` tokens may go
    unused.

    No data is copied: ``x`` and ``y`` are read-only strided views of ``ids`` (made
    contiguous first if it is not), so overlapping windows (``step < seq_len``) cost nothing.

    Args:
        ids: 1-D array of token ids, length at least ``seq_len + 1``.
        seq_len: T, the length of each window.
        step: distance between window starts (default ``seq_len``: windows do not overlap).

    Returns:
        ``(x, y)``, each ``(N, seq_len)`` with ``N = (len(ids) - 1 - seq_len) // step + 1``.
    """
    ids = np.asarray(ids)
    step = seq_len if step is None else step
    for name, v in (("seq_len", seq_len), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"lm_windows: {name} must be a positive int, got {v!r}")
    if ids.ndim != 1:
        raise ValueError(f"lm_windows: expected a 1-D array of token ids, got shape {ids.shape}")
    if len(ids) < seq_len + 1:
        raise ValueError(f"lm_windows: {len(ids)} tokens are too few for one window of "
                         f"seq_len={seq_len} (need seq_len + 1 = {seq_len + 1})")
    windows = np.lib.stride_tricks.sliding_window_view(ids, seq_len + 1)[::step]  # (N, T+1)
    return windows[:, :-1], windows[:, 1:]
