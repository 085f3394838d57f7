"""Fake dataset trees for the layout tests, with tiny or empty audio files (imported like ``listsource``).

Sources never decode audio, so most files can be empty; a few tests write real WAV/FLAC to show that nothing
depends on that.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile as sf

from codecstudy.corpus.records import SkippedItem, SourceItem


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def write_audio(path: Path, seconds: float = 0.05, sample_rate: int = 16000) -> Path:
    """A short real tone, in the format the suffix names (WAV, FLAC, OGG, Opus...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    if path.suffix == ".opus":  # libsndfile names Opus by its container
        sf.write(str(path), samples, 48000, format="OGG", subtype="OPUS")
    else:
        sf.write(str(path), samples, sample_rate)
    return path


def split(outputs: Iterable[SourceItem | SkippedItem]) -> tuple[list[SourceItem], list[SkippedItem]]:
    items: list[SourceItem] = []
    skips: list[SkippedItem] = []
    for entry in outputs:
        (skips if isinstance(entry, SkippedItem) else items).append(entry)
    return items, skips


def skip_view(skips: Iterable[SkippedItem], root: Path) -> list[tuple[str, str]]:
    """``(path relative to root, reason)`` of each skip, for readable assertions."""
    return [(os.path.relpath(s.path, root), s.reason) for s in skips]


def abs_str(path: Path) -> str:
    return os.path.abspath(path)
