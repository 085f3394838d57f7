"""Seeded train/valid/test splits that never share a speaker (or a source file, when the speaker is unknown).

Held-out numbers only mean something if the codec never heard the test speaker or a neighbouring segment of
the test recording. Splits are therefore assigned per *group* (see :attr:`Clip.split_group`), stratified by
language x domain so every language and domain gets its share of each split where its groups allow.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace

from pydantic import BaseModel, ConfigDict, Field, model_validator

from codecstudy.corpus.records import SPLITS, Clip


class SplitConfig(BaseModel):
    """Fractions of each language x domain stratum, by duration, for the held-out splits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    valid: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    seed: int = 0
    min_speakers: int = Field(
        0,
        ge=0,
        description=(
            "strata (language x domain) with fewer known speakers than this are split by source file instead of "
            "by speaker, so a single-speaker language still gets held-out clips; the leakage check then reports "
            "the shared speaker. 0 keeps every split speaker-disjoint."
        ),
    )

    @model_validator(mode="after")
    def _leave_room_for_train(self) -> "SplitConfig":
        if self.valid + self.test >= 1:
            raise ValueError("splits.valid + splits.test must be below 1, to leave clips for training")
        return self

    @property
    def fractions(self) -> dict[str, float]:
        return {"train": 1.0 - self.valid - self.test, "valid": self.valid, "test": self.test}


def stratum(clip: Clip) -> tuple[str, str]:
    return (clip.language or "-", clip.domain)


def assign_splits(clips: list[Clip], config: SplitConfig) -> list[Clip]:
    """Return the clips with ``split`` set; a group keeps one split across every stratum it appears in.

    Within a stratum, groups are taken largest first (ties in a seeded random order) and each goes to the
    split furthest below its target duration. Large single-speaker groups therefore land in train, and the
    held-out splits are filled from the smaller groups. A group already placed by an earlier stratum (a
    speaker recorded in two languages) stays where it is, so speaker-disjointness holds corpus-wide.
    Strata with fewer than ``min_speakers`` known speakers are grouped by source file instead.
    """
    fractions = config.fractions
    speakers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for clip in clips:
        if clip.speaker:
            speakers[stratum(clip)].add(clip.speaker)
    by_file = {key for key, names in speakers.items() if len(names) < config.min_speakers}

    def group_of(clip: Clip) -> str:
        return f"group:{clip.group or clip.path}" if stratum(clip) in by_file else clip.split_group

    by_stratum: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for clip in clips:
        by_stratum[stratum(clip)][group_of(clip)] += clip.duration
    placed: dict[str, str] = {}
    for key in sorted(by_stratum):
        groups = by_stratum[key]
        total = sum(groups.values())
        filled = dict.fromkeys(SPLITS, 0.0)
        order = sorted(groups)
        random.Random(f"{config.seed}:{key[0]}:{key[1]}").shuffle(order)
        rank = {group: i for i, group in enumerate(order)}
        for group in sorted(groups, key=lambda g: (-groups[g], rank[g])):
            if group not in placed:
                placed[group] = max(SPLITS, key=lambda s: (fractions[s] * total - filled[s], fractions[s]))
            filled[placed[group]] += groups[group]
    return [replace(clip, split=placed[group_of(clip)]) for clip in clips]
