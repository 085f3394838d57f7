"""Seen and unseen speakers in the tables: labels per group and condition, the split, the notes in paper.md."""

from __future__ import annotations

import csv
import json

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
    labels = speaker_labels(split + baseline, status)
    assert labels[("en/seen", "multilingual-soundstream")] == "seen speakers"
    assert ("en/seen", "opus-6kbps") not in labels
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
    assert "* en: seen speakers for english-soundstream, multilingual-soundstream" in text


def test_a_set_of_trained_speakers_is_labelled_in_paper_md_and_the_report(run_copy) -> None:
    """The tiny run's condition trained on every speaker of `en` (planted in speakers.json): paper.md and the
    report label the `en` column, say that no clip of it is from a new speaker, and the split puts the clips in
    en/seen."""
    from codecstudy.jsonl import read_jsonl
    from codecstudy.study.layout import RunLayout
    from codecstudy.study.report.build import build_report
    from codecstudy.study.spec import load_study
    from codecstudy.study.tables import write_study_tables

    study, run = run_copy
    layout = RunLayout(run)
    clips = [r["id"] for r in read_jsonl(layout.eval_manifest("en"))]
    splits = [s for s in json.loads(layout.speakers_json.read_text()) if s["eval_set"] != "en"]
    splits.append({"condition": "english", "eval_set": "en", "seen": clips, "unseen": [], "unknown": []})
    splits.append({"condition": "multilingual_audio", "eval_set": "en", "seen": clips[:1], "unseen": [],
                   "unknown": clips[1:]})
    layout.speakers_json.write_text(json.dumps(splits))
    spec = load_study(study)
    write_study_tables(spec, layout)
    paper = (layout.tables / "paper.md").read_text()
    assert "| condition | en ‡ |" in paper or "| en ‡ |" in paper
    assert ("* en: seen speakers for english-soundstream, multilingual_audio-soundstream. No clip of "
            "this group comes from a speaker that no condition trained on") in paper
    cells = [r for r in csv.DictReader((layout.tables / "paper.csv").open()) if r["group"] == "en"]
    assert cells and all(r["speakers"] == "seen speakers" for r in cells)
    build_report(spec, layout, audio=False)
    page = layout.report_file.read_text()
    assert "‡ seen speakers</span>" in page and "it measures voices the codecs have heard" in page

    split = load_study(study, ["evaluate.split_seen_speakers=true"])
    write_study_tables(split, layout)
    groups = {r["set"] for r in csv.DictReader((layout.tables / "groups.csv").open())}
    assert {"en/seen", "en/unlabelled"} <= groups and "en" not in groups
