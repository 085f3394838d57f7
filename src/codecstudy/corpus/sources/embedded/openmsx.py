"""OpenTTD OpenMSX: MIDI music rendered to FLAC with the FluidR3 GM SoundFont (see :mod:`codecstudy.corpus.midi`).

Renders are cached next to the unpacked package, so the SoundFont package is only unpacked, and the optional
renderer only needed, when a render is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from codecstudy.corpus import midi
from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.embedded.common import Context, Entry, Skip, relative_id
from codecstudy.corpus.sources.embedded.packages import SOUNDFONT_NAME, SOUNDFONT_PACKAGE, PackageSpec
from codecstudy.errors import CodecStudyError


def openmsx_entries(context: Context, spec: PackageSpec) -> Iterator[Entry]:
    unpacked = context.unpack(spec.name)
    root = unpacked.root / spec.content_root
    out_dir = context.derived_dir(unpacked) / f"fluidr3_gm-{midi.SAMPLE_RATE}"
    songs = sorted(p for p in root.glob("*.mid") if p.is_file()) if root.is_dir() else []
    soundfont: Path | None = None
    for song in songs:
        out = out_dir / f"{song.stem}.flac"
        if not out.is_file():
            if not midi.tinysoundfont_available():
                yield Skip(str(song), f"tinysoundfont not installed ({midi.INSTALL_HINT})", None, "music")
                continue
            if soundfont is None:
                soundfont = _find_soundfont(context)
            try:
                midi.render_midi(song, soundfont, out)
            except CodecStudyError as exc:
                yield Skip(str(song), f"MIDI rendering failed ({exc})", None, "music")
                continue
        yield SourceItem(
            path=str(out), source=f"embedded/{spec.name}", domain="music", license=spec.license,
            item_id=relative_id(spec.name, song.relative_to(root)),
        )


def _find_soundfont(context: Context) -> Path:
    found = sorted(context.unpack(SOUNDFONT_PACKAGE).root.rglob(SOUNDFONT_NAME))
    if not found:
        raise CodecStudyError(f"{SOUNDFONT_PACKAGE}: {SOUNDFONT_NAME} not found in the package")
    return found[0]
