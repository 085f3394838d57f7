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
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar

from pydantic import Field, PrivateAttr, field_validator

from codecstudy.corpus import debian, midi
from codecstudy.corpus.conditions import NO_LANGUAGE
from codecstudy.corpus.records import DOMAINS, SkippedItem, SourceItem
from codecstudy.corpus.sources.base import Source, SourceOutput
from codecstudy.errors import CodecStudyError

AUDIO_SUFFIXES = (".ogg", ".wav", ".flac", ".g722")
_FILTER_VERSION = "v1"  # bump when a members filter changes, so cached trees are re-extracted


@dataclass(frozen=True)
class _Skip:
    """A skip that still knows its language and domain, so the source's filters apply to skips too."""

    path: str
    reason: str
    language: str | None
    domain: str


_Entry = SourceItem | _Skip
_Handler = Callable[["_Context", "PackageSpec"], Iterator[_Entry]]


@dataclass(frozen=True)
class PackageSpec:
    """One package of the embedded corpus: how to read it and what it can contribute.

    ``domains``/``languages`` say what the package *can* yield (``languages=None``: many, not listed), so a
    filtered source does not even download packages it would throw away. ``needs`` are packages read for
    metadata (transcripts, game scripts, the SoundFont) rather than audio.
    """

    name: str
    handler: str
    license: str
    domains: frozenset[str]
    languages: frozenset[str | None] | None
    content_root: str
    needs: tuple[str, ...] = ()


def _spec(
    name: str,
    handler: str,
    license: str,
    domains: Iterable[str],
    languages: Iterable[str | None] | None,
    content_root: str,
    needs: tuple[str, ...] = (),
) -> PackageSpec:
    return PackageSpec(
        name, handler, license, frozenset(domains), None if languages is None else frozenset(languages),
        content_root, needs,
    )


# Licences as stated in each package's debian/copyright (the Asterisk file lists fr-*, it-*, ru-* stanzas).
ASTERISK_LICENSES = {
    "en": "CC-BY-SA-3.0",
    "es": "CC-BY-SA-3.0",
    "fr": "CC-BY-SA-3.0",
    "it": "CC-BY-3.0",
    "ru": "CC-BY-3.0",
}
ASTERISK_ROOT = "usr/share/asterisk/sounds"
FILLETS_ROOT = "usr/share/games/fillets-ng"
TUXPAINT_ROOT = "usr/share/tuxpaint/stamps"
SOUNDFONT_PACKAGE = "fluid-soundfont-gm"
SOUNDFONT_NAME = "FluidR3_GM.sf2"

PACKAGES: dict[str, PackageSpec] = {
    spec.name: spec
    for spec in [
        *(
            _spec(
                f"asterisk-core-sounds-{lang}-g722", "asterisk", license, ["speech"], [lang], ASTERISK_ROOT,
                (f"asterisk-core-sounds-{lang}",),
            )
            for lang, license in ASTERISK_LICENSES.items()
        ),
        _spec("fillets-ng-data", "fillets", "GPL-2+", DOMAINS, [None, "de", "ru"], FILLETS_ROOT),
        _spec("fillets-ng-data-cs", "fillets", "GPL-2+", ["speech"], ["cs"], FILLETS_ROOT, ("fillets-ng-data",)),
        _spec("fillets-ng-data-nl", "fillets", "GPL-2+", ["speech"], ["nl"], FILLETS_ROOT, ("fillets-ng-data",)),
        _spec("tuxpaint-stamps-default", "tuxpaint", "GPL-2", ["speech", "environment"], None, TUXPAINT_ROOT),
        _spec("wesnoth-1.16-music", "files", "GPL-2+", ["music"], [None], "usr/share/games/wesnoth/1.16/data/core"),
        _spec("supertux-data", "files", "GPL-2+", ["music"], [None], "usr/share/games/supertux2"),
        _spec("openttd-openmsx", "openmsx", "GPL-2", ["music"], [None], "usr/share/games/openttd/baseset/openmsx",
              (SOUNDFONT_PACKAGE,)),
        _spec("megaglest-data", "files", "CC-BY-SA-3.0", ["music", "environment"], [None], "usr/share/games/megaglest"),
        _spec("lincity-ng-data", "files", "GPL-2+", ["music", "environment"], [None], "usr/share/games/lincity-ng"),
        _spec("openttd-opensfx", "opensfx", "CC-BY-SA-3.0", ["environment"], [None],
              "usr/share/games/openttd/baseset/opensfx"),
    ]
}


# ----------------------------------------------------------------------------------------------------------
# Members filters: only what we read is extracted (MegaGlest alone would otherwise unpack 600 MB of models).


def _audio_or(*extra: str) -> Callable[[str], bool]:
    def keep(name: str) -> bool:
        lower = name.lower()
        return lower.endswith(AUDIO_SUFFIXES + extra) or ("/doc/" in name and lower.endswith("copyright"))

    return keep


def _under(prefixes: tuple[str, ...], inner: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda name: (name.startswith(prefixes) and inner(name)) or name.endswith("/copyright")


MEMBER_FILTERS: dict[str, tuple[str, Callable[[str], bool] | None]] = {
    "fillets-ng-data": ("audio+lua", _audio_or(".lua")),
    "tuxpaint-stamps-default": ("audio+txt", _audio_or(".txt")),
    "supertux-data": ("music", _under(("usr/share/games/supertux2/music/",), _audio_or())),
    "megaglest-data": ("audio", _audio_or()),
    "lincity-ng-data": ("audio", _audio_or()),
    SOUNDFONT_PACKAGE: ("sf2", lambda name: name.endswith(".sf2") or name.endswith("/copyright")),
}


# ----------------------------------------------------------------------------------------------------------
# The source


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
        context = _Context(self.cache_dir, self.deb_dir)
        dedup = _Deduplicator()
        for name in self.selected_packages():
            spec = PACKAGES[name]
            source = f"embedded/{name}"
            for entry in HANDLERS[spec.handler](context, spec):
                if not self._wanted(entry.language, entry.domain):
                    continue
                if isinstance(entry, _Skip):
                    yield SkippedItem(entry.path, source, entry.reason)
                    continue
                original = dedup.check(Path(entry.path), entry.item_id or entry.path)
                if original is not None:
                    yield SkippedItem(entry.path, source, f"duplicate (same bytes as {original})")
                    continue
                yield entry
        self._versions.update(context.versions)


# ----------------------------------------------------------------------------------------------------------
# Shared machinery


class _Context:
    """Unpacks each package once per run and knows where derived files (renders, cut WAVs) go."""

    def __init__(self, cache_dir: Path | None, deb_dir: Path | None) -> None:
        self.root = Path(cache_dir).expanduser() if cache_dir is not None else debian.cache_root()
        self.deb_dir = Path(deb_dir).expanduser() if deb_dir is not None else None
        self._unpacked: dict[str, debian.UnpackedDeb] = {}

    def unpack(self, package: str) -> debian.UnpackedDeb:
        if package not in self._unpacked:
            key, keep = MEMBER_FILTERS.get(package, ("all", None))
            self._unpacked[package] = debian.ensure_unpacked(
                package, self.root, self.deb_dir, keep, filter_key=f"{key}-{_FILTER_VERSION}"
            )
        return self._unpacked[package]

    def derived_dir(self, unpacked: debian.UnpackedDeb) -> Path:
        return self.root / "derived" / debian.DebInfo(unpacked.package, unpacked.version).slug

    @property
    def versions(self) -> dict[str, str]:
        return {name: u.version for name, u in self._unpacked.items()}


@dataclass
class _Deduplicator:
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


def _relative_id(package: str, rel: PurePosixPath | Path) -> str:
    return f"embedded/{package}/{rel.with_suffix('').as_posix()}"


def _audio_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def clean_text(text: str) -> str:
    """Collapse whitespace; transcripts come from hand-edited files with stray spaces and line breaks."""
    return re.sub(r"\s+", " ", text).strip()


# ----------------------------------------------------------------------------------------------------------
# Asterisk


def read_asterisk_transcripts(path: Path, known_keys: set[str] | None = None) -> dict[str, str]:
    """``name: text`` lines of ``core-sounds-<lang>.txt(.gz)``; ``;`` starts a comment line.

    Some lines of the real files hold several entries run together (``...attivi. confbridge-mute-in: Per
    disattivare...``) or repeat their key (``conf-adminmenu: conf-adminmenu: ...``). Given the names of the
    sound files (``known_keys``), a line is also cut wherever one of those names is followed by a colon.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as handle:  # type: ignore[operator]
        lines = handle.read().splitlines()
    transcripts: dict[str, str] = {}
    for line in lines:
        if not line.strip() or line.lstrip().startswith(";") or ":" not in line:
            continue
        key, _, text = line.partition(":")
        for name, words in _split_entries(key.strip(), text, known_keys or set()):
            if not transcripts.get(name):  # the first non-empty text of a name wins
                transcripts[name] = words.strip()
    return transcripts


def _split_entries(key: str, text: str, known_keys: set[str]) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    start = 0
    for match in re.finditer(r"(?:^|(?<=\s))([\w/-]+):(?=\s|$)", text):
        if match.group(1) in known_keys:
            entries.append((key, text[start : match.start()]))
            key, start = match.group(1), match.end()
    entries.append((key, text[start:]))
    return entries


_WHOLE_NOTE = re.compile(r"^\s*(\[[^\]]*\]|\([^)]*\))\s*$")


def clean_asterisk_text(text: str) -> str | None:
    """The spoken words of an Asterisk transcript line, or None when the line describes a non-speech sound.

    The files mix speech with annotations: ``[ascending tones]`` or ``(beep)`` (the whole file is a sound),
    ``(note: does not say "2")`` (a remark), ``at [@]`` (the symbol being named) and ``Sus saludos
    [temporales]`` (a word the translator marked). Parenthesised remarks and symbol-only brackets are
    dropped; bracketed words are kept, as they are spoken.
    """
    if _WHOLE_NOTE.match(text):
        return None
    text = re.sub(r"\([^)]*\)", " ", text)
    text = re.sub(r"\[([^\]]*)\]", lambda m: m.group(1) if re.search(r"\w", m.group(1)) else " ", text)
    text = re.sub(r"\s+([,.!?;:])", r"\1", clean_text(text))
    return text.strip()


# The Italian transcript file lost its accented vowels to "?" somewhere upstream ("il tempo sar? esattamente").
# The damaged words are few and unambiguous, so they are repaired; a "?" left inside a sentence afterwards means
# an unknown damaged word, and that line is not used.
ASTERISK_TEXT_FIXES: dict[str, list[tuple[str, str]]] = {
    "it": [(r"(?<=\s)\?(?=\s)", "è"), (r"\bsar\?", "sarà"), (r"\bpu\?", "può"), (r"\bcos\?", "così"),
           (r"\bpi\?", "più")],
}
_DAMAGED = re.compile(r"\w\?\s+\w")


def repair_asterisk_text(text: str, language: str) -> str | None:
    """Undo known damage in a transcript; None when it is damaged in a way we cannot undo."""
    for pattern, replacement in ASTERISK_TEXT_FIXES.get(language, []):
        text = re.sub(pattern, replacement, text)
    return None if language in ASTERISK_TEXT_FIXES and _DAMAGED.search(text) else text


def _asterisk(context: _Context, spec: PackageSpec) -> Iterator[_Entry]:
    language = spec.name.removeprefix("asterisk-core-sounds-").removesuffix("-g722")
    sounds = context.unpack(spec.name).root / spec.content_root
    notes = context.unpack(spec.needs[0]).root
    transcript_files = sorted(notes.rglob("core-sounds-*.txt*"))
    if not transcript_files:
        raise CodecStudyError(f"{spec.needs[0]}: no core-sounds-*.txt transcript file in the package")
    voices = sorted(p for p in sounds.iterdir() if p.is_dir()) if sounds.is_dir() else []
    files = {voice: _audio_files(voice) for voice in voices}
    keys = {path.relative_to(voice).with_suffix("").as_posix() for voice in voices for path in files[voice]}
    transcripts = read_asterisk_transcripts(transcript_files[0], keys)
    for voice in voices:
        speaker = f"asterisk:{voice.name.split('_')[-1]}"  # en_US_f_Allison -> Allison
        for path in files[voice]:
            key = path.relative_to(voice).with_suffix("").as_posix()
            if key.startswith("silence/"):
                continue  # digital silence padding, by design not a recording
            raw = transcripts.get(key)
            if raw is None:
                yield _Skip(str(path), f"no transcript (no line '{key}' in {transcript_files[0].name})", language,
                            "speech")
                continue
            repaired = repair_asterisk_text(raw, language)
            if repaired is None:
                yield _Skip(str(path), f"transcript has lost characters ({raw})", language, "speech")
                continue
            text = clean_asterisk_text(repaired)
            if text is None:
                yield _Skip(str(path), f"transcript describes a sound, not speech ({raw})", language, "speech")
                continue
            if not text:
                yield _Skip(str(path), "empty transcript", language, "speech")
                continue
            yield SourceItem(
                path=str(path), source=f"embedded/{spec.name}", domain="speech", license=spec.license,
                language=language, speaker=speaker, text=text,
                item_id=_relative_id(spec.name, path.relative_to(sounds)),
            )


# ----------------------------------------------------------------------------------------------------------
# Fish Fillets NG


_LUA_STRING = r'"((?:[^"\\]|\\.)*)"'
_DIALOG = re.compile(
    r"dialogId\(\s*" + _LUA_STRING + r"\s*,\s*" + _LUA_STRING + r"\s*,\s*" + _LUA_STRING + r"\s*\)"
    r"(?:\s*dialogStr\(\s*" + _LUA_STRING + r"\s*\))?",
    re.S,
)
_LUA_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


def _lua_unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        return chr(int(code)) if code.isdigit() else _LUA_ESCAPES.get(code, code)

    return re.sub(r"\\(\d{1,3}|.)", replace, text)


@dataclass(frozen=True)
class Dialog:
    font: str
    english: str
    translated: str | None

    def text(self, language: str) -> str:
        """English lines are the ``dialogId`` text; other languages use ``dialogStr`` (empty when missing)."""
        return clean_text(self.english if language == "en" else self.translated or "")


def parse_fillets_dialogs(text: str) -> dict[str, Dialog]:
    """``dialogId("<id>", "<font>", "<English>")`` optionally followed by ``dialogStr("<translation>")``."""
    dialogs: dict[str, Dialog] = {}
    for match in _DIALOG.finditer(text):
        ident, font, english, translated = match.groups()
        dialogs.setdefault(
            ident,
            Dialog(font, _lua_unescape(english), None if translated is None else _lua_unescape(translated)),
        )
    return dialogs


class _DialogIndex:
    """All dialog lines of one language: per script folder (a level) and over the whole game.

    Sounds live in ``sound/<level>/<lang>/<id>.ogg`` and most lines in ``script/<level>/dialogs_<lang>.lua``,
    but shared scenes (``blackjokes``, ``border``...) keep theirs in ``script/share/*_dialogs_<lang>.lua``,
    hence the game-wide fallback.
    """

    def __init__(self, scripts: Path, language: str) -> None:
        self.by_level: dict[str, dict[str, Dialog]] = {}
        self.all: dict[str, Dialog] = {}
        for path in sorted(scripts.rglob(f"*dialogs_{language}.lua")):
            dialogs = parse_fillets_dialogs(path.read_text(encoding="utf-8", errors="replace"))
            self.by_level.setdefault(path.parent.name, {}).update(dialogs)
            for ident, dialog in dialogs.items():
                self.all.setdefault(ident, dialog)

    def find(self, level: str, ident: str) -> Dialog | None:
        local = self.by_level.get(level, {})
        for candidate in (ident, ident.replace("_", "-")):
            found = local.get(candidate) or self.all.get(candidate)
            if found is not None:
                return found
        # a numbered take of a line (``-1``, ``2``) whose dialog is unnumbered; only within the same level,
        # where the match cannot be a different scene's line
        stripped = re.sub(r"[-_]?\d+$", "", ident)
        return local.get(stripped) if stripped != ident else None


# Fallback recordings of fillets-ng-data (``sound/<level>/en/``) that are speech, and in which language:
# prefix -> (language, language whose script holds the transcript).
FILLETS_FALLBACK_SPEECH = {"deu-p-": ("de", "en"), "deu-l-": ("ru", "ru")}


def _fillets(context: _Context, spec: PackageSpec) -> Iterator[_Entry]:
    base = context.unpack("fillets-ng-data").root / spec.content_root
    own = context.unpack(spec.name).root / spec.content_root
    source = f"embedded/{spec.name}"
    indexes: dict[str, _DialogIndex] = {}

    def index(language: str) -> _DialogIndex:
        if language not in indexes:
            indexes[language] = _DialogIndex(base / "script", language)
        return indexes[language]

    def item(path: Path, domain: str, language: str | None = None, speaker: str | None = None,
             text: str | None = None) -> SourceItem:
        return SourceItem(
            path=str(path), source=source, domain=domain, license=spec.license, language=language,
            speaker=speaker, text=text, item_id=_relative_id(spec.name, path.relative_to(own)),
        )

    if spec.name == "fillets-ng-data":
        for path in _audio_files(own / "music"):
            yield item(path, "music")
        for path in _audio_files(own / "sound"):
            level, folder = path.parent.parent.name, path.parent.name
            if folder != "en":
                yield item(path, "environment")  # sound/share/: bubbles, impacts
                continue
            ident = path.stem
            for prefix, (language, script_language) in FILLETS_FALLBACK_SPEECH.items():
                if ident.startswith(prefix):
                    dialog = index(script_language).find(level, ident)
                    text = dialog.text(script_language) if dialog else ""
                    if not text:
                        yield _Skip(str(path), "no transcript", language, "speech")
                    else:
                        speaker = f"fillets:en:{dialog.font.removeprefix('font_')}" if dialog else None
                        yield item(path, "speech", language, speaker, text)
                    break
            else:
                dialog = index("en").find(level, ident)
                if dialog is not None and dialog.text("en"):
                    yield _Skip(str(path), f"captioned vocal effect, not clean speech ({dialog.text('en')})",
                                None, "environment")
                else:
                    yield item(path, "music" if "music" in ident else "environment")
        return

    language = spec.name.rsplit("-", 1)[-1]
    for path in _audio_files(own / "sound"):
        if path.parent.name != language:
            continue
        level = path.parent.parent.name
        dialog = index(language).find(level, path.stem)
        if dialog is None:
            yield _Skip(str(path), "no transcript", language, "speech")
            continue
        text = dialog.text(language)
        if not text:
            yield _Skip(str(path), "empty transcript", language, "speech")
            continue
        speaker = f"fillets:{language}:{dialog.font.removeprefix('font_')}" if dialog.font else None
        yield item(path, "speech", language, speaker, text)


# ----------------------------------------------------------------------------------------------------------
# Tux Paint stamps


_LOCALE = r"[a-z]{2,3}(?:_[A-Za-z]{2})?"
_DESC = re.compile(rf"(?P<stamp>.+)_desc(?:_(?P<locale>{_LOCALE}))?")
_LOCALE_RE = re.compile(_LOCALE)


def _strip_audio_suffixes(name: str) -> str:
    """``x_desc_da.ogg.ogg`` (a packaging slip in the real data) -> ``x_desc_da``."""
    while name.lower().endswith(AUDIO_SUFFIXES):
        name = name.rsplit(".", 1)[0]
    return name


def read_stamp_texts(path: Path) -> dict[str, str]:
    """A stamp's ``.txt``: the first line is English, then ``<locale>.utf8=<text>`` lines."""
    texts: dict[str, str] = {}
    lines = [line for line in path.read_text(encoding="utf-8-sig", errors="replace").splitlines() if line.strip()]
    for number, line in enumerate(lines):
        match = re.match(r"^([A-Za-z]{2,3}(?:_[A-Za-z]{2})?(?:@\w+)?)\.utf8=(.*)$", line)
        if match:
            texts.setdefault(match.group(1).lower(), clean_text(match.group(2)))
        elif number == 0:
            texts["en"] = clean_text(line)
    return texts


def _split_locale(base: str, folder: Path) -> tuple[str, str] | None:
    """``7_zh_tw`` -> (``7``, ``zh_tw``) when ``7.txt`` exists: a stamp sound recorded for one locale.

    Every underscore is tried, because both stamp names and locales contain underscores; the stamp's text
    file existing is what makes a split real.
    """
    for position in [i for i, char in enumerate(base) if char == "_"]:
        stamp, locale = base[:position], base[position + 1 :]
        if _LOCALE_RE.fullmatch(locale) and (folder / f"{stamp}.txt").exists():
            return stamp, locale
    return None


def _stamp_text(texts: dict[str, str], locale: str | None) -> str | None:
    if locale is None:
        return texts.get("en")
    locale = locale.lower()
    found = texts.get(locale) or texts.get(locale.split("_")[0])
    if found is None and locale.startswith("en"):
        found = texts.get("en")
    return found


def _locale_language(locale: str | None) -> str:
    return "en" if locale is None else locale.split("_")[0].lower()


def _tuxpaint(context: _Context, spec: PackageSpec) -> Iterator[_Entry]:
    root = context.unpack(spec.name).root / spec.content_root
    source = f"embedded/{spec.name}"
    files = _audio_files(root)
    # stamps whose sound exists in localised versions: their sounds are spoken words (digits, letters)
    localised: set[Path] = set()
    parsed: list[tuple[Path, str, str, str | None]] = []  # path, kind, stamp, locale
    for path in files:
        base = _strip_audio_suffixes(path.name)
        desc = _DESC.fullmatch(base)
        if desc:
            parsed.append((path, "desc", desc.group("stamp"), desc.group("locale")))
            continue
        split = None if (path.parent / f"{base}.txt").exists() else _split_locale(base, path.parent)
        if split is not None:
            parsed.append((path, "spoken", *split))
            localised.add(path.parent / split[0])
            continue
        parsed.append((path, "sound", base, None))
    texts_cache: dict[Path, dict[str, str]] = {}
    for path, kind, stamp, locale in parsed:
        if kind == "sound" and path.parent / stamp not in localised:
            yield SourceItem(
                path=str(path), source=source, domain="environment", license=spec.license,
                item_id=_relative_id(spec.name, path.relative_to(root)),
            )
            continue
        language = _locale_language(locale)
        text_file = path.parent / f"{stamp}.txt"
        if not text_file.exists():
            yield _Skip(str(path), f"no transcript (no {stamp}.txt)", language, "speech")
            continue
        if text_file not in texts_cache:
            texts_cache[text_file] = read_stamp_texts(text_file)
        text = _stamp_text(texts_cache[text_file], locale)
        if text is None:
            yield _Skip(str(path), f"no transcript (no {locale or 'English'} line in {stamp}.txt)", language,
                        "speech")
            continue
        if not text:
            yield _Skip(str(path), "empty transcript", language, "speech")
            continue
        yield SourceItem(
            path=str(path), source=source, domain="speech", license=spec.license, language=language, text=text,
            item_id=_relative_id(spec.name, path.relative_to(root)),
        )


# ----------------------------------------------------------------------------------------------------------
# Music and effects that need no transcript


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
        stem = re.sub(r"[\d_]+$", "", _strip_audio_suffixes(parts[-1]).lower())
        return None if MEGAGLEST_VOICE.search(stem) else "environment"
    if spec.name == "lincity-ng-data":
        return {"music": "music", "sounds": "environment"}.get(parts[0])
    raise AssertionError(f"no layout rule for {spec.name}")


def _files(context: _Context, spec: PackageSpec) -> Iterator[_Entry]:
    root = context.unpack(spec.name).root / spec.content_root
    for path in _audio_files(root):
        rel = path.relative_to(root)
        domain = _files_domain(spec, rel)
        if domain is None:
            continue
        yield SourceItem(
            path=str(path), source=f"embedded/{spec.name}", domain=domain, license=spec.license,
            item_id=_relative_id(spec.name, rel),
        )


def _openmsx(context: _Context, spec: PackageSpec) -> Iterator[_Entry]:
    unpacked = context.unpack(spec.name)
    root = unpacked.root / spec.content_root
    out_dir = context.derived_dir(unpacked) / f"fluidr3_gm-{midi.SAMPLE_RATE}"
    songs = sorted(p for p in root.glob("*.mid") if p.is_file()) if root.is_dir() else []
    soundfont: Path | None = None
    for song in songs:
        out = out_dir / f"{song.stem}.flac"
        if not out.is_file():
            if not midi.tinysoundfont_available():
                yield _Skip(str(song), f"tinysoundfont not installed ({midi.INSTALL_HINT})", None, "music")
                continue
            if soundfont is None:
                soundfont = _find_soundfont(context)
            try:
                midi.render_midi(song, soundfont, out)
            except CodecStudyError as exc:
                yield _Skip(str(song), f"MIDI rendering failed ({exc})", None, "music")
                continue
        yield SourceItem(
            path=str(out), source=f"embedded/{spec.name}", domain="music", license=spec.license,
            item_id=_relative_id(spec.name, song.relative_to(root)),
        )


def _find_soundfont(context: _Context) -> Path:
    found = sorted(context.unpack(SOUNDFONT_PACKAGE).root.rglob(SOUNDFONT_NAME))
    if not found:
        raise CodecStudyError(f"{SOUNDFONT_PACKAGE}: {SOUNDFONT_NAME} not found in the package")
    return found[0]


# ----------------------------------------------------------------------------------------------------------
# OpenTTD OpenSFX: WAV files concatenated in opensfx.cat


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


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _opensfx(context: _Context, spec: PackageSpec) -> Iterator[_Entry]:
    unpacked = context.unpack(spec.name)
    root = unpacked.root / spec.content_root
    out_dir = context.derived_dir(unpacked)
    for cat in sorted(root.glob("*.cat")) if root.is_dir() else []:
        for index, chunk in enumerate(scan_riff(cat.read_bytes())):
            rel = PurePosixPath(cat.name) / f"{index:03d}.wav"
            if chunk.data is None:
                yield _Skip(f"{cat}@{chunk.offset}", chunk.problem or "unusable RIFF chunk", None, "environment")
                continue
            out = out_dir / cat.stem / f"{index:03d}.wav"
            if not (out.is_file() and out.stat().st_size == len(chunk.data)):
                _write_atomic(out, chunk.data)
            yield SourceItem(
                path=str(out), source=f"embedded/{spec.name}", domain="environment",
                license=opensfx_license(chunk.preamble, spec.license), item_id=_relative_id(spec.name, rel),
            )


HANDLERS: dict[str, _Handler] = {
    "asterisk": _asterisk,
    "fillets": _fillets,
    "tuxpaint": _tuxpaint,
    "files": _files,
    "openmsx": _openmsx,
    "opensfx": _opensfx,
}
