"""ESC-50: 2,000 five-second environmental recordings in 50 classes (dogs, rain, sirens...), from Freesound.

Layout: ``meta/esc50.csv`` (``filename,fold,target,category,esc10,src_file,take``) and ``audio/<filename>``.
Several clips (takes ``A``, ``B``...) are often cut from one Freesound recording (``src_file``); they share a
group, so that no recording has one take in training and another in test. Items follow the CSV order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Literal

from pydantic import Field

from codecstudy.corpus.records import SkippedItem, SourceItem
from codecstudy.corpus.sources import _layout
from codecstudy.corpus.sources.base import DatasetSource, SourceOutput

COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
FOLDS = (1, 2, 3, 4, 5)


class ESC50Source(DatasetSource):
    """The ESC-50 layout; see the module docstring."""

    kind: ClassVar[str] = "esc50"
    summary: ClassVar[str] = "ESC-50: 2,000 environmental sound clips in 50 classes (meta/esc50.csv + audio/)"

    folds: list[Literal[1, 2, 3, 4, 5]] = Field(
        default_factory=lambda: list(FOLDS), description="ESC-50 folds (1-5) to read; default: all"
    )
    esc10_only: bool = Field(False, description="read only the ESC-10 subset (10 classes, 400 clips)")
    license: str = Field("CC-BY-NC-3.0", description="licence recorded on every clip")

    def items(self) -> Iterator[SourceOutput]:
        root = self.require_root()
        table = _layout.require_file(self.kind, root / "meta" / "esc50.csv", "metadata file")
        wanted = set(self.folds)
        for number, row in _layout.delimited_rows(table, ",", COLUMNS, self.kind):
            problem = self._problem(row)
            if problem is not None or row is None:
                yield SkippedItem(str(table), self.name, _layout.malformed(table, number, str(problem)))
                continue
            if int(row["fold"]) not in wanted or (self.esc10_only and row["esc10"].strip().lower() != "true"):
                continue
            audio = root / "audio" / row["filename"].strip()
            if not audio.is_file():
                yield SkippedItem(_layout.abs_path(audio), self.name, _layout.AUDIO_NOT_FOUND)
                continue
            yield SourceItem(
                path=_layout.abs_path(audio),
                source=self.name,
                domain="environment",
                license=self.license,
                group=f"{self.kind}:{row['src_file'].strip()}",
                item_id=_layout.relative_id(self.kind, root, audio),
                labels=(row["category"].strip(),),
            )

    @staticmethod
    def _problem(row: dict[str, str] | None) -> str | None:
        """What makes a row unusable, or None."""
        if row is None:
            return "wrong number of fields"
        for column in ("filename", "category", "src_file"):
            if not row[column].strip():
                return f"empty {column}"
        if not row["fold"].strip().isdigit():
            return f"fold {row['fold']!r} is not a number"
        return None
