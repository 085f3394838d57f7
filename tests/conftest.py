"""Shared fixtures: tiny generated audio files, so no test depends on downloaded data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def tone(seconds: float = 1.0, sample_rate: int = 16000, freq: float = 220.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def write_wav(tmp_path: Path):
    """Write ``samples`` ([T] or [T, C]) to ``tmp_path/name`` and return the path."""

    def _write(name: str, samples: np.ndarray, sample_rate: int = 16000, subtype: str | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), samples, sample_rate, subtype=subtype)
        return path

    return _write
