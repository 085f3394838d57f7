"""Machinery shared by the package handlers: unpacking, deduplication, ids and file listing.

Each handler turns one package into a stream of :data:`Entry` (items, or skips that still carry their language
and domain so the source's filters apply to them too); everything a handler needs besides its own layout rules
is here, so the handler modules stay about one package family each.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from codecstudy.corpus import debian
from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.embedded.packages import AUDIO_SUFFIXES, FILTER_VERSION, MEMBER_FILTERS, PackageSpec


@dataclass(frozen=True)
class Skip:
    """A skip that still knows its language and domain, so the source's filters apply to skips too."""

    path: str
    reason: str
    language: str | None
    domain: str


Entry = SourceItem | Skip
Handler = Callable[["Context", "PackageSpec"], Iterator[Entry]]


class Context:
    """Unpacks each package once per run and knows where derived files (renders, cut WAVs) go."""

    def __init__(self, cache_dir: Path | None, deb_dir: Path | None) -> None:
        self.root = Path(cache_dir).expanduser() if cache_dir is not None else debian.cache_root()
        self.deb_dir = Path(deb_dir).expanduser() if deb_dir is not None else None
        self._unpacked: dict[str, debian.UnpackedDeb] = {}

    def unpack(self, package: str) -> debian.UnpackedDeb:
        if package not in self._unpacked:
            key, keep = MEMBER_FILTERS.get(package, ("all", None))
            self._unpacked[package] = debian.ensure_unpacked(
                package, self.root, self.deb_dir, keep, filter_key=f"{key}-{FILTER_VERSION}"
            )
        return self._unpacked[package]

    def derived_dir(self, unpacked: debian.UnpackedDeb) -> Path:
        return self.root / "derived" / debian.DebInfo(unpacked.package, unpacked.version).slug

    @property
    def versions(self) -> dict[str, str]:
        return {name: u.version for name, u in self._unpacked.items()}


@dataclass
class Deduplicator:
    """Finds byte-identical files; only files of equal size are ever hashed, so the common case costs a stat."""

    by_size: dict[int, list[tuple[Path, str]]] = field(default_factory=dict)
    digests: dict[Path, str] = field(default_factory=dict)

    def _digest(self, path: Path) -> str:
        if path not in self.digests:
            md5 = hashlib.md5(usedforsecurity=False)
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    md5.update(block)
            self.digests[path] = md5.hexdigest()
        return self.digests[path]

    def check(self, path: Path, item_id: str) -> str | None:
        """The id of an earlier identical file, or None (and remember this one)."""
        try:
            size = path.stat().st_size
        except OSError:
            return None  # a missing file is the builder's to report
        same_size = self.by_size.setdefault(size, [])
        if same_size:
            digest = self._digest(path)
            for other, other_id in same_size:
                if self._digest(other) == digest:
                    return other_id
        same_size.append((path, item_id))
        return None


def relative_id(package: str, rel: PurePosixPath | Path) -> str:
    return f"embedded/{package}/{rel.with_suffix('').as_posix()}"


def audio_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def clean_text(text: str) -> str:
    """Collapse whitespace; transcripts come from hand-edited files with stray spaces and line breaks."""
    return re.sub(r"\s+", " ", text).strip()


def strip_audio_suffixes(name: str) -> str:
    """``x_desc_da.ogg.ogg`` (a packaging slip in the real data) -> ``x_desc_da``."""
    while name.lower().endswith(AUDIO_SUFFIXES):
        name = name.rsplit(".", 1)[0]
    return name
