"""Music and effects that need no transcript: folder trees of Wesnoth, SuperTux, MegaGlest and LinCity NG.

The only rules are which folders hold which domain, and which MegaGlest files are spoken unit replies (left
out: they are speech without transcripts, not effects).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.embedded.common import (
    Context,
    Entry,
    audio_files,
    relative_id,
    strip_audio_suffixes,
)
from codecstudy.corpus.sources.embedded.packages import PackageSpec

# MegaGlest unit replies ("Yes, my lord") are English speech, not effects: ``*_ack``, ``*_select``,
# ``carpet_sel``, bare ``ack``/``select``, and the spoken ``good_morning`` of the hell tileset.
MEGAGLEST_VOICE = re.compile(r"(^|_)(ack|select|sel)$|^good_morning$")


def _files_domain(spec: PackageSpec, rel: Path) -> str | None:
    """The domain of a file of a no-transcript package, or None to leave it out."""
    parts = rel.parts
    if spec.name == "wesnoth-1.16-music":
        return "music" if parts[0] == "music" else None
    if spec.name == "supertux-data":
        return "music" if parts[0] == "music" else None
    if spec.name == "megaglest-data":
        if "music" in parts[:-1]:
            return "music"
        stem = re.sub(r"[\d_]+$", "", strip_audio_suffixes(parts[-1]).lower())
        return None if MEGAGLEST_VOICE.search(stem) else "environment"
    if spec.name == "lincity-ng-data":
        return {"music": "music", "sounds": "environment"}.get(parts[0])
    raise AssertionError(f"no layout rule for {spec.name}")


def file_entries(context: Context, spec: PackageSpec) -> Iterator[Entry]:
    root = context.unpack(spec.name).root / spec.content_root
    for path in audio_files(root):
        rel = path.relative_to(root)
        domain = _files_domain(spec, rel)
        if domain is None:
            continue
        yield SourceItem(
            path=str(path), source=f"embedded/{spec.name}", domain=domain, license=spec.license,
            item_id=relative_id(spec.name, rel),
        )
