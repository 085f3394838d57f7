"""The records that flow through a corpus build.

A source yields :class:`SourceItem` (a file or a range of one, with its labels) or :class:`SkippedItem`
(something the layout named but that cannot be used, with the reason). The builder decodes each item,
checks the signal and turns it into one or more :class:`Clip` lines of the manifest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

DOMAINS = ("speech", "music", "environment")
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class SourceItem:
    """One candidate recording as a source's layout describes it.

    ``group`` says which items must share a split when the speaker is unknown (by default the file itself, so
    segments of one music track never straddle train and test). ``start``/``duration`` select a range of the
    file, for layouts such as AudioSet whose segments are ranges of longer files.
    """

    path: str
    source: str
    domain: str
    license: str
    language: str | None = None
    speaker: str | None = None
    text: str | None = None
    group: str | None = None
    item_id: str | None = None
    start: float = 0.0
    duration: float | None = None
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}, got {self.domain!r} for {self.path}")


@dataclass(frozen=True)
class SkippedItem:
    """Something a source could not use, kept so that every rejected file is counted with its reason."""

    path: str
    source: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Clip:
    """One line of ``manifest.jsonl``: a usable stretch of audio with its labels and split."""

    id: str
    path: str
    start: float
    duration: float
    sample_rate: int
    language: str | None
    domain: str
    speaker: str | None
    text: str | None
    source: str
    license: str
    split: str | None = None
    group: str | None = None
    channels: int = 1
    labels: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Clip":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["labels"] = tuple(values.get("labels") or ())
        return cls(**values)

    @property
    def split_group(self) -> str:
        """The unit a split keeps together: the speaker when known, else the source file."""
        if self.speaker:
            return f"speaker:{self.speaker}"
        return f"group:{self.group or self.path}"
