"""The ``embedded`` source: real recordings that ship inside Debian ``main`` packages.

Real speech with transcripts in several languages, music and environmental sound, all under free licences
and all reachable with ``apt-get download`` on any Debian machine: no dataset registration, no scraping. The
packages and what each contributes:

* speech: Asterisk IVR prompts (``asterisk-core-sounds-{en,es,fr,it,ru}-g722``, 16 kHz G.722, one
  professional speaker per language, transcripts in the small ``asterisk-core-sounds-<lang>`` packages); Fish
  Fillets NG dialogue (``fillets-ng-data-cs``/``-nl``, acted, many characters, text in the game scripts of
  ``fillets-ng-data``); Tux Paint spoken stamp descriptions (``tuxpaint-stamps-default``, about ten languages).
* music: ``wesnoth-1.16-music``, the ``music/`` folder of ``supertux-data``, MIDI from ``openttd-openmsx``
  rendered with ``fluid-soundfont-gm`` (see :mod:`codecstudy.corpus.midi`), the music of Fish Fillets,
  MegaGlest and LinCity NG.
* environment: ``megaglest-data`` (ambience and unit effects, spoken unit replies left out), Tux Paint stamp
  sounds, Fish Fillets effects, ``lincity-ng-data`` sounds, and ``openttd-opensfx`` (WAV files stored back to
  back inside ``opensfx.cat``, cut out by their RIFF headers).

Layout facts that are not obvious from the package names (found by reading the data):

* Fish Fillets has *no English dialogue audio*: ``fillets-ng-data``'s ``sound/<level>/en/`` folders hold the
  language-neutral fallback sounds (effects, music snippets) plus a parrot speaking German and an elk speaking
  Russian. They are labelled accordingly; other captioned sounds there ("CLICK", "MUAHHH...") are skipped.
* Tux Paint's localised stamp *sounds* (``7_de.ogg``, ``A_filled_en_GB.ogg``) are spoken digits and letters,
  so a stamp sound that exists in localised versions is speech (its plain version being the English one).
* The Asterisk transcripts mix speech with annotations (``[ascending tones]``, ``(note: ...)``), run some
  entries together on one line, and the Italian file lost its accented vowels to ``?``; see
  :func:`clean_asterisk_text`, :func:`read_asterisk_transcripts` and :func:`repair_asterisk_text`.
* Several packages store the same recording under several names (MegaGlest tilesets, Tux Paint's filled and
  outlined letters, Fish Fillets levels): identical files are yielded once and counted as duplicates.

The source never decodes audio (the builder does), but it does create files: unpacked package trees, MIDI
renders and the WAVs cut from ``opensfx.cat``, all cached under ``~/.cache/codecstudy`` (``$CODECSTUDY_CACHE``),
so that the second run only walks folders.

The package holds one module per concern: :mod:`~.packages` (the package table), :mod:`~.common` (unpacking,
deduplication, shared helpers) and one handler module per package family (:mod:`~.asterisk`, :mod:`~.fillets`,
:mod:`~.tuxpaint`, :mod:`~.files`, :mod:`~.openmsx`, :mod:`~.opensfx`); this module holds the source itself.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from pydantic import Field, PrivateAttr, field_validator

from codecstudy.corpus import debian
from codecstudy.corpus.conditions import NO_LANGUAGE
from codecstudy.corpus.records import DOMAINS, SkippedItem
from codecstudy.corpus.sources.base import Source, SourceOutput
from codecstudy.corpus.sources.embedded.asterisk import (
    ASTERISK_TEXT_FIXES,
    asterisk_entries,
    clean_asterisk_text,
    read_asterisk_transcripts,
    repair_asterisk_text,
)
from codecstudy.corpus.sources.embedded.common import Context, Deduplicator, Handler, Skip, clean_text
from codecstudy.corpus.sources.embedded.files import MEGAGLEST_VOICE, file_entries
from codecstudy.corpus.sources.embedded.fillets import (
    FILLETS_FALLBACK_SPEECH,
    Dialog,
    fillets_entries,
    parse_fillets_dialogs,
)
from codecstudy.corpus.sources.embedded.openmsx import openmsx_entries
from codecstudy.corpus.sources.embedded.opensfx import RiffChunk, opensfx_entries, opensfx_license, scan_riff
from codecstudy.corpus.sources.embedded.packages import (
    ASTERISK_LICENSES,
    ASTERISK_ROOT,
    AUDIO_SUFFIXES,
    FILLETS_ROOT,
    MEMBER_FILTERS,
    PACKAGES,
    SOUNDFONT_NAME,
    SOUNDFONT_PACKAGE,
    TUXPAINT_ROOT,
    PackageSpec,
)
from codecstudy.corpus.sources.embedded.tuxpaint import read_stamp_texts, tuxpaint_entries
from codecstudy.errors import CodecStudyError

__all__ = [
    "ASTERISK_LICENSES",
    "ASTERISK_ROOT",
    "ASTERISK_TEXT_FIXES",
    "AUDIO_SUFFIXES",
    "FILLETS_FALLBACK_SPEECH",
    "FILLETS_ROOT",
    "HANDLERS",
    "MEGAGLEST_VOICE",
    "MEMBER_FILTERS",
    "PACKAGES",
    "SOUNDFONT_NAME",
    "SOUNDFONT_PACKAGE",
    "TUXPAINT_ROOT",
    "Dialog",
    "EmbeddedSource",
    "PackageSpec",
    "RiffChunk",
    "clean_asterisk_text",
    "clean_text",
    "opensfx_license",
    "parse_fillets_dialogs",
    "read_asterisk_transcripts",
    "read_stamp_texts",
    "repair_asterisk_text",
    "scan_riff",
]

# ``PackageSpec.handler`` -> the function that reads a package of that family (one module each).
HANDLERS: dict[str, Handler] = {
    "asterisk": asterisk_entries,
    "fillets": fillets_entries,
    "tuxpaint": tuxpaint_entries,
    "files": file_entries,
    "openmsx": openmsx_entries,
    "opensfx": opensfx_entries,
}


class EmbeddedSource(Source):
    """Speech, music and environmental audio from Debian packages (downloaded and unpacked on first use)."""

    kind: ClassVar[str] = "embedded"
    summary: ClassVar[str] = "real recordings from Debian packages (Asterisk, Fish Fillets, Tux Paint, game music/sfx)"

    cache_dir: Path | None = Field(None, description="cache root; default $CODECSTUDY_CACHE or ~/.cache/codecstudy")
    deb_dir: Path | None = Field(None, description="a folder of pre-downloaded .deb files, searched first")
    packages: list[str] | None = Field(None, description="a subset of the packages (default: all)")
    languages: list[str] | None = Field(
        None, description=f"keep only these ISO 639-1 codes; '{NO_LANGUAGE}' keeps music and environment"
    )
    domains: list[str] | None = Field(None, description="keep only these domains")

    _versions: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("packages")
    @classmethod
    def _known_packages(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            unknown = [name for name in value if name not in PACKAGES]
            if unknown:
                raise ValueError(f"unknown package(s) {', '.join(unknown)}; known: {', '.join(sorted(PACKAGES))}")
        return value

    @field_validator("domains")
    @classmethod
    def _known_domains(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            unknown = [d for d in value if d not in DOMAINS]
            if unknown:
                raise ValueError(f"unknown domain(s) {', '.join(unknown)}; known: {', '.join(DOMAINS)}")
        return value

    @property
    def versions(self) -> dict[str, str]:
        """Package -> Debian version of what the last :meth:`items` run read (for provenance)."""
        return dict(self._versions)

    def selected_packages(self) -> list[str]:
        """The packages this configuration reads audio from, after the language and domain filters."""
        names = sorted(self.packages if self.packages is not None else PACKAGES)
        return [name for name in names if self._may_yield(PACKAGES[name])]

    def _may_yield(self, spec: PackageSpec) -> bool:
        if self.domains is not None and not spec.domains & set(self.domains):
            return False
        if self.languages is None or spec.languages is None:
            return True
        wanted = {None if lang == NO_LANGUAGE else lang for lang in self.languages}
        return bool(spec.languages & wanted)

    def _wanted(self, language: str | None, domain: str) -> bool:
        if self.domains is not None and domain not in self.domains:
            return False
        return self.languages is None or (language or NO_LANGUAGE) in self.languages

    def needed_packages(self) -> list[str]:
        """Every package :meth:`items` reads: the selected ones and those holding their transcripts/scripts."""
        needed = set(self.selected_packages())
        for name in list(needed):
            needed.update(PACKAGES[name].needs)
        return sorted(needed)

    def check(self) -> None:
        """Fail before any work when a package is neither at hand (deb or unpacked tree) nor downloadable."""
        if shutil.which("apt-get") is not None:
            return
        root = Path(self.cache_dir).expanduser() if self.cache_dir is not None else debian.cache_root()
        deb_dir = Path(self.deb_dir).expanduser() if self.deb_dir is not None else None
        missing = [
            name
            for name in self.needed_packages()
            if name != SOUNDFONT_PACKAGE  # only needed for renders that are not cached yet
            and debian.find_deb(name, deb_dir) is None
            and debian.find_deb(name, root / "debs") is None
            and debian.find_unpacked(name, root) is None
        ]
        if missing:
            raise CodecStudyError(
                f"embedded: apt-get is not available and no .deb was found for {', '.join(missing)}; "
                "download them and set deb_dir"
            )

    def items(self) -> Iterator[SourceOutput]:
        context = Context(self.cache_dir, self.deb_dir)
        dedup = Deduplicator()
        for name in self.selected_packages():
            spec = PACKAGES[name]
            source = f"embedded/{name}"
            for entry in HANDLERS[spec.handler](context, spec):
                if not self._wanted(entry.language, entry.domain):
                    continue
                if isinstance(entry, Skip):
                    yield SkippedItem(entry.path, source, entry.reason)
                    continue
                original = dedup.check(Path(entry.path), entry.item_id or entry.path)
                if original is not None:
                    yield SkippedItem(entry.path, source, f"duplicate (same bytes as {original})")
                    continue
                yield entry
        self._versions.update(context.versions)
