"""Speech features with NumPy: framing, Hann window, power spectrum, mel filterbank, log, DCT.

The classic front end of speech recognisers, one step per function::

    frames[t, n]  = x[t * hop + n]                    n < L  (the tail is zero-padded)
    w[n]          = 0.5 - 0.5 cos(2 pi n / L)         periodic Hann window
    P[t, k]       = |rfft(frames[t] * w, n_fft)[k]|^2 / n_fft        k = 0 .. n_fft/2
    mel(f)        = 2595 log10(1 + f / 700)           (HTK's mel scale)
    M[m, k]       = triangle m of the filterbank at frequency f_k = k * sr / n_fft: rising
                    from mel point m to m+1, falling to m+2 (n_mels + 2 points spaced evenly
                    in mel between fmin and fmax)
    log_mel[t, m] = log(sum_k M[m, k] P[t, k] + eps)
    mfcc[t, q]    = sum_m D[q, m] log_mel[t, m]       D: orthonormal DCT-II,
                    D[q, m] = sqrt((2 - [q == 0]) / n_mels) cos(pi q (2m + 1) / (2 n_mels))

Default sizes follow speech practice: 25 ms frames every 10 ms, the FFT length the next power
of two (256 at 8 kHz), 40 mel bands, 13 coefficients.

>>> sr = 8000
>>> t = np.arange(sr) / sr
>>> lm = log_mel(np.sin(2 * np.pi * 1000 * t), sr, n_mels=20)          # a 1 kHz tone
>>> lm.shape                                          # 1 + ceil((8000 - 200) / 80) frames
(99, 20)
>>> round(float(mel_band_centres(20, sr)[lm.mean(axis=0).argmax()]))   # the loudest band's centre
1033
"""

import numpy as np


def hz_to_mel(f):
    """HTK mel: ``2595 log10(1 + f / 700)`` (1000 Hz -> ~1000 mel)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    """The inverse of :func:`hz_to_mel`: ``700 (10^(m / 2595) - 1)``."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def frame_signal(signal, frame_length, hop_length):
    """Overlapping frames ``(T, frame_length)`` of a 1-D signal; the last one is zero-padded.

    ``T = 1 + ceil(max(N - frame_length, 0) / hop_length)``: every sample is in some frame.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"frame_signal: expected a 1-D signal, got shape {x.shape}")
    if frame_length < 1 or hop_length < 1:
        raise ValueError(f"frame_signal: frame_length and hop_length must be >= 1, got "
                         f"{frame_length} and {hop_length}")
    n_frames = 1 + -(-max(len(x) - frame_length, 0) // hop_length)
    padded = np.zeros((n_frames - 1) * hop_length + frame_length)
    padded[:len(x)] = x
    idx = np.arange(frame_length)[None, :] + hop_length * np.arange(n_frames)[:, None]
    return padded[idx]                                       # (T, L)


def hann(length):
    """The periodic Hann window ``0.5 - 0.5 cos(2 pi n / length)`` (scipy's ``hann``)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


def power_spectrum(frames, n_fft):
    """``|rfft(frames, n_fft)|^2 / n_fft``: (T, L) -> (T, n_fft // 2 + 1)."""
    return np.abs(np.fft.rfft(frames, n=n_fft, axis=-1)) ** 2 / n_fft


def mel_filterbank(n_mels, n_fft, sample_rate, fmin=0.0, fmax=None):
    """Triangular filters ``(n_mels, n_fft // 2 + 1)``, each peaking at 1 on its centre.

    Centres and edges are ``n_mels + 2`` points evenly spaced on the mel scale between
    ``fmin`` and ``fmax`` (default ``sample_rate / 2``); filter m rises linearly in Hz from
    point m to point m+1 and falls to point m+2.
    """
    fmax = sample_rate / 2.0 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sample_rate / 2.0:
        raise ValueError(f"mel_filterbank: need 0 <= fmin < fmax <= sample_rate / 2, got "
                         f"fmin={fmin}, fmax={fmax}, sample_rate={sample_rate}")
    points = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft              # (K,)
    lo, centre, hi = points[:-2, None], points[1:-1, None], points[2:, None]
    rising = (freqs - lo) / (centre - lo)
    falling = (hi - freqs) / (hi - centre)
    return np.maximum(0.0, np.minimum(rising, falling))                  # (n_mels, K)


def mel_band_centres(n_mels, sample_rate, fmin=0.0, fmax=None):
    """The centre frequencies in Hz of :func:`mel_filterbank`'s bands, ``(n_mels,)``."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))[1:-1]


def dct_matrix(n_out, n_in):
    """Orthonormal DCT-II rows ``(n_out, n_in)`` (scipy's ``dct(type=2, norm="ortho")``)."""
    q = np.arange(n_out)[:, None]
    m = np.arange(n_in)[None, :]
    d = np.cos(np.pi * q * (2 * m + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    d[0] /= np.sqrt(2.0)
    return d


def _sizes(sample_rate, frame_ms, hop_ms, n_fft):
    frame_length = int(round(sample_rate * frame_ms / 1000.0))
    hop_length = int(round(sample_rate * hop_ms / 1000.0))
    if n_fft is None:
        n_fft = 1 << max(frame_length - 1, 1).bit_length()             # next power of two
    if n_fft < frame_length:
        raise ValueError(f"n_fft={n_fft} is shorter than the frame ({frame_length} samples)")
    return frame_length, hop_length, n_fft


def log_mel(signal, sample_rate, n_mels=40, frame_ms=25.0, hop_ms=10.0, n_fft=None, fmin=0.0,
            fmax=None, eps=1e-10):
    """Log mel filterbank energies of a 1-D signal (see the module docstring for the equations).

    Args:
        signal: (N,) samples (any scale; a WAV's floats in [-1, 1]).
        sample_rate: in Hz.
        n_mels: number of mel bands.
        frame_ms, hop_ms: frame length and step in milliseconds.
        n_fft: FFT length (default: the next power of two of the frame length).
        fmin, fmax: the filterbank's frequency range in Hz (default 0 to sample_rate / 2).
        eps: added before the log, so silence gives ``log(eps)`` instead of -inf.

    Returns:
        (T, n_mels) float32, ``T = 1 + ceil((N - frame) / hop)`` frames.
    """
    frame_length, hop_length, n_fft = _sizes(sample_rate, frame_ms, hop_ms, n_fft)
    frames = frame_signal(signal, frame_length, hop_length) * hann(frame_length)   # (T, L)
    power = power_spectrum(frames, n_fft)                                          # (T, K)
    energies = power @ mel_filterbank(n_mels, n_fft, sample_rate, fmin, fmax).T    # (T, n_mels)
    return np.log(energies + eps).astype(np.float32)


def mfcc(signal, sample_rate, n_mfcc=13, n_mels=40, **log_mel_options):
    """Mel-frequency cepstral coefficients: the orthonormal DCT-II of :func:`log_mel`.

    Returns (T, n_mfcc) float32; coefficient 0 is the (scaled) mean log energy of the frame.
    ``log_mel_options`` are :func:`log_mel`'s (``frame_ms``, ``hop_ms``, ``n_fft``, ...).
    """
    if not 1 <= n_mfcc <= n_mels:
        raise ValueError(f"mfcc: need 1 <= n_mfcc <= n_mels, got n_mfcc={n_mfcc}, n_mels={n_mels}")
    lm = log_mel(signal, sample_rate, n_mels=n_mels, **log_mel_options).astype(np.float64)
    return (lm @ dct_matrix(n_mfcc, n_mels).T).astype(np.float32)                 # (T, n_mfcc)
