"""Read uncompressed PCM WAV files with the standard library's ``wave`` module.

A WAV file holds integer samples of 8, 16, 24 or 32 bits, interleaved over its channels
(``frame = [ch0, ch1, ...]``). ``read_wav`` scales them to floats in [-1, 1]::

    8-bit  (unsigned, 128 is silence)   x = (s - 128) / 128
    16-bit (signed little-endian)       x = s / 2**15
    24-bit (signed, 3 bytes)            x = s / 2**23
    32-bit (signed)                     x = s / 2**31

Compressed or floating-point WAV (any format other than plain PCM) is refused with an error
naming the file: ``wave`` reads only PCM, and so does this reader.

>>> import io, wave
>>> buf = io.BytesIO()
>>> with wave.open(buf, "wb") as w:
...     w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
...     w.writeframes(np.array([0, 16384, -32768], dtype="<i2").tobytes())
>>> _ = buf.seek(0)
>>> samples, rate = read_wav(buf)
>>> samples.tolist(), rate
([0.0, 0.5, -1.0], 8000)
"""

import wave

import numpy as np

_SCALE = {1: 2.0 ** 7, 2: 2.0 ** 15, 3: 2.0 ** 23, 4: 2.0 ** 31}


def _name(path):
    return getattr(path, "name", "<file object>") if hasattr(path, "read") else str(path)


def _decode(raw, sampwidth):
    """Little-endian integer bytes -> float64 samples in [-1, 1] (one flat array)."""
    if sampwidth == 1:
        ints = np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128
    elif sampwidth == 2:
        ints = np.frombuffer(raw, dtype="<i2").astype(np.int32)
    elif sampwidth == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)        # unsigned 24-bit value
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)  # two's complement sign
    else:
        ints = np.frombuffer(raw, dtype="<i4").astype(np.int64)
    return ints / _SCALE[sampwidth]


def read_wav(path, mono=False):
    """The samples and sample rate of a PCM WAV file.

    Args:
        path: a file path or a binary file object.
        mono: mix several channels down to one (their mean).

    Returns:
        ``(samples, sample_rate)``: float32 samples in [-1, 1], shape ``(N,)`` for a mono file
        (or with ``mono=True``), ``(N, C)`` for C channels; the rate in Hz (int).

    Raises:
        ValueError: naming the file, when it is not a WAV file, is compressed or float WAV, has
            a sample width other than 1-4 bytes, or is cut short.
    """
    name = _name(path)
    try:
        with wave.open(path if hasattr(path, "read") else str(path), "rb") as w:
            channels, sampwidth = w.getnchannels(), w.getsampwidth()
            rate, n_frames = w.getframerate(), w.getnframes()
            raw = w.readframes(n_frames)
    except wave.Error as e:
        msg = str(e)
        if "unknown format" in msg:           # wave reads PCM only (format tag 1)
            msg = f"not PCM ({msg}): compressed or floating-point WAV is not supported"
        raise ValueError(f"{name}: not a readable PCM WAV file ({msg})") from None
    except EOFError:
        raise ValueError(f"{name}: not a WAV file (empty or cut short)") from None
    if sampwidth not in _SCALE:
        raise ValueError(f"{name}: {8 * sampwidth}-bit samples are not supported "
                         "(8, 16, 24 or 32-bit PCM)")
    if len(raw) % (sampwidth * channels):
        raise ValueError(f"{name}: truncated sample data ({len(raw)} bytes for "
                         f"{channels} channel(s) of {sampwidth} bytes)")
    x = _decode(raw, sampwidth).reshape(-1, channels)             # (N, C)
    if channels == 1 or mono:
        x = x.mean(axis=1)
    return x.astype(np.float32), int(rate)
