"""OpenTTD OpenSFX: WAV files stored back to back in ``opensfx.cat``, cut out by their RIFF headers.

Each sound is preceded by a description that states its own licence, so the licence is read per sound
(:func:`opensfx_license`) rather than taken from the package.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.embedded.common import Context, Entry, Skip, relative_id
from codecstudy.corpus.sources.embedded.packages import PackageSpec
from codecstudy.files import write_bytes_atomic


@dataclass(frozen=True)
class RiffChunk:
    """One ``RIFF`` chunk found in a blob: its bytes, or the reason it cannot be used."""

    offset: int
    data: bytes | None
    problem: str | None = None
    preamble: bytes = b""  # bytes between the previous chunk and this one (OpenSFX puts a description there)


def scan_riff(blob: bytes) -> list[RiffChunk]:
    """Find the RIFF/WAVE files stored back to back (with headers between them) in ``blob``.

    Each chunk is cut by its own RIFF size field rather than by a container index, which works for any
    archive that stores whole WAV files. A chunk whose size runs past the end of the blob, or that is not
    WAVE, is reported with its problem; scanning then resumes just after its ``RIFF`` tag.
    """
    chunks: list[RiffChunk] = []
    position = 0
    previous_end = 0
    while True:
        start = blob.find(b"RIFF", position)
        if start < 0 or start + 12 > len(blob):
            if start >= 0:
                chunks.append(RiffChunk(start, None, "truncated RIFF header", blob[previous_end:start]))
            return chunks
        size = struct.unpack_from("<I", blob, start + 4)[0]
        end = start + 8 + size
        preamble = blob[previous_end:start]
        if blob[start + 8 : start + 12] != b"WAVE":
            chunks.append(RiffChunk(start, None, "RIFF chunk is not WAVE audio", preamble))
            position = start + 4
        elif end > len(blob):
            chunks.append(
                RiffChunk(start, None, f"truncated RIFF chunk ({size} bytes declared, {len(blob) - start - 8} left)",
                          preamble)
            )
            position = start + 4
        else:
            chunks.append(RiffChunk(start, blob[start:end], None, preamble))
            position = previous_end = end


_CC_LICENSES = [
    ("Attribution-ShareAlike 3.0", "CC-BY-SA-3.0"),
    ("Attribution 3.0", "CC-BY-3.0"),
    ("Zero 1.0", "CC0-1.0"),
]


def opensfx_license(preamble: bytes, default: str) -> str:
    """The licence OpenSFX states in the description before each sound (``License: Creative Commons ...``)."""
    text = preamble.decode("latin-1")
    if "License:" not in text:
        return default
    stated = text.rsplit("License:", 1)[1]
    for phrase, spdx in _CC_LICENSES:
        if phrase in stated:
            return spdx
    return default


def opensfx_entries(context: Context, spec: PackageSpec) -> Iterator[Entry]:
    unpacked = context.unpack(spec.name)
    root = unpacked.root / spec.content_root
    out_dir = context.derived_dir(unpacked)
    for cat in sorted(root.glob("*.cat")) if root.is_dir() else []:
        for index, chunk in enumerate(scan_riff(cat.read_bytes())):
            rel = PurePosixPath(cat.name) / f"{index:03d}.wav"
            if chunk.data is None:
                yield Skip(f"{cat}@{chunk.offset}", chunk.problem or "unusable RIFF chunk", None, "environment")
                continue
            out = out_dir / cat.stem / f"{index:03d}.wav"
            if not (out.is_file() and out.stat().st_size == len(chunk.data)):
                write_bytes_atomic(out, chunk.data)
            yield SourceItem(
                path=str(out), source=f"embedded/{spec.name}", domain="environment",
                license=opensfx_license(chunk.preamble, spec.license), item_id=relative_id(spec.name, rel),
            )
