"""Loudness of a stimulus: ITU-R BS.1770-4 integrated loudness (K-weighting, 400 ms blocks, two gates), in LUFS.

MUSHRA compares quality, not level: a louder version of the same sound is heard as better, so every stimulus of a
trial is brought to the same loudness. The K-weighting filters are the standard's two biquads at 48 kHz (a high
shelf for the head's acoustic effect and the RLB high-pass); other rates are resampled to 48 kHz first, which
keeps the coefficients exactly those of the standard. Own code so that the measure does not depend on what is
installed; tests compare it with pyloudnorm when that is installed.
"""

from __future__ import annotations

import math

import numpy as np

RATE = 48000
#: BS.1770-4, table 1 and 2: stage 1 (high shelf) and stage 2 (RLB high-pass) at 48 kHz.
SHELF_B = (1.53512485958697, -2.69169618940638, 1.19839281085285)
SHELF_A = (1.0, -1.69065929318241, 0.73248077421585)
HIGHPASS_B = (1.0, -2.0, 1.0)
HIGHPASS_A = (1.0, -1.99004745483398, 0.99007225036621)
BLOCK_SECONDS, OVERLAP = 0.4, 0.75
ABSOLUTE_GATE, RELATIVE_GATE = -70.0, -10.0
MEASURE = "ITU-R BS.1770-4 integrated loudness (K-weighted, gated; codecstudy.listen.loudness)"


def k_weight(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The K-weighted signal at 48 kHz (mono ``[T]``)."""
    from scipy.signal import lfilter

    from codecstudy.audio import resample

    x = resample(np.asarray(samples, dtype=np.float32), sample_rate, RATE).astype(np.float64)
    return lfilter(HIGHPASS_B, HIGHPASS_A, lfilter(SHELF_B, SHELF_A, x))


def _lufs(mean_square: float | np.ndarray) -> float | np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(mean_square)


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness in LUFS; ``-inf`` for silence. A clip shorter than one block is one block."""
    y = k_weight(samples, sample_rate)
    block = int(round(BLOCK_SECONDS * RATE))
    hop = int(round(block * (1.0 - OVERLAP)))
    if y.size <= block:
        powers = np.array([np.mean(y**2)]) if y.size else np.zeros(1)
    else:
        starts = np.arange(0, y.size - block + 1, hop)
        cumulative = np.concatenate([[0.0], np.cumsum(y**2)])
        powers = (cumulative[starts + block] - cumulative[starts]) / block
    levels = _lufs(powers)
    kept = powers[levels > ABSOLUTE_GATE]
    if kept.size == 0:
        return -math.inf
    relative = float(_lufs(kept.mean())) + RELATIVE_GATE
    gated = kept[_lufs(kept) > relative]
    return float(_lufs(gated.mean() if gated.size else kept.mean()))


def matching_gains(loudness: list[float], peaks: list[float], target: float, ceiling: float = 0.98) -> tuple[float,
                                                                                                           list[float]]:
    """Linear gains that bring every stimulus of a trial to one loudness without clipping any of them.

    The common level is ``target`` unless some stimulus would then peak above ``ceiling``; then the whole trial is
    set lower, so that the stimuli stay equally loud. Silent stimuli (``-inf``) keep a gain of 1. Returns the
    level used and the gains.
    """
    level = float(target)
    for lufs, peak in zip(loudness, peaks):
        if math.isfinite(lufs) and peak > 0:
            level = min(level, lufs + 20.0 * math.log10(ceiling / peak))
    gains = [10.0 ** ((level - lufs) / 20.0) if math.isfinite(lufs) else 1.0 for lufs in loudness]
    return level, gains
