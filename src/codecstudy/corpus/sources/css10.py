"""CSS10: one LibriVox reader per language (German, Greek, Spanish, Finnish, French, Hungarian, Japanese, Dutch,
Russian, Chinese).

Layout of one language: ``transcript.txt`` with ``<path>|<original text>|<normalized text>|<duration>`` lines,
``<path>`` relative to the language folder (``<book>/<book>_0000.wav``). ``root`` is one language folder or a
folder holding several; the language comes from the folder name (``german``, ``de``,
``german-single-speaker-speech-dataset``) unless ``language`` is given, which with several folders picks one.
Items follow the order of each ``transcript.txt``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from codecstudy.corpus.records import SkippedItem
from codecstudy.corpus.sources import _layout
from codecstudy.corpus.sources.base import DatasetSource, SourceOutput

TRANSCRIPT = "transcript.txt"


def _is_language_folder(folder: Path) -> bool:
    return (folder / TRANSCRIPT).is_file()


class CSS10Source(DatasetSource):
    """The CSS10 layout; see the module docstring."""

    kind: ClassVar[str] = "css10"
    summary: ClassVar[str] = "CSS10: one audiobook reader per language, 10 languages (<language>/transcript.txt)"

    language: str | None = Field(
        None,
        description="ISO 639-1 code: the language of root when its name does not say it, or the language "
        "folder to pick when root holds several",
    )
    text: Literal["normalized", "original"] = Field(
        "normalized", description="transcript column to use (normalized falls back to the original where blank)"
    )
    license: str = Field("public-domain", description="licence recorded on every clip")

    def items(self) -> Iterator[SourceOutput]:
        root = self.require_root()
        folders, unknown = _layout.language_folders(
            self.kind, root, self.language, _is_language_folder, _layout.language_code, f"folder with {TRANSCRIPT}"
        )
        for folder in unknown:
            yield SkippedItem(_layout.abs_path(folder), self.name, "cannot tell the language from the folder name")
        for folder, language in folders:
            yield from self._language_items(folder, language)

    def _language_items(self, folder: Path, language: str) -> Iterator[SourceOutput]:
        transcript = folder / TRANSCRIPT
        # One reader per language: the language names the speaker.
        speaker = _layout.speaker_id(self.kind, language)
        for number, line in _layout.numbered_lines(transcript):
            fields = line.split("|")
            if len(fields) not in (3, 4) or not fields[0].strip():
                yield SkippedItem(
                    str(transcript),
                    self.name,
                    _layout.malformed(
                        transcript, number, f"expected path|text|normalized|duration, got {len(fields)} fields"
                    ),
                )
                continue
            text = _layout.choose_text(fields[1], fields[2], self.text)
            yield _layout.transcribed_item(
                self, folder / fields[0].strip(), text, language=language, speaker=speaker, license=self.license
            )
