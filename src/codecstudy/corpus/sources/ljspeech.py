"""LJSpeech-1.1: one American English reader, 13,100 short passages from public-domain books.

Layout: ``metadata.csv`` (``id|transcription|normalized transcription``, pipe-separated, no header, no
quoting: the text itself contains quote marks, which is why it is split by hand rather than with ``csv``) and
``wavs/<id>.wav``. Items follow the order of ``metadata.csv``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Literal

from pydantic import Field

from codecstudy.corpus.records import SkippedItem
from codecstudy.corpus.sources import _layout
from codecstudy.corpus.sources.base import DatasetSource, SourceOutput

SPEAKER = "LJ"


class LJSpeechSource(DatasetSource):
    """The LJSpeech layout; see the module docstring."""

    kind: ClassVar[str] = "ljspeech"
    summary: ClassVar[str] = "LJSpeech-1.1: one English speaker reading books (metadata.csv + wavs/)"

    text: Literal["normalized", "original"] = Field(
        "normalized",
        description="transcript column: 'normalized' spells out numbers and abbreviations (falls back to the "
        "original where a line has no normalized text)",
    )
    license: str = Field("public-domain", description="licence recorded on every clip")

    def items(self) -> Iterator[SourceOutput]:
        root = self.require_root()
        metadata = _layout.require_file(self.kind, root / "metadata.csv", "metadata file")
        speaker = _layout.speaker_id(self.kind, SPEAKER)
        for number, line in _layout.numbered_lines(metadata):
            fields = line.split("|")
            # Two fields (id|text) is the common "LJSpeech format" of derived datasets; accept it too.
            if len(fields) not in (2, 3) or not fields[0].strip():
                detail = f"expected id|text|normalized, got {len(fields)} fields"
                yield SkippedItem(str(metadata), self.name, _layout.malformed(metadata, number, detail))
                continue
            utt = fields[0].strip()
            original = fields[1]
            normalized = fields[2] if len(fields) == 3 else ""
            text = _layout.choose_text(original, normalized, self.text)
            yield _layout.transcribed_item(
                self, root / "wavs" / f"{utt}.wav", text, language="en", speaker=speaker, license=self.license
            )
