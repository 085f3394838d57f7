"""Mozilla Common Voice: crowd-sourced read sentences, one folder per locale.

Layout of one locale: ``<locale>/validated.tsv`` (and ``train``/``dev``/``test``/``other``/``invalidated``
``.tsv``), tab-separated with a header naming at least ``client_id``, ``path`` and ``sentence``; audio in
``<locale>/clips/<path>`` (MP3). ``root`` is one locale folder or the release folder holding several; the
language is the folder name (Common Voice locale, e.g. ``en``, ``de``, ``zh-CN``) unless ``language`` is given,
which with several folders picks one. Items follow the order of the TSV.

Speakers are the contributors' ``client_id`` hashes, shortened to 16 hex digits (64 bits: no collision is to
be expected among Common Voice's few hundred thousand contributors) to keep manifests readable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from codecstudy.corpus.records import SkippedItem
from codecstudy.corpus.sources import _layout
from codecstudy.corpus.sources.base import DatasetSource, SourceOutput

REQUIRED_COLUMNS = ("client_id", "path", "sentence")
SPEAKER_DIGITS = 16


class CommonVoiceSource(DatasetSource):
    """The Common Voice layout; see the module docstring."""

    kind: ClassVar[str] = "commonvoice"
    summary: ClassVar[str] = "Mozilla Common Voice: crowd-sourced read speech, 100+ locales (<locale>/validated.tsv)"

    language: str | None = Field(
        None,
        description="language of root when it is one locale folder (default: its name), or the locale folder "
        "to pick when root holds several",
    )
    subset: Literal["validated", "train", "dev", "test", "other", "invalidated"] = Field(
        "validated", description="which <subset>.tsv lists the clips"
    )
    license: str = Field("CC0-1.0", description="licence recorded on every clip")

    def items(self) -> Iterator[SourceOutput]:
        root = self.require_root()
        table = f"{self.subset}.tsv"
        folders, _ = _layout.language_folders(
            self.kind,
            root,
            self.language,
            lambda folder: (folder / table).is_file(),
            lambda name: name,
            f"locale folder with {table}",
        )
        for folder, language in folders:
            yield from self._locale_items(folder / table, folder / "clips", language)

    def _locale_items(self, table: Path, clips: Path, language: str) -> Iterator[SourceOutput]:
        for number, row in _layout.delimited_rows(table, "\t", REQUIRED_COLUMNS, self.kind):
            if row is None or not row["path"].strip():
                detail = "wrong number of fields" if row is None else "empty path"
                yield SkippedItem(str(table), self.name, _layout.malformed(table, number, detail))
                continue
            name = row["path"].strip()
            # Early releases listed clip names without the extension.
            audio = clips / (name if Path(name).suffix else f"{name}.mp3")
            client = row["client_id"].strip()
            yield _layout.transcribed_item(
                self,
                audio,
                row["sentence"],
                language=language,
                speaker=_layout.speaker_id(self.kind, client[:SPEAKER_DIGITS]) if client else None,
                license=self.license,
            )
