"""Conditions: filters, equal volume across conditions, balanced strata; evaluation sets; leakage."""

from __future__ import annotations

import json

import pytest

from codecstudy.corpus.conditions import (
    ConditionsConfig,
    build_conditions,
    condition_budgets,
    select_condition,
    share_budget,
)
from codecstudy.corpus.leakage import format_leakage, leakage_report
from codecstudy.corpus.records import Clip
from codecstudy.errors import CodecStudyError


def clip(i, language, domain="speech", split="train", duration=10.0, speaker=None, source="src/a", group=None):
    return Clip(id=f"{language}-{domain}-{split}-{i}", path=f"/{language}/{domain}/{i}.wav", start=0.0,
                duration=duration, sample_rate=16000, language=language, domain=domain, speaker=speaker,
                text="t" if domain == "speech" else None, source=source, license="x", split=split,
                group=group or f"/{language}/{domain}/{i}.wav")


@pytest.fixture
def corpus():
    clips = [clip(i, "en", speaker=f"en{i % 3}") for i in range(30)]  # 300 s of English
    clips += [clip(i, "es", speaker=f"es{i}") for i in range(60)]  # 600 s
    clips += [clip(i, "fr", speaker=f"fr{i}") for i in range(6)]  # 60 s: a small language
    clips += [clip(i, None, "music", source="src/music") for i in range(50)]
    clips += [clip(i, None, "environment", source="src/env") for i in range(50)]
    clips += [clip(i, "en", split="test", speaker="en_test") for i in range(5)]
    clips += [clip(i, "ro", split="test") for i in range(5)]
    clips += [clip(i, None, "music", split="test") for i in range(5)]
    return clips


PAPER = {
    "conditions": [
        {"name": "english", "languages": ["en"], "domains": ["speech"]},
        {"name": "multilingual", "languages": ["en", "es", "fr"], "domains": ["speech"]},
        {"name": "multilingual_audio", "languages": ["en", "es", "fr", "none"]},
    ],
    "eval_sets": [
        {"name": "en", "languages": ["en"], "domains": ["speech"]},
        {"name": "unseen", "languages": ["ro"]},
        {"name": "music", "domains": ["music"]},
    ],
}


def hours(clips):
    return sum(c.duration for c in clips)


def test_share_budget_gives_small_strata_all_they_have_and_the_rest_evenly():
    assert share_budget({"a": 100, "b": 100, "c": 10}, 120) == {"c": 10, "a": 55, "b": 55}
    assert share_budget({"a": 100, "b": 100}, 500) == {"a": 100, "b": 100}
    assert share_budget({"a": 30, "b": 30, "c": 30}, 60) == {"a": 20, "b": 20, "c": 20}


def test_volume_matched_conditions_get_the_same_hours(corpus):
    config = ConditionsConfig.model_validate(PAPER)
    budgets = condition_budgets(corpus, config)
    assert set(budgets.values()) == {300.0}  # English has the least: 300 s
    chosen = {s.name: select_condition(corpus, s, budgets[s.name], 0) for s in config.conditions}
    assert {name: hours(c) for name, c in chosen.items()} == {"english": 300, "multilingual": 300,
                                                              "multilingual_audio": 300}
    multi = chosen["multilingual"]
    # balanced by language: fr only has 60 s, en and es share the remaining 240 s
    assert hours([c for c in multi if c.language == "fr"]) == 60
    assert hours([c for c in multi if c.language == "en"]) == 120
    assert hours([c for c in multi if c.language == "es"]) == 120
    audio = chosen["multilingual_audio"]
    assert {c.domain for c in audio} == {"speech", "music", "environment"}
    assert all(c.split == "train" for cs in chosen.values() for c in cs)


def test_without_matching_each_condition_takes_all_it_matches(corpus):
    config = ConditionsConfig.model_validate({**PAPER, "match_volume": False})
    budgets = condition_budgets(corpus, config)
    assert budgets == {"english": None, "multilingual": None, "multilingual_audio": None}
    chosen = select_condition(corpus, config.conditions[2], None, 0)
    assert hours(chosen) == 300 + 600 + 60 + 500 + 500


def test_explicit_hours_and_selection_is_seeded(corpus):
    spec = ConditionsConfig.model_validate(
        {"conditions": [{"name": "es", "languages": ["es"], "hours": 100 / 3600}]}).conditions[0]
    a = select_condition(corpus, spec, 100, seed=0)
    b = select_condition(corpus, spec, 100, seed=0)
    c = select_condition(corpus, spec, 100, seed=1)
    assert hours(a) == 100 and [x.id for x in a] == [x.id for x in b] and [x.id for x in a] != [x.id for x in c]


def test_build_writes_files_stats_and_eval_sets(corpus, tmp_path):
    config = ConditionsConfig.model_validate(PAPER)
    conditions, eval_sets = build_conditions(corpus, config, tmp_path)
    assert {p.name for p in (tmp_path / "conditions").iterdir()} == {
        f"{n}.{ext}" for n in ("english", "multilingual", "multilingual_audio") for ext in ("jsonl", "stats.json")}
    stats = json.loads((tmp_path / "conditions" / "multilingual.stats.json").read_text())
    assert stats["hours_by_language_domain"]["fr"]["speech"] == pytest.approx(60 / 3600, abs=1e-4)
    assert stats["budget_hours"] == pytest.approx(300 / 3600, abs=1e-4)
    assert [c.split for c in eval_sets["en"]] == ["test"] * 5
    assert len(eval_sets["unseen"]) == 5 and len(eval_sets["music"]) == 5


def test_empty_condition_or_eval_set_is_a_clear_error(corpus, tmp_path):
    config = ConditionsConfig.model_validate({"conditions": [{"name": "de", "languages": ["de"]}]})
    with pytest.raises(CodecStudyError, match="condition 'de' matches no clips"):
        build_conditions(corpus, config, tmp_path)
    config = ConditionsConfig.model_validate({**PAPER, "eval_sets": [{"name": "x", "languages": ["zz"]}]})
    with pytest.raises(CodecStudyError, match="eval set 'x' matches no clips"):
        build_conditions(corpus, config, tmp_path)


def test_duplicate_names_and_unknown_keys_are_rejected():
    with pytest.raises(ValueError, match="repeated: a"):
        ConditionsConfig.model_validate({"conditions": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ValueError, match="Extra inputs"):
        ConditionsConfig.model_validate({"conditions": [{"name": "a", "langauges": ["en"]}]})


def test_leakage_counts_shared_speakers_files_and_clips(corpus):
    train = [clip(1, "en", speaker="alice"), clip(2, "en", speaker="bob", group="/shared.ogg")]
    evaluation = [clip(3, "en", split="test", speaker="alice"), clip(4, "en", split="test", group="/shared.ogg"),
                  train[0]]
    clean = [clip(9, "ro", split="test", speaker="zoe")]
    rows = leakage_report({"english": train}, {"en": evaluation, "ro": clean})
    leak, ok = rows
    assert (leak.shared_clips, leak.shared_speakers, leak.shared_groups) == (1, 1, 2)
    assert leak.example_speakers == ("alice",) and not leak.clean
    assert ok.clean
    text = format_leakage(rows)
    assert "LEAK alice" in text and text.splitlines()[-1].endswith("ok")
