"""Leakage between what a codec trained on and what it is tested on.

"Unseen" results are only unseen if no test speaker, and no other piece of a test recording, was in the
training data. This module counts, for every condition x evaluation set, the shared clips, speakers and
source files (groups), so the report can warn instead of silently flattering a codec.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from codecstudy.corpus.records import Clip


@dataclass(frozen=True)
class LeakageRow:
    condition: str
    eval_set: str
    shared_clips: int
    shared_speakers: int
    shared_groups: int
    example_speakers: tuple[str, ...]
    example_groups: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not (self.shared_clips or self.shared_speakers or self.shared_groups)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["clean"] = self.clean
        return data


def leakage(train: list[Clip], evaluation: list[Clip], condition: str, eval_set: str, examples: int = 3) -> LeakageRow:
    """Overlap of one condition's training clips with one evaluation set."""
    speakers = {c.speaker for c in train if c.speaker} & {c.speaker for c in evaluation if c.speaker}
    groups = {c.group or c.path for c in train} & {c.group or c.path for c in evaluation}
    ids = {c.id for c in train} & {c.id for c in evaluation}
    return LeakageRow(
        condition=condition,
        eval_set=eval_set,
        shared_clips=len(ids),
        shared_speakers=len(speakers),
        shared_groups=len(groups),
        example_speakers=tuple(sorted(speakers)[:examples]),
        example_groups=tuple(sorted(groups)[:examples]),
    )


def leakage_report(conditions: dict[str, list[Clip]], eval_sets: dict[str, list[Clip]]) -> list[LeakageRow]:
    return [
        leakage(train, evaluation, condition, eval_set)
        for condition, train in conditions.items()
        for eval_set, evaluation in eval_sets.items()
    ]


def format_leakage(rows: list[LeakageRow]) -> str:
    """A plain-text table; rows with any overlap are marked so they stand out in a terminal."""
    if not rows:
        return "no evaluation sets: nothing to check for leakage"
    header = f"{'condition':<22}{'eval set':<22}{'clips':>7}{'speakers':>10}{'files':>8}  status"
    lines = [header, "-" * len(header)]
    for row in rows:
        status = "ok" if row.clean else "LEAK " + ", ".join(row.example_speakers or row.example_groups)
        lines.append(
            f"{row.condition:<22}{row.eval_set:<22}{row.shared_clips:>7}{row.shared_speakers:>10}"
            f"{row.shared_groups:>8}  {status}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- seen / unseen speakers
SEEN_LABEL = "seen speakers"
PARTLY_SEEN_LABEL = "partly seen speakers"


@dataclass(frozen=True)
class SpeakerSplit:
    """One evaluation set seen through one condition's training data: which of its clips come from a speaker that
    condition trained on (``seen``), which from a speaker it never heard (``unseen``), and which carry no speaker
    label (``unknown``: neither, since nothing can be said about them). Clip ids, in the set's order."""

    condition: str
    eval_set: str
    seen: tuple[str, ...]
    unseen: tuple[str, ...]
    unknown: tuple[str, ...]

    @property
    def seen_share(self) -> float | None:
        """Seen clips / clips with a speaker label (None when no clip has one)."""
        labelled = len(self.seen) + len(self.unseen)
        return len(self.seen) / labelled if labelled else None

    @property
    def label(self) -> str | None:
        """What a table shows next to the set for this condition: ``seen speakers`` when every labelled clip's
        speaker was trained on, ``partly seen speakers (N %)`` when some were, None when none was."""
        share = self.seen_share
        if not share:
            return None
        return SEEN_LABEL if share == 1.0 else f"{PARTLY_SEEN_LABEL} ({100 * share:.0f} %)"

    def to_json(self) -> dict[str, object]:
        return {
            "condition": self.condition,
            "eval_set": self.eval_set,
            "seen": list(self.seen),
            "unseen": list(self.unseen),
            "unknown": list(self.unknown),
            "seen_share": self.seen_share,
            "label": self.label,
        }


def speaker_split(train: list[Clip], evaluation: list[Clip], condition: str, eval_set: str) -> SpeakerSplit:
    """Split one evaluation set by whether the condition's training clips share each clip's speaker.

    A speaker is "seen" by speaker label only: the same person under two labels (two corpora) is not detected.
    """
    trained = {c.speaker for c in train if c.speaker}
    seen = tuple(c.id for c in evaluation if c.speaker and c.speaker in trained)
    unseen = tuple(c.id for c in evaluation if c.speaker and c.speaker not in trained)
    unknown = tuple(c.id for c in evaluation if not c.speaker)
    return SpeakerSplit(condition, eval_set, seen, unseen, unknown)


def speaker_splits(conditions: dict[str, list[Clip]], eval_sets: dict[str, list[Clip]]) -> list[SpeakerSplit]:
    """Every condition x evaluation set, in the order of the two mappings."""
    return [
        speaker_split(train, evaluation, condition, eval_set)
        for condition, train in conditions.items()
        for eval_set, evaluation in eval_sets.items()
    ]


def unseen_by_all(conditions: dict[str, list[Clip]], evaluation: list[Clip]) -> list[Clip]:
    """The clips of ``evaluation`` whose speaker no condition trained on: the part of a set that measures
    generalisation to new speakers for every condition at once (clips without a speaker label are left out)."""
    trained = {c.speaker for train in conditions.values() for c in train if c.speaker}
    return [c for c in evaluation if c.speaker and c.speaker not in trained]
