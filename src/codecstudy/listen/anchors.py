"""MUSHRA anchors (ITU-R BS.1534-3): the reference low-passed at 3.5 kHz (low anchor) and 7 kHz (mid anchor).

The anchors show how a listener uses the scale: the low anchor should land low, and a codec rated below it says
more than a codec rated "poor" alone. A steep zero-phase Butterworth keeps the pass band untouched and adds no
delay, so switching between reference and anchor at the same position stays seamless.
"""

from __future__ import annotations

import numpy as np

ANCHORS = {"anchor_3k5": 3500.0, "anchor_7k": 7000.0}
ORDER = 8


def lowpass(samples: np.ndarray, sample_rate: int, cutoff: float, order: int = ORDER) -> np.ndarray:
    """Zero-phase low-pass; a cutoff at or above Nyquist returns the input unchanged (nothing to remove)."""
    from scipy.signal import butter, sosfiltfilt

    x = np.asarray(samples, dtype=np.float64)
    if cutoff >= sample_rate / 2 or x.size < 3 * (order + 1):
        return x.astype(np.float32)
    sos = butter(order, cutoff, btype="lowpass", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, x).astype(np.float32)


def anchors(reference: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    """Every anchor of a trial, by condition name."""
    return {name: lowpass(reference, sample_rate, cutoff) for name, cutoff in ANCHORS.items()}
