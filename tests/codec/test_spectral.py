"""STFT and mel helpers: filterbank equal to librosa's, STFT equal to a framed numpy FFT, safe on silence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codecstudy.codec.spectral import (
    hann_window,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_spectrogram,
    mel_to_hz,
    stft,
    stft_magnitude,
)


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a loaded 2-core machine OpenMP threads waiting for
    each other made this module 10x slower; restore the setting for the modules after this one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# librosa 0.11.0 ``filters.mel(..., dtype=float64)``, each row as (first non-zero bin, non-zero run).
LIBROSA_SR8000_NFFT32_NMELS6 = [
    (1, [0.002229091955, 0.001513873631]),
    (2, [0.001471807947, 0.002270612094, 4.309676807e-05]),
    (3, [0.0006388021772, 0.002629731025, 0.001090082695]),
    (5, [0.001182930156, 0.001724482821, 0.0008704927154, 1.650260994e-05]),
    (6, [0.0001950634808, 0.0007996545547, 0.001404245629, 0.0009961735913, 0.0005681471255, 0.0001401206597]),
    (9, [0.0002971700298, 0.0006001957663, 0.0009032215028, 0.0008581207407, 0.0006435905555, 0.0004290603703,
         0.0002145301852]),
]
# librosa 0.11.0 ``filters.mel(sr=16000, n_fft=64, n_mels=10, fmin=100, fmax=7000, htk=True, dtype=float64)``.
LIBROSA_SR16000_NFFT64_NMELS10_HTK = [
    (1, [0.004026008858, 0.0001640304465]),
    (2, [0.003861272379, 0.0004850034887]),
    (3, [0.002856801688, 0.001175593273]),
    (4, [0.001689751696, 0.001837221172, 0.0002489560239]),
    (5, [0.0006588222306, 0.001951597212, 0.001266915134, 0.0002146555937]),
    (7, [0.0007222384844, 0.001578729486, 0.001198518813, 0.0005013744215]),
    (9, [0.0004516879591, 0.001019131518, 0.00129752552, 0.0008356524895, 0.0003737794595]),
    (11, [0.0001055713006, 0.0004815147625, 0.0008574582243, 0.001103333691, 0.0007973329561, 0.0004913322215,
          0.0001853314868]),
    (14, [4.750551286e-05, 0.0002965760756, 0.0005456466384, 0.0007947172012, 0.0008656225802, 0.0006628905662,
          0.0004601585521, 0.0002574265381, 5.469452399e-05]),
    (18, [6.507233701e-05, 0.0002300868978, 0.0003951014586, 0.0005601160194, 0.0007251305802, 0.0006715714191,
          0.0005372571353, 0.0004029428515, 0.0002686285676, 0.0001343142838, 0.0]),
]


def _dense(rows: list[tuple[int, list[float]]], n_bins: int) -> np.ndarray:
    out = np.zeros((len(rows), n_bins))
    for i, (start, values) in enumerate(rows):
        out[i, start : start + len(values)] = values
    return out


def _assert_close_relative(ours: np.ndarray, ref: np.ndarray, rel: float = 1e-4) -> None:
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= rel * np.abs(ref).max()


@pytest.mark.parametrize(
    ("kwargs", "rows"),
    [
        (dict(sample_rate=8000, n_fft=32, n_mels=6), LIBROSA_SR8000_NFFT32_NMELS6),
        (dict(sample_rate=16000, n_fft=64, n_mels=10, fmin=100.0, fmax=7000.0, htk=True),
         LIBROSA_SR16000_NFFT64_NMELS10_HTK),
    ],
)
def test_mel_filterbank_matches_stored_librosa_values(kwargs: dict, rows: list) -> None:
    ours = mel_filterbank(**kwargs, dtype=torch.float64).numpy()
    _assert_close_relative(ours, _dense(rows, kwargs["n_fft"] // 2 + 1))


def _reference_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Independent Slaney filterbank: explicit per-filter piecewise triangles, scalar mel formulas."""

    def to_mel(f: float) -> float:
        return f / (200.0 / 3.0) if f < 1000.0 else 15.0 + np.log(f / 1000.0) * 27.0 / np.log(6.4)

    def to_hz(m: float) -> float:
        return m * (200.0 / 3.0) if m < 15.0 else 1000.0 * np.exp((m - 15.0) * np.log(6.4) / 27.0)

    lo, hi = to_mel(fmin), to_mel(fmax)
    corners = [to_hz(lo + (hi - lo) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    out = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        left, centre, right = corners[m], corners[m + 1], corners[m + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sr / n_fft
            if left < f <= centre:
                out[m, k] = (f - left) / (centre - left)
            elif centre < f < right:
                out[m, k] = (right - f) / (right - centre)
        out[m] *= 2.0 / (right - left)
    return out


@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels", "fmin", "fmax"),
    [(16000, 1024, 80, 0.0, 8000.0), (24000, 256, 40, 50.0, 11000.0), (16000, 64, 80, 0.0, 8000.0)],
)
def test_mel_filterbank_matches_independent_reference(
    sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> None:
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, dtype=torch.float64).numpy()
    _assert_close_relative(ours, _reference_filterbank(sr, n_fft, n_mels, fmin, fmax))


def test_mel_filterbank_matches_librosa_when_installed() -> None:
    librosa = pytest.importorskip("librosa")
    cases = [(16000, 1024, 80, 0.0, None, False), (22050, 511, 40, 20.0, 9000.0, True)]
    for sr, n_fft, n_mels, fmin, fmax, htk in cases:
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, dtype=np.float64)
        ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk=htk, dtype=torch.float64).numpy()
        _assert_close_relative(ours, ref)


def test_mel_scale_round_trip_and_break_frequency() -> None:
    freqs = np.array([0.0, 440.0, 1000.0, 3000.0, 11025.0])
    for htk in (False, True):
        np.testing.assert_allclose(mel_to_hz(hz_to_mel(freqs, htk), htk), freqs, rtol=1e-12, atol=1e-9)
    assert hz_to_mel(1000.0) == pytest.approx(15.0)  # Slaney: linear up to 1 kHz = 15 mel


def test_mel_filterbank_is_cached_and_validates() -> None:
    assert mel_filterbank(16000, 512, 64) is mel_filterbank(16000, 512, 64)
    assert mel_filterbank(16000, 512, 64).dtype == torch.float32
    with pytest.raises(ValueError):
        mel_filterbank(16000, 512, 64, fmin=9000.0)


def test_stft_equals_framed_numpy_fft() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000)
    n_fft, hop, win = 256, 100, 200
    spec = stft(torch.from_numpy(x), n_fft, hop, win, center=False).numpy()
    window = np.zeros(n_fft)
    window[(n_fft - win) // 2 : (n_fft - win) // 2 + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    n_frames = 1 + (len(x) - n_fft) // hop
    assert spec.shape == (n_fft // 2 + 1, n_frames)
    for frame in (0, 3, n_frames - 1):
        expected = np.fft.rfft(window * x[frame * hop : frame * hop + n_fft])
        np.testing.assert_allclose(spec[:, frame], expected, rtol=1e-9, atol=1e-9)


def test_stft_keeps_leading_dimensions_and_accepts_short_input() -> None:
    wave = torch.randn(3, 1, 999)
    assert stft(wave, 128, 32).shape == (3, 1, 65, 999 // 32 + 1)
    assert stft(wave[:, 0], 128, 32).shape == (3, 65, 999 // 32 + 1)
    assert stft(torch.randn(40), 128, 32).shape == (65, 2)  # shorter than n_fft // 2: zero padding, no error
    assert stft(torch.randn(40), 128, 32, center=False).shape == (65, 1)


def test_normalized_stft_divides_by_window_norm() -> None:
    wave = torch.randn(2, 4000, dtype=torch.float64)
    window = hann_window(512, dtype=torch.float64)
    ratio = stft(wave, 512, 128) / stft(wave, 512, 128, normalized=True)
    torch.testing.assert_close(ratio.real, torch.full_like(ratio.real, float(window.pow(2).sum().sqrt())))


def test_hann_window_cached_per_device_and_dtype() -> None:
    assert hann_window(400) is hann_window(400)
    assert hann_window(400, dtype=torch.float64) is not hann_window(400)
    torch.testing.assert_close(hann_window(400), torch.hann_window(400))


def test_stft_magnitude_powers_and_silence_gradient() -> None:
    wave = torch.randn(2, 1, 3000, dtype=torch.float64)
    spec = stft(wave, 256, 64)
    torch.testing.assert_close(stft_magnitude(wave, 256, 64, power=2.0), spec.abs() ** 2)
    torch.testing.assert_close(stft_magnitude(wave, 256, 64), spec.abs())
    silence = torch.zeros(1, 1, 2000, requires_grad=True)
    stft_magnitude(silence, 256, 64).sum().backward()
    assert torch.isfinite(silence.grad).all()


def test_mel_spectrogram_of_a_tone_peaks_in_its_band() -> None:
    sr, freq = 16000, 1500.0
    t = torch.arange(sr) / sr
    mel = mel_spectrogram(torch.sin(2 * torch.pi * freq * t), sr, 1024, 256, n_mels=64)
    assert mel.shape == (64, sr // 256 + 1)
    peak_band = int(mel.mean(dim=-1).argmax())
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), 66))
    assert edges[peak_band] < freq < edges[peak_band + 2]


def test_log_mel_clamps_silence_and_supports_log10() -> None:
    silence = torch.zeros(1, 1, 4000)
    torch.testing.assert_close(
        log_mel(silence, 16000, 512, 128, n_mels=40, eps=1e-5), torch.full((1, 1, 40, 32), float(np.log(1e-5)))
    )
    wave = torch.randn(1, 4000)
    torch.testing.assert_close(
        log_mel(wave, 16000, 512, 128, n_mels=40, log_base=10.0),
        log_mel(wave, 16000, 512, 128, n_mels=40) / float(np.log(10.0)),
    )
