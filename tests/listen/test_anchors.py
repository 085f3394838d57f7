"""The BS.1534 anchors: the pass band kept, everything above the cutoff removed."""

from __future__ import annotations

import numpy as np

from codecstudy.listen.anchors import anchors, lowpass


def _level_db(signal: np.ndarray, rate: int, freq: float) -> float:
    t = np.arange(signal.size) / rate
    return 20 * np.log10(abs(np.dot(signal, np.exp(-2j * np.pi * freq * t))) * 2 / signal.size + 1e-12)


def test_anchor_cutoffs() -> None:
    rate = 32000
    t = np.arange(rate) / rate
    mix = sum(np.sin(2 * np.pi * f * t) for f in (1000.0, 5000.0, 10000.0)).astype(np.float32) / 3
    made = anchors(mix, rate)
    assert set(made) == {"anchor_3k5", "anchor_7k"}
    low, mid = made["anchor_3k5"], made["anchor_7k"]
    ref_1k = _level_db(mix, rate, 1000.0)
    assert abs(_level_db(low, rate, 1000.0) - ref_1k) < 0.1 and abs(_level_db(mid, rate, 1000.0) - ref_1k) < 0.1
    assert _level_db(low, rate, 5000.0) < ref_1k - 40  # 5 kHz is above the low anchor's 3.5 kHz
    assert abs(_level_db(mid, rate, 5000.0) - ref_1k) < 0.5  # but below the mid anchor's 7 kHz
    assert _level_db(mid, rate, 10000.0) < ref_1k - 40
    assert low.dtype == np.float32 and low.shape == mix.shape


def test_cutoff_above_nyquist_keeps_the_signal() -> None:
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    assert np.array_equal(lowpass(x, 8000, 7000.0), x)
