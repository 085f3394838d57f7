"""Seen versus unseen speakers: an evaluation set split per condition by the speakers its training clips share."""

from __future__ import annotations

from codecstudy.corpus.leakage import SEEN_LABEL, speaker_split, speaker_splits, unseen_by_all
from codecstudy.corpus.records import Clip


def clip(name: str, speaker: str | None, split: str = "test") -> Clip:
    return Clip(id=name, path=f"/{name}.wav", start=0.0, duration=2.0, sample_rate=16000, language="en",
                domain="speech", speaker=speaker, text="t", source="src", license="x", split=split)


ENGLISH = [clip("t1", "allison", "train"), clip("t2", "narrator", "train")]
MULTILINGUAL = [*ENGLISH, clip("t3", "kid", "train")]
EN_SET = [clip("e1", "allison"), clip("e2", "kid"), clip("e3", "newcomer"), clip("e4", None), clip("e5", "allison")]


def test_split_per_condition() -> None:
    english = speaker_split(ENGLISH, EN_SET, "english", "en")
    assert (english.seen, english.unseen, english.unknown) == (("e1", "e5"), ("e2", "e3"), ("e4",))
    assert english.seen_share == 0.5 and english.label == "partly seen speakers (50 %)"
    multi = speaker_split(MULTILINGUAL, EN_SET, "multilingual", "en")  # has heard the kid too
    assert multi.seen == ("e1", "e2", "e5") and multi.seen_share == 0.75
    only_seen = speaker_split(ENGLISH, [EN_SET[0], EN_SET[3]], "english", "en")
    assert only_seen.seen_share == 1.0 and only_seen.label == SEEN_LABEL
    clean = speaker_split(ENGLISH, [EN_SET[2]], "english", "en")
    assert clean.seen_share == 0.0 and clean.label is None
    unlabelled = speaker_split(ENGLISH, [EN_SET[3]], "english", "en")
    assert unlabelled.seen_share is None and unlabelled.label is None
    assert english.to_json()["seen"] == ["e1", "e5"] and english.to_json()["label"] == english.label


def test_splits_over_conditions_and_the_part_no_condition_heard() -> None:
    rows = speaker_splits({"english": ENGLISH, "multilingual": MULTILINGUAL}, {"en": EN_SET})
    assert [(r.condition, r.eval_set, len(r.seen)) for r in rows] == [("english", "en", 2), ("multilingual", "en", 3)]
    fresh = unseen_by_all({"english": ENGLISH, "multilingual": MULTILINGUAL}, EN_SET)
    assert [c.id for c in fresh] == ["e3"]
