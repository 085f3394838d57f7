"""BS.1770 loudness: the standard's calibration point, gating, parity with pyloudnorm, and trial matching."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codecstudy.listen.loudness import integrated_loudness, matching_gains


def _sine(rate: int, seconds: float = 3.0, amplitude: float = 1.0, freq: float = 997.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("rate", [16000, 24000, 48000])
def test_full_scale_997_hz_sine_reads_minus_3_01_lufs(rate: int) -> None:
    # BS.1770-4: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS
    assert integrated_loudness(_sine(rate), rate) == pytest.approx(-3.01, abs=0.02)
    assert integrated_loudness(_sine(rate, amplitude=0.1), rate) == pytest.approx(-23.01, abs=0.02)


def test_silence_is_minus_infinity_and_gating_ignores_silent_stretches() -> None:
    assert integrated_loudness(np.zeros(48000, dtype=np.float32), 48000) == -math.inf
    tone = _sine(48000, 2.0, 0.1)
    padded = np.concatenate([tone, np.zeros(96000, dtype=np.float32)])
    # the gates drop the silent blocks: silence after the tone (which halves the mean square: -3 dB over the
    # padded length) moves the reading only by the blocks that straddle the edge
    assert integrated_loudness(padded, 48000) == pytest.approx(integrated_loudness(tone, 48000), abs=0.5)


@pytest.mark.parametrize("rate", [16000, 48000])
def test_agrees_with_pyloudnorm(rate: int) -> None:
    pyln = pytest.importorskip("pyloudnorm")
    rng = np.random.default_rng(1)
    noise = (0.05 * rng.standard_normal(rate * 4) * np.linspace(0.2, 1.0, rate * 4)).astype(np.float32)
    for signal in (_sine(rate, 4.0, 0.3, 440.0), noise, noise + _sine(rate, 4.0, 0.02, 3000.0)):
        ours = integrated_loudness(signal, rate)
        theirs = pyln.Meter(rate).integrated_loudness(signal.astype(np.float64))
        assert ours == pytest.approx(theirs, abs=0.3)


def test_matching_gains_give_one_level_and_never_clip() -> None:
    level, gains = matching_gains([-20.0, -30.0, -math.inf], [0.5, 0.1, 0.0], target=-23.0)
    assert level == -23.0
    assert 20 * math.log10(gains[0]) == pytest.approx(-3.0)
    assert 20 * math.log10(gains[1]) == pytest.approx(7.0)
    assert gains[2] == 1.0
    # a stimulus that would peak above the ceiling at -23 LUFS lowers the whole trial, not itself alone
    level, gains = matching_gains([-30.0, -20.0], [0.9, 0.2], target=-23.0)
    assert level < -23.0
    assert 0.9 * gains[0] == pytest.approx(0.98)
    assert -30.0 + 20 * math.log10(gains[0]) == pytest.approx(-20.0 + 20 * math.log10(gains[1]))
