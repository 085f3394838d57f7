"""Seen and unseen speakers in the tables: which eval-set clips come from a speaker a condition trained on.

An evaluation set that shares speakers with a condition's training clips measures, for that condition, how well it
reproduces voices it has heard, not how it generalises. The conditions stage writes each condition x set's split
(``corpus/speakers.json``, :func:`codecstudy.corpus.leakage.speaker_splits`); from it the tables

* label every group (a set, or a set's language) per condition: ``seen speakers`` when every clip with a speaker
  label is from a trained speaker, ``partly seen speakers (N %)`` when some are (the share of labelled clips);
  the label goes into ``groups.csv`` / ``paper.csv`` (column ``speakers``), a ``‡`` on the column and the cell in
  ``paper.md`` and the report, and a note under the tables;
* say when no clip of a labelled group comes from a speaker that no condition trained on (the demo's ``en``);
* with ``evaluate.split_seen_speakers: true``, split such a group into ``<group>/seen``, ``<group>/unseen`` (and
  ``<group>/unlabelled`` for clips without a speaker label), per condition, by relabelling the records as
  :func:`codecstudy.study.tables.by_group` does for languages.

Baselines trained on none of the study's clips; their records are split by whether *any* condition trained on the
speaker, so that they sit beside the conditions in the same parts. Everything but :func:`load_speaker_splits` is a
pure function of the records and the splits.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from codecstudy.corpus.leakage import PARTLY_SEEN_LABEL, SEEN_LABEL, SpeakerSplit, speaker_splits
from codecstudy.corpus.manifest import load_manifest
from codecstudy.files import read_json_or_none
from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import StudySpec

MARK = "‡"
__all__ = ["MARK", "PARTLY_SEEN_LABEL", "SEEN_LABEL", "SpeakerStatus", "load_speaker_splits", "seen_groups",
           "speaker_labels", "speaker_markdown", "speaker_notes", "speaker_rows", "split_by_speakers"]
SEEN, UNSEEN, UNLABELLED = "seen", "unseen", "unlabelled"


def load_speaker_splits(spec: StudySpec, layout: RunLayout) -> list[dict[str, Any]]:
    """``corpus/speakers.json``; for a run whose conditions were drawn before that file existed, the same split
    computed from the condition and eval-set manifests (conditions with a given codec draw no clips: none)."""
    data = read_json_or_none(layout.speakers_json)
    if isinstance(data, list):
        return data
    conditions = {c: load_manifest(layout.condition_manifest(c)) for c in spec.condition_names
                  if c not in spec.checkpoints and layout.condition_manifest(c).is_file()}
    sets = {s: load_manifest(layout.eval_manifest(s)) for s in spec.eval_set_names if layout.eval_manifest(s).is_file()}
    return [split.to_json() for split in speaker_splits(conditions, sets)]


class SpeakerStatus:
    """Per codec and clip: seen, unseen or unlabelled. A baseline (no condition) is judged by every condition's
    training clips together; a given codec (``checkpoints:``, training clips unknown) gets None."""

    def __init__(self, splits: list[dict[str, Any]], condition_of: dict[str, str]) -> None:
        self.condition_of = condition_of
        self.by_condition: dict[str, dict[str, str]] = defaultdict(dict)
        self.any_seen: dict[str, str] = {}
        for split in splits:
            mine = self.by_condition[str(split["condition"])]
            for status, key in ((SEEN, "seen"), (UNSEEN, "unseen"), (UNLABELLED, "unknown")):
                for clip in split.get(key) or []:
                    mine[clip] = status
                    if self.any_seen.get(clip) != SEEN:
                        self.any_seen[clip] = status

    def of(self, record: dict[str, Any]) -> str | None:
        """The record's clip as its codec's condition saw it (a baseline: as any condition saw it)."""
        clip = str(record.get("clip"))
        condition = self.condition_of.get(str(record.get("condition")))
        if condition is not None:  # a codec of this study (imported ones: training clips unknown, None)
            return self.by_condition.get(condition, {}).get(clip)
        return self.any_seen.get(clip)

    def ever_seen(self, clip: str) -> bool:
        return self.any_seen.get(clip) == SEEN


def seen_groups(grouped: list[dict[str, Any]], status: SpeakerStatus) -> set[str]:
    """Groups with at least one clip whose speaker some condition trained on."""
    return {str(r.get("set")) for r in grouped if status.ever_seen(str(r.get("clip")))}


def split_by_speakers(grouped: list[dict[str, Any]], status: SpeakerStatus) -> list[dict[str, Any]]:
    """Records of the groups some condition has seen speakers of, relabelled ``<group>/seen|unseen|unlabelled``
    by what their own codec's condition trained on; other records unchanged."""
    split = seen_groups(grouped, status)
    out = []
    for record in grouped:
        group = str(record.get("set"))
        state = status.of(record) if group in split else None
        out.append({**record, "set": f"{group}/{state}"} if state else record)
    return out


def speaker_labels(grouped: list[dict[str, Any]], status: SpeakerStatus) -> dict[tuple[str, str], str]:
    """``(group, condition) -> label`` (``seen speakers``, ``partly seen speakers (N %)``) over the distinct clips of
    each group and condition; groups whose clips this condition never heard get no entry, nor do baselines (they
    trained on none of the study's clips)."""
    parts: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: {SEEN: set(), UNSEEN: set(),
                                                                             UNLABELLED: set()})
    for record in grouped:
        state = status.of(record) if str(record.get("condition")) in status.condition_of else None
        if state:  # a baseline heard none of the study's speakers: never labelled
            parts[(str(record.get("set")), str(record.get("condition")))][state].add(str(record.get("clip")))
    labels = {}
    for (group, condition), clips in parts.items():
        label = SpeakerSplit(condition, group, tuple(clips[SEEN]), tuple(clips[UNSEEN]), tuple(clips[UNLABELLED])).label
        if label:
            labels[(group, condition)] = label
    return labels


def speaker_rows(grouped: list[dict[str, Any]], status: SpeakerStatus,
                 labels: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    """``speakers.csv``: per labelled group x condition its label, and per group how many of its clips come from a
    speaker that no condition trained on (``clips_unseen_by_all``) and how many have no speaker label."""
    clips: dict[str, set[str]] = defaultdict(set)
    for record in grouped:
        clips[str(record.get("set"))].add(str(record.get("clip")))
    rows = []
    for (group, condition), label in sorted(labels.items()):
        states = [status.any_seen.get(c) for c in clips[group]]
        rows.append({"group": group, "condition": condition, "speakers": label, "clips": len(states),
                     "clips_unseen_by_all": sum(1 for s in states if s == UNSEEN),
                     "clips_unlabelled": sum(1 for s in states if s in (UNLABELLED, None))})
    return rows


def speaker_notes(rows: list[dict[str, Any]]) -> list[str]:
    """One line per labelled group (plain text; :func:`speaker_rows` rows, CSV strings or numbers): its label per
    condition and, when no clip of it is from a speaker no condition trained on, that it measures heard voices."""
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_group[str(row["group"])].append(row)
    lines = []
    for group, mine in by_group.items():
        by_label: dict[str, list[str]] = defaultdict(list)
        for r in mine:
            by_label[str(r["speakers"])].append(str(r["condition"]))
        line = f"{group}: " + "; ".join(f"{label} for {', '.join(names)}" for label, names in by_label.items())
        if int(mine[0]["clips_unseen_by_all"]) == 0:
            unlabelled = int(mine[0]["clips_unlabelled"])
            line += (". No clip of this group comes from a speaker that no condition trained on"
                     + (f" ({unlabelled} clips have no speaker label)" if unlabelled else "")
                     + ": it measures voices the codecs have heard, not generalisation to new speakers")
        lines.append(line)
    return lines


def speaker_markdown(rows: list[dict[str, Any]]) -> str:
    """The ``‡`` note under ``paper.md``'s tables."""
    lines = speaker_notes(rows)
    if not lines:
        return ""
    return (f"\n{MARK} = the column's clips share speakers with a condition's training data (`corpus/speakers.json`, "
            "`tables/speakers.csv`; `evaluate.split_seen_speakers: true` splits them):\n\n"
            + "\n".join(f"* {line}" for line in lines) + "\n")
