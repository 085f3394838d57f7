"""Shared fixtures: tiny generated audio files, so no test depends on downloaded data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture
def write_wav(tmp_path: Path):
    """Write ``samples`` ([T] or [T, C]) to ``tmp_path/name`` and return the path."""

    def _write(name: str, samples: np.ndarray, sample_rate: int = 16000, subtype: str | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), samples, sample_rate, subtype=subtype)
        return path

    return _write


@pytest.fixture
def noise():
    """``noise(batch, samples, seed=0, amp=0.2)``: reproducible Gaussian noise ``[batch, 1, samples]`` (torch)."""
    import torch

    def _noise(batch: int, samples: int, seed: int = 0, amp: float = 0.2) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return amp * torch.randn(batch, 1, samples, generator=gen)

    return _noise
