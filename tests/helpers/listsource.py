"""A Source that yields a fixed list of items, so builder tests need no dataset layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from codecstudy.corpus.records import SkippedItem, SourceItem
from codecstudy.corpus.sources.base import Source


class ListSource(Source):
    kind: ClassVar[str] = "list"
    entries: list[dict]

    def items(self) -> Iterator[SourceItem | SkippedItem]:
        for entry in self.entries:
            if "reason" in entry:
                yield SkippedItem(**entry)
            else:
                yield SourceItem(**entry)
