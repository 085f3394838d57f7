"""Trials: stratified over language/domain, seeded, hashed."""

from __future__ import annotations

import json
from collections import Counter

from codecstudy.listen.trials import draw_trials, stratum, trials_hash


def _clips() -> dict[str, list[dict]]:
    speech = [{"id": f"{lang}/{i}", "language": lang, "domain": "speech", "duration": 3.0}
              for lang in ("en", "de", "fr") for i in range(10)]
    music = [{"id": f"m/{i}", "language": None, "domain": "music", "duration": 3.0} for i in range(10)]
    short = [{"id": "m/short", "language": None, "domain": "music", "duration": 0.3}]
    return {"en": speech[:10], "other": speech[10:], "music": music + short, "again": speech[:3]}


def test_stratified_seeded_and_unique() -> None:
    trials = draw_trials(_clips(), 10, seed=3, min_seconds=1.0)
    assert [t.id for t in trials] == [f"t{i:02d}" for i in range(1, 11)]
    counts = Counter(t.group for t in trials)
    assert set(counts) == {"speech/en", "speech/de", "speech/fr", "music"}
    assert max(counts.values()) - min(counts.values()) <= 1  # 10 over 4 strata: 3, 3, 2, 2
    assert len({t.clip for t in trials}) == 10 and "m/short" not in {t.clip for t in trials}
    assert {t.set for t in trials if t.group == "speech/en"} == {"en"}  # first set listing a clip wins
    again = draw_trials(_clips(), 10, seed=3, min_seconds=1.0)
    assert [t.clip for t in again] == [t.clip for t in trials]
    other = draw_trials(_clips(), 10, seed=4, min_seconds=1.0)
    assert [t.clip for t in other] != [t.clip for t in trials]


def test_fewer_clips_than_trials_gives_every_clip_once() -> None:
    clips = {"s": [{"id": "a", "domain": "speech", "language": "en"}, {"id": "b", "domain": "music"}]}
    assert sorted(t.clip for t in draw_trials(clips, 5, seed=0)) == ["a", "b"]


def test_stratum_and_hash() -> None:
    assert stratum({"domain": "speech", "language": "ro"}) == "speech/ro"
    assert stratum({"domain": "environment", "language": "en"}) == "environment"
    trials = [t.public() for t in draw_trials(_clips(), 4, seed=0)]
    h = trials_hash(trials)
    assert len(h) == 64 and trials_hash([dict(t) for t in trials]) == h
    # what the page exports back (JSON through JavaScript: 3.0 -> 3) hashes the same
    assert trials_hash(json.loads(json.dumps(trials).replace("3.0", "3"))) == h
    trials[0]["clip"] = "en/9x"
    assert trials_hash(trials) != h
