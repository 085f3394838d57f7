"""Turning one source item into manifest clips: decode once, check the signal, cut long recordings.

Every source goes through :func:`inspect_item`, so a corrupt Ogg from a game package and a corrupt FLAC from
LibriSpeech are rejected with the same reasons. The function is pure apart from reading the file, which lets
the builder run it in a process pool.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from codecstudy import audio
from codecstudy.corpus.records import Clip, SkippedItem, SourceItem
from codecstudy.errors import AudioReadError


class ClipPolicy(BaseModel):
    """What the builder accepts, and how it cuts long non-speech recordings into clips."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_duration: float = Field(0.5, gt=0, description="clips shorter than this (seconds) are skipped")
    min_sample_rate: int = Field(8000, gt=0, description="files below this rate (Hz) are skipped")
    multichannel: Literal["mixdown", "skip"] = Field(
        "mixdown", description="multi-channel files are averaged to mono, or skipped"
    )
    silence_db: float = Field(-60.0, description="clips whose peak is below this level (dBFS) are skipped")
    require_text: bool = Field(True, description="speech without a transcript is skipped")
    segment_seconds: float = Field(10.0, gt=0, description="length of the clips cut from long recordings")
    segment_longer_than: float = Field(
        30.0, gt=0, description="recordings longer than this (seconds) without a transcript are cut into clips"
    )


def item_key(item: SourceItem) -> str:
    """The identity of an item across runs (resume) and sources (duplicates)."""
    return f"{clip_base_id(item)}|{item.start:.3f}|{item.duration if item.duration is not None else ''}"


def clip_base_id(item: SourceItem) -> str:
    return item.item_id or f"{item.source}/{item.path.rsplit('/', 1)[-1].rsplit('.', 1)[0]}"


def _skip(item: SourceItem, reason: str) -> SkippedItem:
    return SkippedItem(path=item.path, source=item.source, reason=reason)


def segment_bounds(n_samples: int, sample_rate: int, policy: ClipPolicy, cut: bool) -> list[tuple[int, int]]:
    """Sample ranges of the clips to keep: the whole signal, or consecutive segments when ``cut``.

    A final remainder shorter than ``min_duration`` is dropped; a longer one becomes its own clip.
    """
    if not cut:
        return [(0, n_samples)]
    step = int(round(policy.segment_seconds * sample_rate))
    minimum = int(round(policy.min_duration * sample_rate))
    bounds = []
    for begin in range(0, n_samples, step):
        end = min(begin + step, n_samples)
        if end - begin >= minimum:
            bounds.append((begin, end))
    return bounds


def inspect_item(item: SourceItem, policy: ClipPolicy) -> tuple[list[Clip], list[SkippedItem]]:
    """Decode ``item`` and return its clips and the reasons for whatever was rejected."""
    if item.domain == "speech" and policy.require_text and not (item.text or "").strip():
        return [], [_skip(item, "empty transcript")]
    try:
        data, sample_rate = audio.read(item.path, item.start, item.duration, mono=False)
    except AudioReadError as exc:
        return [], [_skip(item, exc.reason)]
    channels = data.shape[0]
    if channels > 1 and policy.multichannel == "skip":
        return [], [_skip(item, f"multi-channel ({channels} channels) and clips.multichannel is skip")]
    if sample_rate < policy.min_sample_rate:
        return [], [_skip(item, f"sample rate {sample_rate} Hz below clips.min_sample_rate {policy.min_sample_rate}")]
    if not np.isfinite(data).all():
        return [], [_skip(item, "contains NaN or infinite samples")]
    mono = audio.to_mono(data)
    duration = mono.shape[-1] / sample_rate
    if duration < policy.min_duration:
        return [], [_skip(item, f"too short ({duration:.2f}s < clips.min_duration {policy.min_duration}s)")]
    cut = not item.text and duration > policy.segment_longer_than
    clips: list[Clip] = []
    skipped: list[SkippedItem] = []
    base_id = clip_base_id(item)
    for index, (begin, end) in enumerate(segment_bounds(mono.shape[-1], sample_rate, policy, cut)):
        start = item.start + begin / sample_rate
        level = audio.peak_db(mono[begin:end])
        if level < policy.silence_db:
            where = f" at {start:.1f}s" if cut else ""
            skipped.append(_skip(item, f"silent{where} (peak {level:.1f} dBFS < clips.silence_db {policy.silence_db})"))
            continue
        clips.append(
            Clip(
                id=f"{base_id}#{index:04d}" if cut else base_id,
                path=item.path,
                start=round(start, 6),
                duration=round((end - begin) / sample_rate, 6),
                sample_rate=sample_rate,
                language=item.language,
                domain=item.domain,
                speaker=item.speaker,
                text=(item.text or "").strip() or None,
                source=item.source,
                license=item.license,
                group=item.group or item.path,
                channels=channels,
                labels=item.labels,
            )
        )
    return clips, skipped
