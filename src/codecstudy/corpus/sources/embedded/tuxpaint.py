"""Tux Paint stamps: spoken descriptions in about ten languages, spoken digits and letters, and stamp sounds.

A stamp's ``.txt`` holds its text in every language; which sound is speech is decided by the file names
(``_desc``, a locale suffix), see :func:`tuxpaint_entries`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.embedded.common import (
    Context,
    Entry,
    Skip,
    audio_files,
    clean_text,
    relative_id,
    strip_audio_suffixes,
)
from codecstudy.corpus.sources.embedded.packages import PackageSpec

_LOCALE = r"[a-z]{2,3}(?:_[A-Za-z]{2})?"
_DESC = re.compile(rf"(?P<stamp>.+)_desc(?:_(?P<locale>{_LOCALE}))?")
_LOCALE_RE = re.compile(_LOCALE)


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


def tuxpaint_entries(context: Context, spec: PackageSpec) -> Iterator[Entry]:
    root = context.unpack(spec.name).root / spec.content_root
    source = f"embedded/{spec.name}"
    files = audio_files(root)
    # stamps whose sound exists in localised versions: their sounds are spoken words (digits, letters)
    localised: set[Path] = set()
    parsed: list[tuple[Path, str, str, str | None]] = []  # path, kind, stamp, locale
    for path in files:
        base = strip_audio_suffixes(path.name)
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
                item_id=relative_id(spec.name, path.relative_to(root)),
            )
            continue
        language = _locale_language(locale)
        text_file = path.parent / f"{stamp}.txt"
        if not text_file.exists():
            yield Skip(str(path), f"no transcript (no {stamp}.txt)", language, "speech")
            continue
        if text_file not in texts_cache:
            texts_cache[text_file] = read_stamp_texts(text_file)
        text = _stamp_text(texts_cache[text_file], locale)
        if text is None:
            yield Skip(str(path), f"no transcript (no {locale or 'English'} line in {stamp}.txt)", language,
                        "speech")
            continue
        if not text:
            yield Skip(str(path), "empty transcript", language, "speech")
            continue
        yield SourceItem(
            path=str(path), source=source, domain="speech", license=spec.license, language=language, text=text,
            item_id=relative_id(spec.name, path.relative_to(root)),
        )
