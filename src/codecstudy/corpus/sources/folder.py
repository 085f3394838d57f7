"""Any folder of audio files, for recordings that follow no known dataset layout.

Every audio file under ``root`` (recursively; hidden files and folders left out) becomes an item labelled with
the source's defaults (``domain``, ``language``, ``license``). An optional ``metadata`` CSV (TSV when it ends
in ``.tsv``) overrides them per file: a ``path`` (or ``file``) column relative to ``root``, and any of
``language``, ``domain``, ``speaker``, ``text``, ``license``, ``group``; an empty cell means the default.
Files the CSV does not list keep the defaults, or are left out with ``only_listed``; a file whose line is
unusable (an unknown domain) is left out. A listed file is used whatever its extension, since listing it says
it is audio; when a file is listed twice, the first line counts.

Speech without a transcript is passed on, not skipped: whether it is usable is the builder's
``clips.require_text`` to decide (a codec needs no text). Item ids are ``folder/<root name>/<path>``: the root's
name keeps two folder sources from producing the same ids. Items come in sorted path order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from codecstudy.corpus.records import DOMAINS, SkippedItem, SourceItem
from codecstudy.corpus.sources import _layout
from codecstudy.corpus.sources.base import DatasetSource, SourceOutput

PATH_COLUMNS = ("path", "file")


@dataclass(frozen=True)
class _Row:
    """The non-empty cells of one metadata line."""

    line: int
    cells: dict[str, str]


class FolderSource(DatasetSource):
    """A folder of audio plus an optional metadata CSV; see the module docstring."""

    kind: ClassVar[str] = "folder"
    summary: ClassVar[str] = "any folder of audio files, optionally with a metadata CSV (path, language, domain...)"

    domain: Literal["speech", "music", "environment"] = Field(
        "environment", description="domain of files the metadata does not label"
    )
    language: str | None = Field(None, description="language of files the metadata does not label")
    license: str = Field("unknown", description="licence of files the metadata does not label")
    metadata: Path | None = Field(
        None,
        description="CSV (or .tsv) relative to root with a path or file column and optional language, domain, "
        "speaker, text, license, group columns",
    )
    only_listed: bool = Field(False, description="leave out audio files the metadata does not list")

    def items(self) -> Iterator[SourceOutput]:
        root = self.require_root()
        listed: dict[str, _Row] = {}
        rejected: set[str] = set()
        if self.metadata is not None:
            yield from self._read_metadata(root, root / self.metadata, listed, rejected)
        found = set() if self.only_listed else {_layout.abs_path(p) for p in _layout.walk_audio(root)}
        # Listed files come from the CSV, whatever their suffix; the walk adds the rest, except files whose
        # metadata line was rejected: given the defaults, they would be mislabelled rather than left out.
        paths = sorted((found - rejected) | set(listed))
        id_base = Path(_layout.abs_path(root)).parent
        for path in paths:
            cells = listed[path].cells if path in listed else {}
            speaker = cells.get("speaker")
            group = cells.get("group")
            yield SourceItem(
                path=path,
                source=self.name,
                domain=cells.get("domain", self.domain),
                license=cells.get("license", self.license),
                language=cells.get("language", self.language),
                speaker=_layout.speaker_id(self.kind, speaker) if speaker else None,
                text=cells.get("text"),
                group=f"{self.kind}:{group}" if group else None,
                item_id=_layout.relative_id(self.kind, id_base, Path(path)),
            )

    def _read_metadata(
        self, root: Path, table: Path, listed: dict[str, _Row], rejected: set[str]
    ) -> Iterator[SourceOutput]:
        """Fill ``listed`` (absolute path -> row) and ``rejected`` (files of unusable rows); yield the skips."""
        _layout.require_file(self.kind, table, "metadata file")
        delimiter = "\t" if table.suffix.lower() == ".tsv" else ","
        for number, row in _layout.delimited_rows(table, delimiter, [PATH_COLUMNS], self.kind):
            if row is None:
                yield SkippedItem(str(table), self.name, _layout.malformed(table, number, "wrong number of fields"))
                continue
            cells = {key: value.strip() for key, value in row.items() if value.strip()}
            name = cells.get("path") or cells.get("file")
            if not name:
                yield SkippedItem(str(table), self.name, _layout.malformed(table, number, "empty path"))
                continue
            path = _layout.abs_path(root / name)
            if "domain" in cells and cells["domain"] not in DOMAINS:
                detail = f"domain {cells['domain']!r} is not one of {', '.join(DOMAINS)}"
                yield SkippedItem(str(table), self.name, _layout.malformed(table, number, detail))
                rejected.add(path)
                continue
            if not Path(path).is_file():
                yield SkippedItem(path, self.name, f"listed in {table.name} but not found")
                continue
            if path in listed:
                detail = f"{name} is already listed on line {listed[path].line}"
                yield SkippedItem(str(table), self.name, _layout.malformed(table, number, detail))
                continue
            listed[path] = _Row(number, cells)
