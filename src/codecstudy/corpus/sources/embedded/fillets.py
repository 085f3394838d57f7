"""Fish Fillets NG: acted dialogue (Czech, Dutch) with text from the game's Lua scripts, plus music and effects.

``fillets-ng-data`` has no English dialogue audio: its ``sound/<level>/en/`` folders hold language-neutral
fallbacks, among them a German-speaking parrot and a Russian-speaking elk (:data:`FILLETS_FALLBACK_SPEECH`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.embedded.common import Context, Entry, Skip, audio_files, clean_text, relative_id
from codecstudy.corpus.sources.embedded.packages import PackageSpec

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


def fillets_entries(context: Context, spec: PackageSpec) -> Iterator[Entry]:
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
            speaker=speaker, text=text, item_id=relative_id(spec.name, path.relative_to(own)),
        )

    if spec.name == "fillets-ng-data":
        for path in audio_files(own / "music"):
            yield item(path, "music")
        for path in audio_files(own / "sound"):
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
                        yield Skip(str(path), "no transcript", language, "speech")
                    else:
                        speaker = f"fillets:en:{dialog.font.removeprefix('font_')}" if dialog else None
                        yield item(path, "speech", language, speaker, text)
                    break
            else:
                dialog = index("en").find(level, ident)
                if dialog is not None and dialog.text("en"):
                    yield Skip(str(path), f"captioned vocal effect, not clean speech ({dialog.text('en')})",
                                None, "environment")
                else:
                    yield item(path, "music" if "music" in ident else "environment")
        return

    language = spec.name.rsplit("-", 1)[-1]
    for path in audio_files(own / "sound"):
        if path.parent.name != language:
            continue
        level = path.parent.parent.name
        dialog = index(language).find(level, path.stem)
        if dialog is None:
            yield Skip(str(path), "no transcript", language, "speech")
            continue
        text = dialog.text(language)
        if not text:
            yield Skip(str(path), "empty transcript", language, "speech")
            continue
        speaker = f"fillets:{language}:{dialog.font.removeprefix('font_')}" if dialog.font else None
        yield item(path, "speech", language, speaker, text)
