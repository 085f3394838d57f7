"""Generated test signals."""

from __future__ import annotations

import numpy as np


def tone(seconds: float = 1.0, sample_rate: int = 16000, freq: float = 220.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
