"""The contract every corpus source fulfils.

A source is a typed config (pydantic) that knows its layout: :meth:`Source.items` walks it and yields
:class:`SourceItem` or :class:`SkippedItem`. Sources never decode audio: the builder does that once, in one
place, so that every source gets the same checks (corrupt, silent, NaN, too short...).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from codecstudy.corpus.records import SkippedItem, SourceItem

SourceOutput = SourceItem | SkippedItem


class Source(BaseModel):
    """Base class: subclasses set ``kind`` (the name used in configs and ``--source``) and ``items``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str]
    summary: ClassVar[str] = ""

    def items(self) -> Iterator[SourceOutput]:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self) -> None:
        """Fail fast, before any scanning, on what makes the whole source unusable (a missing root)."""

    @property
    def name(self) -> str:
        return self.kind


class DatasetSource(Source):
    """A dataset the user has on disk under ``root``."""

    root: Path

    def check(self) -> None:
        self.require_root()

    def require_root(self) -> Path:
        from codecstudy.errors import CodecStudyError

        if not self.root.is_dir():
            raise CodecStudyError(f"{self.kind}: root folder not found: {self.root}")
        return self.root

