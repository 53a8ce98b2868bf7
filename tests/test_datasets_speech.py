"""The WAV reader, the speech features and the spoken-digit loader.

WAV: files written with the standard library's ``wave`` at every supported width, compared
with the integers written; features: hand-checkable cases (a pure tone lands in its mel band,
the filterbank's triangles, frame counts) and cross-checks with SciPy's window and DCT; the
loader: the real FSDD folder (skipped when absent), its cache, and its errors.
"""

import io
import os
import struct
import wave

import numpy as np
import pytest

from rnnkit.datasets import audio_features as af
from rnnkit.datasets.sources import MissingDataError
from rnnkit.datasets.speech import list_recordings, load_spoken_digits, parse_file_name
from rnnkit.datasets.wav import read_wav

FSDD = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "fsdd_subset")


def write_wav(path, ints, sampwidth, channels=1, rate=8000):
    """Write integer samples (N,) or (N, C) as PCM: little-endian, 8-bit stored unsigned."""
    ints = np.asarray(ints, dtype=np.int64).reshape(-1)
    if sampwidth == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    elif sampwidth == 3:
        raw = b"".join(struct.pack("<i", int(v))[:3] for v in ints)
    else:
        raw = ints.astype({2: "<i2", 4: "<i4"}[sampwidth]).tobytes()
    with wave.open(path if hasattr(path, "write") else str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(sampwidth)
        w.setframerate(rate)
        w.writeframes(raw)


# ---- WAV ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("sampwidth", [1, 2, 3, 4])
def test_read_wav_every_width_scales_to_unit_range(tmp_path, sampwidth):
    full = 2 ** (8 * sampwidth - 1)
    ints = np.array([0, 1, -1, full // 2, -full, full - 1, -full // 4])
    write_wav(tmp_path / "a.wav", ints, sampwidth, rate=11025)
    x, rate = read_wav(tmp_path / "a.wav")
    assert rate == 11025 and x.dtype == np.float32 and x.shape == (7,)
    np.testing.assert_allclose(x, ints / full, rtol=0, atol=1e-7)
    assert x.min() == -1.0 and x.max() <= 1.0          # float32 rounds (2^31 - 1) / 2^31 to 1


def test_read_wav_stereo_as_channels_or_mixed_down(tmp_path):
    left, right = np.array([100, -200, 300]), np.array([1000, 2000, -3000])
    write_wav(tmp_path / "s.wav", np.stack([left, right], axis=1), 2, channels=2)
    x, _ = read_wav(tmp_path / "s.wav")
    assert x.shape == (3, 2)
    np.testing.assert_allclose(x[:, 0], left / 32768, atol=1e-8)
    np.testing.assert_allclose(x[:, 1], right / 32768, atol=1e-8)
    m, _ = read_wav(tmp_path / "s.wav", mono=True)
    np.testing.assert_allclose(m, (left + right) / 2 / 32768, atol=1e-8)


def test_read_wav_file_object():
    buf = io.BytesIO()
    write_wav(buf, [5, -5], 2)
    buf.seek(0)
    x, rate = read_wav(buf)
    assert rate == 8000 and np.allclose(x, [5 / 32768, -5 / 32768])


def test_read_wav_refuses_non_wav_and_compressed_naming_the_file(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("these are not samples\n")
    with pytest.raises(ValueError, match=r"notes\.wav: not a readable PCM WAV"):
        read_wav(bad)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.wav"):
        read_wav(empty)
    # a 32-bit float WAV (format tag 3): a valid RIFF file that is not PCM
    data = np.array([0.5, -0.5], dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    riff = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)
    flt = tmp_path / "float.wav"
    flt.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    with pytest.raises(ValueError, match=r"float\.wav: .*not PCM.*compressed or floating-point"):
        read_wav(flt)


# ---- features -----------------------------------------------------------------------------------
def test_frame_count_and_zero_padded_tail():
    x = np.arange(10.0)
    f = af.frame_signal(x, 4, 3)              # starts 0, 3, 6 -> the last frame [6..9]
    assert f.shape == (3, 4)
    np.testing.assert_array_equal(f[2], [6, 7, 8, 9])
    f = af.frame_signal(np.arange(11.0), 4, 3)   # a 4th frame [9, 10, 0, 0]
    np.testing.assert_array_equal(f[-1], [9, 10, 0, 0])
    assert af.frame_signal(np.ones(2), 4, 3).shape == (1, 4)     # shorter than one frame
    with pytest.raises(ValueError, match="1-D"):
        af.frame_signal(np.ones((3, 2)), 4, 3)


def test_hann_and_dct_agree_with_scipy():
    signal = pytest.importorskip("scipy.signal")
    fft = pytest.importorskip("scipy.fft")
    np.testing.assert_allclose(af.hann(200), signal.get_window("hann", 200), atol=1e-12)
    z = np.random.default_rng(0).normal(size=(5, 40))
    np.testing.assert_allclose(z @ af.dct_matrix(13, 40).T,
                               fft.dct(z, type=2, norm="ortho", axis=-1)[:, :13], atol=1e-12)


def test_power_spectrum_matches_parseval():
    z = np.random.default_rng(1).normal(size=(3, 256))
    p = af.power_spectrum(z, 256)
    # sum over the full two-sided spectrum / n_fft = sum of squares (Parseval)
    two_sided = p[:, 0] + p[:, -1] + 2 * p[:, 1:-1].sum(axis=1)
    np.testing.assert_allclose(two_sided, (z ** 2).sum(axis=1), rtol=1e-10)


def test_mel_scale_and_filterbank_triangles():
    assert af.hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.1)    # HTK: 1000 Hz ~ 1000 mel
    np.testing.assert_allclose(af.mel_to_hz(af.hz_to_mel([0, 440, 3999])), [0, 440, 3999])
    fb = af.mel_filterbank(10, 256, 8000)
    assert fb.shape == (10, 129) and fb.min() == 0.0 and fb.max() <= 1.0
    centres = af.mel_band_centres(10, 8000)
    freqs = np.arange(129) * 8000 / 256
    for m, c in enumerate(centres):           # each triangle peaks at the bin nearest its centre
        assert abs(freqs[fb[m].argmax()] - c) <= 8000 / 256
    with pytest.raises(ValueError, match="fmax"):
        af.mel_filterbank(10, 256, 8000, fmax=5000)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 2500.0])
def test_pure_tone_lands_in_its_mel_band(freq):
    sr = 8000
    t = np.arange(sr // 2) / sr
    lm = af.log_mel(0.5 * np.sin(2 * np.pi * freq * t), sr, n_mels=20)
    assert lm.shape == (1 + -(-(4000 - 200) // 80), 20) and lm.dtype == np.float32
    loudest = int(lm[5:-5].mean(axis=0).argmax())
    nearest = int(np.argmin(np.abs(af.mel_band_centres(20, sr) - freq)))
    assert abs(loudest - nearest) <= 1
    # bands far from the tone get far less energy (a Hann window's leakage is small)
    far = np.abs(np.arange(20) - nearest) >= 4
    assert lm[5:-5].mean(axis=0)[far].max() < lm[5:-5].mean(axis=0)[loudest] - 8


def test_silence_is_log_eps_and_mfcc_of_constant_log_mel():
    lm = af.log_mel(np.zeros(800), 8000, eps=1e-10)
    np.testing.assert_allclose(lm, np.log(1e-10), rtol=1e-6)
    c = af.mfcc(np.zeros(800), 8000, n_mfcc=13, n_mels=40)
    assert c.shape == (lm.shape[0], 13)
    # a constant log-mel row: only c0 is non-zero, c0 = sqrt(n_mels) * value
    np.testing.assert_allclose(c[:, 0], np.sqrt(40) * np.log(1e-10), rtol=1e-5)
    np.testing.assert_allclose(c[:, 1:], 0, atol=1e-4)
    with pytest.raises(ValueError, match="n_mfcc"):
        af.mfcc(np.zeros(800), 8000, n_mfcc=50, n_mels=40)


# ---- the loader ---------------------------------------------------------------------------------
def test_parse_file_name():
    assert parse_file_name("7_jackson_32.wav") == (7, "jackson", 32)
    assert parse_file_name("/x/y/0_george_0.wav") == (0, "george", 0)
    assert parse_file_name("README.upstream.md") is None
    assert parse_file_name("10_george_0.wav") is None


@pytest.fixture
def fsdd():
    if not os.path.isdir(FSDD):
        pytest.skip(f"the spoken digits are not here: {os.path.abspath(FSDD)}")
    return FSDD


def test_load_spoken_digits_real_folder_and_cache(fsdd, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    d = load_spoken_digits(fsdd)
    assert len(d.features) == len(d.labels) == len(d.speakers) == len(d.files) == 600
    assert d.sample_rate == 8000
    assert sorted(set(d.speakers)) == ["george", "jackson", "lucas", "nicolas", "theo",
                                       "yweweler"]
    assert np.bincount(d.labels).tolist() == [60] * 10
    for f, name, label, speaker, take in zip(d.features, d.files, d.labels, d.speakers, d.takes):
        assert f.dtype == np.float32 and f.ndim == 2 and f.shape[1] == 40 and len(f) >= 5
        assert parse_file_name(name) == (label, speaker, take)
    # the features are those of the file itself
    i = d.files.index("7_jackson_3.wav")
    x, sr = read_wav(os.path.join(fsdd, "7_jackson_3.wav"))
    np.testing.assert_allclose(d.features[i], af.log_mel(x, sr), rtol=1e-6)
    cached = list((tmp_path / "cache").glob("fsdd_log_mel_*.npz"))
    assert len(cached) == 1
    again = load_spoken_digits(fsdd)                      # from the cache
    assert all(np.array_equal(a, b) for a, b in zip(d.features, again.features))
    assert list(again.speakers) == list(d.speakers) and again.files == d.files
    m = load_spoken_digits(fsdd, features="mfcc", n_mfcc=13)
    assert m.features[i].shape == (len(d.features[i]), 13)
    assert len(list((tmp_path / "cache").glob("fsdd_*.npz"))) == 2


def test_missing_folder_and_empty_folder_are_one_line_errors(tmp_path):
    with pytest.raises(MissingDataError, match=r"no such folder .*pass --data PATH") as e:
        load_spoken_digits(tmp_path / "nowhere")
    assert "\n" not in str(e.value)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(MissingDataError, match=r"no \{digit\}_\{speaker\}_\{take\}\.wav"):
        list_recordings(tmp_path)


def test_bad_recording_and_mixed_rates_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "home"))
    write_wav(tmp_path / "1_ann_0.wav", np.zeros(800, dtype=int), 2, rate=8000)
    write_wav(tmp_path / "2_ann_0.wav", np.zeros(800, dtype=int), 2, rate=16000)
    with pytest.raises(ValueError, match=r"2_ann_0\.wav: sample rate 16000 Hz differs"):
        load_spoken_digits(tmp_path)
    (tmp_path / "2_ann_0.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(ValueError, match=r"2_ann_0\.wav: not a readable PCM WAV"):
        load_spoken_digits(tmp_path)
    with pytest.raises(ValueError, match="log_mel' or 'mfcc"):
        load_spoken_digits(tmp_path, features="spectrogram", cache=False)
