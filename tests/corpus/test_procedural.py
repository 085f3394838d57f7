"""Procedural signal generators: shape, range, seeded determinism and the musical content they promise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import signal

from codecstudy.corpus import procedural as p

SR = 16000

GENERATORS: dict[str, Callable[[np.random.Generator, float, int], np.ndarray]] = {
    "harmonic_tone": lambda rng, d, sr: p.harmonic_tone(rng, d, sr, 330.0, timbre="string"),
    "chord": lambda rng, d, sr: p.chord(rng, d, sr, [220.0, 277.2, 329.6], timbre="pluck"),
    "melody": lambda rng, d, sr: p.melody(rng, d, sr),
    "coloured_noise": lambda rng, d, sr: p.coloured_noise(rng, d, sr, exponent=1.0),
    "impulse_train": lambda rng, d, sr: p.impulse_train(rng, d, sr, rate=4.0),
    "chirp": lambda rng, d, sr: p.chirp(rng, d, sr, f_start=500, f_end=3000),
    **{f"music:{k}": (lambda k: lambda rng, d, sr: p.music_clip(rng, d, sr, k))(k) for k in p.MUSIC_KINDS},
    **{f"env:{k}": (lambda k: lambda rng, d, sr: p.environment_clip(rng, d, sr, k))(k) for k in p.ENVIRONMENT_KINDS},
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("sample_rate", [8000, 22050])
def test_output_is_finite_bounded_float32_of_the_right_length(name: str, sample_rate: int) -> None:
    x = GENERATORS[name](np.random.default_rng(0), 1.3, sample_rate)
    assert x.dtype == np.float32 and x.shape == (int(round(1.3 * sample_rate)),)
    assert np.all(np.isfinite(x)) and float(np.max(np.abs(x))) <= 1.0
    assert float(np.max(np.abs(x))) > 0.1  # audible, not silence


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_seeded_determinism(name: str) -> None:
    make = GENERATORS[name]
    first = make(np.random.default_rng(42), 1.0, SR)
    np.testing.assert_array_equal(first, make(np.random.default_rng(42), 1.0, SR))
    assert not np.array_equal(first, make(np.random.default_rng(43), 1.0, SR))


def _spectral_peaks(x: np.ndarray, count: int) -> list[float]:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1.0 / SR)
    peaks, _ = signal.find_peaks(spectrum, distance=int(20 / (freqs[1] - freqs[0])))
    strongest = peaks[np.argsort(spectrum[peaks])[::-1][:count]]
    return sorted(float(freqs[i]) for i in strongest)


def test_chord_contains_its_fundamentals() -> None:
    notes = [p.midi_to_hz(m) for m in (57, 61, 64)]  # A major: 220, 277.2, 329.6 Hz
    x = p.chord(np.random.default_rng(1), 2.0, SR, notes, timbre="organ")
    assert _spectral_peaks(x, 3) == pytest.approx(notes, abs=1.5)


def test_harmonic_tone_pitch_and_nyquist() -> None:
    tone = p.harmonic_tone(np.random.default_rng(2), 1.0, SR, 440.0, timbre="pluck")
    assert _spectral_peaks(tone, 1) == pytest.approx([440.0], abs=1.5)
    # At 8 kHz every partial of a high note but the fundamental is dropped instead of aliasing.
    high = p.harmonic_tone(np.random.default_rng(2), 1.0, 8000, 3000.0, timbre="organ")
    spectrum = np.abs(np.fft.rfft(high))
    freqs = np.fft.rfftfreq(len(high), 1 / 8000)
    assert abs(freqs[np.argmax(spectrum)] - 3000) < 2
    assert spectrum[np.abs(freqs - 2000) < 50].max() < 0.01 * spectrum.max()  # no alias of 6 kHz at 2 kHz


def test_noise_colour_sets_the_spectral_slope() -> None:
    def low_to_high(exponent: float) -> float:
        x = p.coloured_noise(np.random.default_rng(3), 2.0, SR, exponent=exponent)
        power = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / SR)
        return power[(freqs > 100) & (freqs < 400)].mean() / power[(freqs > 3000) & (freqs < 6000)].mean()

    white, pink, brown = low_to_high(0.0), low_to_high(1.0), low_to_high(2.0)
    assert 0.5 < white < 2.0 and white < pink < brown


def test_impulse_train_rate_and_chirp_direction() -> None:
    clicks = p.impulse_train(np.random.default_rng(4), 5.0, SR, rate=4.0, jitter=0.1)
    assert 18 <= np.count_nonzero(clicks) <= 21
    sweep = p.chirp(np.random.default_rng(4), 1.0, SR, f_start=500, f_end=4000)
    f, _, power = signal.spectrogram(sweep, SR, nperseg=512)
    track = f[np.argmax(power, axis=0)]
    assert track[len(track) // 5] < track[len(track) // 2] < track[4 * len(track) // 5]


def test_bad_arguments() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        p.harmonic_tone(rng, 0.0, SR, 440.0)
    with pytest.raises(ValueError, match="timbre"):
        p.harmonic_tone(rng, 1.0, SR, 440.0, timbre="kazoo")
    with pytest.raises(ValueError, match="music kind"):
        p.music_clip(rng, 1.0, SR, "polka")
    with pytest.raises(ValueError, match="environment kind"):
        p.environment_clip(rng, 1.0, SR, "volcano")
    with pytest.raises(ValueError):
        p.chord(rng, 1.0, SR, [])
