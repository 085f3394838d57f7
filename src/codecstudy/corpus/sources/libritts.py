"""LibriSpeech and LibriTTS: English audiobooks read by LibriVox volunteers, one folder per speaker and chapter.

Both share ``<subset>/<speaker>/<chapter>/`` (subsets such as ``train-clean-100`` or ``dev-clean``) and differ in
how transcripts are stored:

- LibriSpeech: ``<speaker>-<chapter>-<utt>.flac`` and one ``<speaker>-<chapter>.trans.txt`` per chapter, lines
  ``<utt-id> TEXT``;
- LibriTTS (and LibriTTS-R): ``<speaker>_<chapter>_<...>.wav`` with ``.normalized.txt`` / ``.original.txt``
  beside each file.

LibriTTS was cut from the same recordings as LibriSpeech and keeps its speaker numbers, so both sources name
speakers ``librispeech:<number>``: a study that trains on one and evaluates on the other then sees the shared
readers in its leakage check instead of counting them as different people.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from codecstudy.corpus.records import SkippedItem
from codecstudy.corpus.sources import _layout
from codecstudy.corpus.sources.base import DatasetSource, SourceOutput
from codecstudy.errors import CodecStudyError

#: Namespace of LibriSpeech speaker numbers, shared by both sources (see the module docstring).
SPEAKER_NAMESPACE = "librispeech"
LICENSE = "CC-BY-4.0"
NO_TRANSCRIPT = "no transcript"


def _has_speaker_folders(folder: Path) -> bool:
    return any(child.name.isdigit() for child in _layout.subdirs(folder))


def _subset_folders(kind: str, root: Path, subsets: list[str] | None) -> list[Path]:
    """The subset folders to read: those named, or every one under ``root``; ``root`` may itself be a subset."""
    if subsets is not None:
        folders = [root / name for name in subsets]
        for folder in folders:
            _layout.require_dir(kind, folder, "subset folder")
        return folders
    if _has_speaker_folders(root):
        return [root]
    folders = [child for child in _layout.subdirs(root) if _has_speaker_folders(child)]
    if not folders:
        raise CodecStudyError(f"{kind}: no subset folders (such as train-clean-100/<speaker>/<chapter>) in {root}")
    return folders


def _chapters(subset: Path) -> Iterator[tuple[str, Path]]:
    """``(speaker number, chapter folder)`` in sorted order."""
    for speaker in _layout.subdirs(subset):
        for chapter in _layout.subdirs(speaker):
            yield speaker.name, chapter


class _LibriSource(DatasetSource):
    subsets: list[str] | None = Field(
        None, description="subset folders to read, e.g. [train-clean-100, dev-clean]; default: every one found"
    )
    license: str = Field(LICENSE, description="licence recorded on every clip")

    def _speaker(self, number: str) -> str:
        return _layout.speaker_id(SPEAKER_NAMESPACE, number)

    def items(self) -> Iterator[SourceOutput]:
        root = self.require_root()
        for subset in _subset_folders(self.kind, root, self.subsets):
            for speaker, chapter in _chapters(subset):
                yield from self._chapter_items(speaker, chapter)

    def _chapter_items(self, speaker: str, chapter: Path) -> Iterator[SourceOutput]:  # pragma: no cover
        raise NotImplementedError


class LibriTTSSource(_LibriSource):
    """LibriTTS / LibriTTS-R: a transcript file beside every utterance; see the module docstring."""

    kind: ClassVar[str] = "libritts"
    summary: ClassVar[str] = "LibriTTS(-R): English audiobook utterances, 24 kHz, per-utterance transcripts"

    text: Literal["normalized", "original"] = Field(
        "normalized", description="transcript to use: <utt>.normalized.txt or <utt>.original.txt"
    )

    def _chapter_items(self, speaker: str, chapter: Path) -> Iterator[SourceOutput]:
        suffix = f".{self.text}.txt"
        texts = {p.name[: -len(suffix)] for p in _layout.files_with_suffix(chapter, [suffix])}
        wavs = {p.stem for p in _layout.files_with_suffix(chapter, [".wav"])}
        for utt in sorted(texts | wavs):
            audio = chapter / f"{utt}.wav"
            if utt not in texts:
                yield SkippedItem(_layout.abs_path(audio), self.name, f"{NO_TRANSCRIPT} ({utt}{suffix} missing)")
                continue
            text = _layout.read_transcript(chapter / f"{utt}{suffix}")
            yield _layout.transcribed_item(
                self, audio, text, language="en", speaker=self._speaker(speaker), license=self.license
            )


class LibriSpeechSource(_LibriSource):
    """LibriSpeech: one ``.trans.txt`` per chapter; see the module docstring."""

    kind: ClassVar[str] = "librispeech"
    summary: ClassVar[str] = "LibriSpeech: English audiobook utterances, 16 kHz FLAC, per-chapter transcripts"

    #: FLAC as released; WAV for copies converted by users.
    AUDIO_SUFFIXES: ClassVar[tuple[str, ...]] = (".flac", ".wav")

    def _chapter_items(self, speaker: str, chapter: Path) -> Iterator[SourceOutput]:
        transcript = chapter / f"{speaker}-{chapter.name}.trans.txt"
        audio_files = {p.stem: p for p in _layout.files_with_suffix(chapter, self.AUDIO_SUFFIXES)}
        listed: set[str] = set()
        if transcript.is_file():
            for number, line in _layout.numbered_lines(transcript):
                utt, _, text = line.strip().partition(" ")
                if utt.count("-") != 2:
                    yield SkippedItem(
                        str(transcript),
                        self.name,
                        _layout.malformed(transcript, number, f"expected '<speaker>-<chapter>-<n> TEXT', got {utt!r}"),
                    )
                    continue
                listed.add(utt)
                audio = audio_files.get(utt, chapter / f"{utt}{self.AUDIO_SUFFIXES[0]}")
                yield _layout.transcribed_item(
                    self, audio, text, language="en", speaker=self._speaker(speaker), license=self.license
                )
        for utt in sorted(set(audio_files) - listed):
            yield SkippedItem(
                _layout.abs_path(audio_files[utt]), self.name, f"{NO_TRANSCRIPT} (not in {transcript.name})"
            )
