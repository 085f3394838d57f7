"""Google AudioSet: 10-second YouTube segments labelled with the classes of the AudioSet ontology.

AudioSet ships labels, not audio: ``balanced_train_segments.csv``-style files (``#`` comment lines, then
``YTID, start_seconds, end_seconds, "label,label,..."`` with ontology ids) and ``ontology.json`` (a list of
``{id, name, child_ids, ...}``). Users fetch the audio themselves, and download tools name the files
differently, so files are looked up by name with ``patterns`` (file names without extension, Python format
fields ``ytid``, ``start``, ``end``, ``start_ms``, ``end_ms``) tried in order, each with every one of
``extensions``, anywhere under ``audio_dir``.

Segment or whole video: a pattern that uses a time field (``Y{ytid}_{start:.3f}_{end:.3f}``, ``{ytid}_{start}``)
names a file that already holds the segment, which is read whole; a pattern with only ``{ytid}`` names the
audio of the whole video, and the item selects ``start`` .. ``end`` of it. ``{start}`` without a format prints
like the CSV's number without trailing zeros (``30.000`` -> ``30``, ``12.500`` -> ``12.5``).

Filtering: clips carrying a label in ``exclude`` or any of its descendants in the ontology are dropped
(default: Speech, so that a "non-speech" corpus holds no speech; clips where speech is only in the background
are labelled Speech too and go as well). With ``include``, only clips carrying one of those labels or their
descendants are kept; ``exclude`` wins over ``include``. Labels may be given as ontology ids or names.
Dropped clips are a selection, not a defect, and are not reported as skipped.

Domain: ``music`` when a label is Music (``/m/04rlf``) or one of its descendants (instruments, genres...),
else ``environment``. A clip of a dog barking over music is therefore music; a clip whose Speech label was
kept (``exclude: []``) is still ``environment``, because the builder would reject speech without a transcript.
``labels`` holds the class names, in the CSV's order; ``group`` is the YouTube id, so segments of one video
never straddle splits.
"""

from __future__ import annotations

import csv
import json
import math
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from codecstudy.corpus.records import SkippedItem, SourceItem
from codecstudy.corpus.sources import _layout
from codecstudy.corpus.sources.base import DatasetSource, SourceOutput
from codecstudy.errors import CodecStudyError

SPEECH = "/m/09x0r"
MUSIC = "/m/04rlf"
SEGMENT_FIELDS = frozenset({"start", "end", "start_ms", "end_ms"})
PATTERN_FIELDS = SEGMENT_FIELDS | {"ytid"}
DEFAULT_PATTERNS = (
    "Y{ytid}_{start:.3f}_{end:.3f}",
    "{ytid}_{start:.3f}_{end:.3f}",
    "{ytid}_{start}",
    "{ytid}",
)
DEFAULT_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3")


class _Seconds(float):
    """A time in seconds whose plain ``{start}`` drops a zero fraction: download tools write ``_30.wav``."""

    def __format__(self, spec: str) -> str:
        if spec:
            return format(float(self), spec)
        return str(int(self)) if self.is_integer() else repr(float(self))


def _fields_of(pattern: str) -> set[str]:
    names = set()
    for _, field, _, _ in string.Formatter().parse(pattern):
        if field is not None:
            names.add(field.split(".", 1)[0].split("[", 1)[0])
    return names


def _format_values(ytid: str, start: float, end: float) -> dict[str, object]:
    return {
        "ytid": ytid,
        "start": _Seconds(start),
        "end": _Seconds(end),
        "start_ms": int(round(start * 1000)),
        "end_ms": int(round(end * 1000)),
    }


@dataclass(frozen=True)
class Ontology:
    """Class names and the child relation of ``ontology.json`` (a DAG: some classes have several parents)."""

    names: dict[str, str]
    children: dict[str, tuple[str, ...]]

    @classmethod
    def load(cls, kind: str, path: Path) -> "Ontology":
        _layout.require_file(kind, path, "ontology file")
        try:
            entries = json.loads(path.read_text(encoding="utf-8-sig"))
            names = {str(e["id"]): str(e["name"]) for e in entries}
            children = {str(e["id"]): tuple(str(c) for c in e.get("child_ids", ())) for e in entries}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CodecStudyError(
                f"{kind}: {path} is not an AudioSet ontology (a JSON list of {{id, name, child_ids}}): {exc}"
            ) from None
        return cls(names, children)

    def resolve(self, kind: str, label: str, where: Path) -> str:
        """An ontology id from an id or a (case-insensitive) name; unknown labels are errors, not no-ops."""
        if label in self.names:
            return label
        wanted = label.strip().lower()
        for mid, name in self.names.items():
            if name.lower() == wanted:
                return mid
        raise CodecStudyError(f"{kind}: label {label!r} is neither an id nor a class name in {where}")

    def descendants(self, roots: Iterable[str]) -> frozenset[str]:
        """The roots and every class below them."""
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            mid = stack.pop()
            if mid not in seen:
                seen.add(mid)
                stack.extend(self.children.get(mid, ()))
        return frozenset(seen)


class AudioSetSource(DatasetSource):
    """The AudioSet layout with user-downloaded audio; see the module docstring."""

    kind: ClassVar[str] = "audioset"
    summary: ClassVar[str] = "AudioSet: labelled 10 s YouTube segments you downloaded; speech dropped by default"

    segments: list[Path] = Field(
        default_factory=lambda: [Path("balanced_train_segments.csv")],
        description="segment CSV files, relative to root",
    )
    ontology: Path = Field(Path("ontology.json"), description="AudioSet ontology JSON, relative to root")
    audio_dir: Path = Field(Path("."), description="folder searched (recursively) for the audio, relative to root")
    patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PATTERNS),
        description="audio file names without extension, tried in order; fields: ytid, start, end, start_ms, "
        "end_ms; a pattern with a time field names an already cut segment",
    )
    extensions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXTENSIONS), description="audio file extensions to try"
    )
    exclude: list[str] = Field(
        default_factory=lambda: [SPEECH], description="drop clips with these labels or their descendants"
    )
    include: list[str] | None = Field(
        None, description="keep only clips with these labels or their descendants (default: all)"
    )
    license: str = Field(
        "YouTube (various); labels CC-BY-4.0", description="licence recorded on every clip"
    )

    @field_validator("patterns")
    @classmethod
    def _valid_patterns(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one pattern")
        known = ", ".join(sorted(PATTERN_FIELDS))
        for pattern in value:
            try:
                fields = _fields_of(pattern)
            except ValueError as exc:
                raise ValueError(f"pattern {pattern!r}: {exc}") from None
            unknown = fields - PATTERN_FIELDS
            if unknown:
                raise ValueError(f"pattern {pattern!r}: unknown field {', '.join(sorted(unknown))}; known: {known}")
            if "ytid" not in fields:
                raise ValueError(f"pattern {pattern!r} must contain {{ytid}}")
            if "/" in pattern or "\\" in pattern:
                raise ValueError(f"pattern {pattern!r}: a file name, not a path (audio_dir is searched recursively)")
            try:
                pattern.format(**_format_values("abc", 30.0, 40.0))
            except (ValueError, KeyError, IndexError, AttributeError) as exc:
                raise ValueError(f"pattern {pattern!r}: {exc}") from None
        return value

    @field_validator("extensions")
    @classmethod
    def _dotted(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one extension")
        return [ext.lower() if ext.startswith(".") else f".{ext.lower()}" for ext in value]

    def items(self) -> Iterator[SourceOutput]:
        root = self.require_root()
        tables = [_layout.require_file(self.kind, root / table, "segments file") for table in self.segments]
        ontology_path = root / self.ontology
        ontology = Ontology.load(self.kind, ontology_path)
        excluded = ontology.descendants(ontology.resolve(self.kind, x, ontology_path) for x in self.exclude)
        included = (
            None
            if self.include is None
            else ontology.descendants(ontology.resolve(self.kind, x, ontology_path) for x in self.include)
        )
        music = ontology.descendants([MUSIC])
        audio_dir = _layout.require_dir(self.kind, root / self.audio_dir, "audio folder")
        files = self._index(audio_dir)
        plan = [(pattern, bool(_fields_of(pattern) & SEGMENT_FIELDS)) for pattern in self.patterns]
        for table in tables:
            for number, line in _layout.numbered_lines(table):
                if line.lstrip().startswith("#"):
                    continue
                parsed = self._parse(line)
                if isinstance(parsed, str):
                    yield SkippedItem(str(table), self.name, _layout.malformed(table, number, parsed))
                    continue
                ytid, start, end, mids = parsed
                if excluded.intersection(mids) or (included is not None and not included.intersection(mids)):
                    continue
                found = self._find(files, plan, ytid, start, end)
                if isinstance(found, str):
                    yield SkippedItem(_layout.abs_path(audio_dir / found), self.name, _layout.AUDIO_NOT_FOUND)
                    continue
                path, is_segment = found
                item_id = _layout.relative_id(self.kind, audio_dir, path)
                yield SourceItem(
                    path=_layout.abs_path(path),
                    source=self.name,
                    domain="music" if music.intersection(mids) else "environment",
                    license=self.license,
                    group=f"{self.kind}:{ytid}",
                    item_id=item_id if is_segment else f"{item_id}@{start:.3f}",
                    start=0.0 if is_segment else start,
                    duration=None if is_segment else round(end - start, 6),
                    labels=tuple(ontology.names.get(mid, mid) for mid in mids),
                )

    def _index(self, audio_dir: Path) -> dict[str, Path]:
        """File name -> path for every candidate file, built once: a lookup per pattern and extension per row
        would otherwise cost a dozen ``stat`` calls for each of AudioSet's two million rows."""
        index: dict[str, Path] = {}
        for path in _layout.walk_audio(audio_dir, self.extensions):
            index.setdefault(path.name, path)
        return index

    @staticmethod
    def _parse(line: str) -> tuple[str, float, float, tuple[str, ...]] | str:
        """``(ytid, start, end, label ids)``, or what is wrong with the line."""
        fields = next(csv.reader([line], skipinitialspace=True))
        if len(fields) < 4:
            return f"expected YTID, start_seconds, end_seconds, \"labels\"; got {len(fields)} fields"
        ytid = fields[0].strip()
        if not ytid:
            return "empty YTID"
        try:
            start, end = float(fields[1]), float(fields[2])
        except ValueError:
            return f"start/end {fields[1].strip()!r}, {fields[2].strip()!r} are not numbers"
        if not (math.isfinite(end) and 0 <= start < end):
            return f"segment {start}..{end} is empty or negative"
        # Tolerate an unquoted label list, which the csv reader splits into extra fields.
        mids = tuple(label.strip() for label in ",".join(fields[3:]).split(",") if label.strip())
        return ytid, start, end, mids

    def _find(
        self, files: dict[str, Path], plan: list[tuple[str, bool]], ytid: str, start: float, end: float
    ) -> tuple[Path, bool] | str:
        """``(file, whether it is an already cut segment)``, or the first name tried when nothing matches."""
        values = _format_values(ytid, start, end)
        for pattern, is_segment in plan:
            for ext in self.extensions:
                path = files.get(pattern.format(**values) + ext)
                if path is not None:
                    return path, is_segment
        return plan[0][0].format(**values) + self.extensions[0]
