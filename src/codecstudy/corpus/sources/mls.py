"""Multilingual LibriSpeech (MLS): LibriVox audiobooks in eight languages.

Layout of one language: ``mls_<language>/<split>/transcripts.txt`` (``<utt-id>\\t<text>``, utterance ids
``<speaker>_<book>_<segment>``) and ``mls_<language>/<split>/audio/<speaker>/<book>/<utt-id>.flac``; the Opus
release (``mls_<language>_opus``) has ``.opus`` files in the same places, and both are read.

``root`` is one language folder, or a folder holding several. The language comes from the folder name
(``mls_german`` -> ``de``) unless ``language`` is given; with several folders, ``language`` picks one. When the
FLAC and Opus releases of one language both sit under ``root`` only the FLAC one is read, since they hold the
same utterances. Items follow the order of each ``transcripts.txt``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from codecstudy.corpus.records import SkippedItem
from codecstudy.corpus.sources import _layout
from codecstudy.corpus.sources.base import DatasetSource, SourceOutput

SPLITS = ("train", "dev", "test")
AUDIO_SUFFIXES = (".flac", ".opus")


def _is_language_folder(folder: Path) -> bool:
    return any((folder / split / "transcripts.txt").is_file() for split in SPLITS)


def _prefer_flac(folders: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Drop an Opus release when the FLAC release of the same language is also present."""
    flac_languages = {code for folder, code in folders if not folder.name.lower().endswith("_opus")}
    return [
        (folder, code)
        for folder, code in folders
        if not (folder.name.lower().endswith("_opus") and code in flac_languages)
    ]


class MLSSource(DatasetSource):
    """The MLS layout; see the module docstring."""

    kind: ClassVar[str] = "mls"
    summary: ClassVar[str] = "Multilingual LibriSpeech: audiobooks in 8 languages (mls_<language>/<split>/)"

    language: str | None = Field(
        None,
        description="ISO 639-1 code: the language of root when its name does not say it, or the language "
        "folder to pick when root holds several",
    )
    splits: list[Literal["train", "dev", "test"]] = Field(
        default_factory=lambda: list(SPLITS), description="splits to read; each needs <split>/transcripts.txt"
    )
    license: str = Field("CC-BY-4.0", description="licence recorded on every clip")

    def items(self) -> Iterator[SourceOutput]:
        root = self.require_root()
        folders, unknown = _layout.language_folders(
            self.kind, root, self.language, _is_language_folder, _layout.language_code, "mls_<language> folder"
        )
        for folder in unknown:
            yield SkippedItem(_layout.abs_path(folder), self.name, "cannot tell the language from the folder name")
        for folder, language in _prefer_flac(folders):
            for split in self.splits:
                transcripts = _layout.require_file(
                    self.kind, folder / split / "transcripts.txt", f"{split} transcripts"
                )
                # Look for the release's own format first, so a missing file is reported under its real name.
                suffixes = AUDIO_SUFFIXES[::-1] if folder.name.lower().endswith("_opus") else AUDIO_SUFFIXES
                yield from self._split_items(transcripts, folder / split / "audio", language, suffixes)

    def _split_items(
        self, transcripts: Path, audio_dir: Path, language: str, suffixes: tuple[str, ...]
    ) -> Iterator[SourceOutput]:
        for number, line in _layout.numbered_lines(transcripts):
            utt, tab, text = line.partition("\t")
            parts = utt.strip().split("_")
            if not tab or len(parts) != 3 or not all(parts):
                yield SkippedItem(
                    str(transcripts),
                    self.name,
                    _layout.malformed(transcripts, number, "expected '<speaker>_<book>_<segment>\\t<text>'"),
                )
                continue
            speaker, book, _ = parts
            stem = audio_dir / speaker / book / utt.strip()
            audio = _layout.find_with_suffix(stem, suffixes) or stem.with_name(stem.name + suffixes[0])
            yield _layout.transcribed_item(
                self,
                audio,
                text,
                language=language,
                speaker=_layout.speaker_id(self.kind, speaker),
                license=self.license,
            )
