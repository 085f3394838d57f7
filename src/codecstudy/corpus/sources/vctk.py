"""CSTR VCTK: about 110 English speakers with various accents, each reading some 400 sentences.

Layouts:

- 0.92 (2019): ``txt/<spk>/<spk>_<nnn>.txt`` and ``wav48_silence_trimmed/<spk>/<spk>_<nnn>_<mic>.flac``, two
  microphones per utterance (``mic1``, ``mic2``; ``mic`` picks one);
- before 0.92: ``txt/<spk>/<spk>_<nnn>.txt`` and ``wav48/<spk>/<spk>_<nnn>.wav``.

When both audio folders are present the 0.92 one is read. Audio without a transcript (speaker p315 of 0.92,
whose texts were lost) is reported as skipped rather than ignored, so the counts show it.
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

AUDIO_092 = "wav48_silence_trimmed"
AUDIO_OLD = "wav48"


class VCTKSource(DatasetSource):
    """The VCTK layout; see the module docstring."""

    kind: ClassVar[str] = "vctk"
    summary: ClassVar[str] = "CSTR VCTK: ~110 English speakers, many accents (txt/ + wav48_silence_trimmed/ or wav48/)"

    mic: Literal["mic1", "mic2"] = Field("mic1", description="microphone of the 0.92 release to read")
    license: str = Field("CC-BY-4.0", description="licence recorded on every clip")

    def items(self) -> Iterator[SourceOutput]:
        root = self.require_root()
        txt = _layout.require_dir(self.kind, root / "txt", "transcript folder")
        if (root / AUDIO_092).is_dir():
            audio_dir, suffix = root / AUDIO_092, f"_{self.mic}.flac"
        elif (root / AUDIO_OLD).is_dir():
            audio_dir, suffix = root / AUDIO_OLD, ".wav"
        else:
            raise CodecStudyError(f"{self.kind}: audio folder not found: {root / AUDIO_092} (or {root / AUDIO_OLD})")
        speakers = sorted({p.name for p in _layout.subdirs(txt)} | {p.name for p in _layout.subdirs(audio_dir)})
        for speaker in speakers:
            yield from self._speaker_items(speaker, txt / speaker, audio_dir / speaker, suffix)

    def _speaker_items(self, speaker: str, texts: Path, audio: Path, suffix: str) -> Iterator[SourceOutput]:
        transcripts = {p.name[: -len(".txt")]: p for p in _layout.files_with_suffix(texts, [".txt"])}
        recordings = {p.name[: -len(suffix)]: p for p in _layout.files_with_suffix(audio, [suffix])}
        speaker_id = _layout.speaker_id(self.kind, speaker)
        for utt in sorted(set(transcripts) | set(recordings)):
            if utt not in transcripts:
                yield SkippedItem(_layout.abs_path(recordings[utt]), self.name, "no transcript")
                continue
            text = _layout.read_transcript(transcripts[utt])
            yield _layout.transcribed_item(
                self, audio / f"{utt}{suffix}", text, language="en", speaker=speaker_id, license=self.license
            )
