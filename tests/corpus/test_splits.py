"""Splits are disjoint by speaker (or source file), seeded, stratified, and near their target fractions."""

from __future__ import annotations

from collections import defaultdict

import pytest

from codecstudy.corpus.records import Clip
from codecstudy.corpus.splits import SplitConfig, assign_splits


def make_clips(n_speakers=20, per_speaker=5, language="en", unknown_files=0):
    clips = []
    for s in range(n_speakers):
        for k in range(per_speaker):
            clips.append(
                Clip(
                    id=f"{language}/{s}/{k}",
                    path=f"/{language}/{s}/{k}.wav",
                    start=0.0,
                    duration=2.0 + s % 3,
                    sample_rate=16000,
                    language=language,
                    domain="speech",
                    speaker=f"spk{s}",
                    text="x",
                    source="t",
                    license="x",
                    group=f"/{language}/{s}/{k}.wav",
                )
            )
    for f in range(unknown_files):
        for seg in range(3):  # three segments of one music file
            clips.append(
                Clip(
                    id=f"m/{f}#{seg}",
                    path=f"/music/{f}.ogg",
                    start=10.0 * seg,
                    duration=10.0,
                    sample_rate=44100,
                    language=None,
                    domain="music",
                    speaker=None,
                    text=None,
                    source="t",
                    license="x",
                    group=f"/music/{f}.ogg",
                )
            )
    return clips


def test_speakers_and_files_never_straddle_splits():
    clips = assign_splits(make_clips(unknown_files=12), SplitConfig(valid=0.1, test=0.2, seed=3))
    where = defaultdict(set)
    for clip in clips:
        where[clip.split_group].add(clip.split)
    assert all(len(splits) == 1 for splits in where.values())
    music = [c for c in clips if c.domain == "music"]
    assert {c.split for c in music} == {"train", "valid", "test"}


def test_fractions_are_close_to_targets_by_duration():
    clips = assign_splits(make_clips(n_speakers=40), SplitConfig(valid=0.1, test=0.2))
    total = sum(c.duration for c in clips)
    share = {s: sum(c.duration for c in clips if c.split == s) / total for s in ("train", "valid", "test")}
    assert share["train"] == pytest.approx(0.7, abs=0.05)
    assert share["valid"] == pytest.approx(0.1, abs=0.05)
    assert share["test"] == pytest.approx(0.2, abs=0.05)


def test_seed_decides_and_is_deterministic():
    clips = make_clips()
    a = assign_splits(clips, SplitConfig(seed=1))
    b = assign_splits(clips, SplitConfig(seed=1))
    c = assign_splits(clips, SplitConfig(seed=2))
    assert [x.split for x in a] == [x.split for x in b]
    assert [x.split for x in a] != [x.split for x in c]


def test_a_speaker_in_two_languages_keeps_one_split():
    en = make_clips(n_speakers=6, language="en")
    es = make_clips(n_speakers=6, language="es")  # same speaker names: the same people
    clips = assign_splits(en + es, SplitConfig(valid=0.2, test=0.2))
    for speaker in {c.speaker for c in clips}:
        assert len({c.split for c in clips if c.speaker == speaker}) == 1


def test_single_dominant_speaker_goes_to_train():
    clips = make_clips(n_speakers=1, per_speaker=30)
    result = assign_splits(clips, SplitConfig())
    assert {c.split for c in result} == {"train"}


def test_invalid_fractions_are_rejected():
    with pytest.raises(ValueError, match="below 1"):
        SplitConfig(valid=0.5, test=0.5)


def test_min_speakers_splits_few_speaker_strata_by_file():
    one_speaker = make_clips(n_speakers=1, per_speaker=40, language="en")
    many = make_clips(n_speakers=20, per_speaker=2, language="es")
    strict = assign_splits(one_speaker + many, SplitConfig())
    assert {c.split for c in strict if c.language == "en"} == {"train"}
    relaxed = assign_splits(one_speaker + many, SplitConfig(min_speakers=3))
    assert {c.split for c in relaxed if c.language == "en"} == {"train", "valid", "test"}
    # the stratum with enough speakers stays speaker-disjoint
    for speaker in {c.speaker for c in relaxed if c.language == "es"}:
        assert len({c.split for c in relaxed if c.speaker == speaker and c.language == "es"}) == 1
    en = [c for c in relaxed if c.language == "en"]
    test_share = sum(c.duration for c in en if c.split == "test") / sum(c.duration for c in en)
    assert 0.05 < test_share < 0.15
