"""Seen and unseen speakers in the tables: labels per group and condition, the split, the notes in paper.md."""

from __future__ import annotations

from codecstudy.evaluate.aggregate import summarize
from codecstudy.study.speakers import (
    SpeakerStatus,
    speaker_labels,
    speaker_markdown,
    speaker_rows,
    split_by_speakers,
)
from codecstudy.study.tables import by_group, paper_cells, paper_markdown

# english trained on speaker A; multilingual on A and B. The en set: A's clips a1 a2, B's b1, C's c1, unlabelled u1.
SPLITS = [
    {"condition": "english", "eval_set": "en", "seen": ["a1", "a2"], "unseen": ["b1", "c1"], "unknown": ["u1"]},
    {"condition": "multilingual", "eval_set": "en", "seen": ["a1", "a2", "b1"], "unseen": ["c1"], "unknown": ["u1"]},
]
CODECS = {"english-soundstream": "english", "multilingual-soundstream": "multilingual"}


def _records(clips: list[str]) -> list[dict]:
    return [{"clip": c, "condition": codec, "set": "en", "n_q": 8, "language": "en", "domain": "speech",
             "metrics": {"stoi": 0.5 + 0.01 * i}, "errors": {}}
            for codec in CODECS for i, c in enumerate(clips)]


def test_labels_per_condition() -> None:
    status = SpeakerStatus(SPLITS, CODECS)
    records = by_group(_records(["a1", "a2", "b1", "c1", "u1"]))
    labels = speaker_labels(records, status)
    assert labels == {("en", "english-soundstream"): "partly seen speakers (50 %)",
                      ("en", "multilingual-soundstream"): "partly seen speakers (75 %)"}
    rows = speaker_rows(records, status, labels)
    assert [(r["clips"], r["clips_unseen_by_all"], r["clips_unlabelled"]) for r in rows] == [(5, 1, 1)] * 2
    assert "No clip" not in speaker_markdown(rows)  # c1 is unseen by every condition
    only_seen = by_group(_records(["a1", "a2", "u1"]))
    labels = speaker_labels(only_seen, status)
    assert labels[("en", "english-soundstream")] == "seen speakers"
    note = speaker_markdown(speaker_rows(only_seen, status, labels))
    assert "en: seen speakers for english-soundstream" in note
    assert "No clip of this group comes from a speaker that no condition trained on (1 clips have no speaker" in note


def test_split_into_seen_and_unseen_groups_per_condition() -> None:
    status = SpeakerStatus(SPLITS, CODECS)
    split = split_by_speakers(by_group(_records(["a1", "b1", "c1", "u1"])), status)
    groups = {(r["condition"], r["clip"]): r["set"] for r in split}
    assert groups[("english-soundstream", "b1")] == "en/unseen"
    assert groups[("multilingual-soundstream", "b1")] == "en/seen"
    assert groups[("english-soundstream", "u1")] == "en/unlabelled"
    baseline = split_by_speakers([{"clip": "b1", "condition": "opus-6kbps", "set": "en"}], status)
    assert baseline[0]["set"] == "en/seen"  # a baseline: seen when any condition trained on the speaker
    labels = speaker_labels(split, status)
    assert labels[("en/seen", "multilingual-soundstream")] == "seen speakers"
    assert ("en/unseen", "english-soundstream") not in labels


def test_the_seen_speaker_label_appears_in_paper_md() -> None:
    status = SpeakerStatus(SPLITS, CODECS)
    records = by_group(_records(["a1", "a2", "u1"]))
    labels = speaker_labels(records, status)
    rows = summarize(records, {"stoi": "higher"}, n_boot=20)
    robust = {(r.set, r.n_q, r.condition, r.metric): {"speakers": labels.get((r.set, r.condition), "")} for r in rows}
    cells = paper_cells(rows, [], 8, robust=robust)
    text = paper_markdown(cells, 8, definition="Frame rule: robust.") + speaker_markdown(
        speaker_rows(records, status, labels))
    assert "| condition | en ‡ |" in text
    assert "Frame rule: robust." in text.splitlines()[0]
    assert "* en: seen speakers for english-soundstream; seen speakers for multilingual-soundstream" in text
