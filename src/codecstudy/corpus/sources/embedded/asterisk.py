"""Asterisk IVR prompts: G.722 speech, transcripts from the ``core-sounds-<lang>.txt`` of a sibling package.

The transcript files need care (annotations, entries run together, Italian accents lost to ``?``), which is why
parsing, cleaning and repair are separate, individually tested functions.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.embedded.common import Context, Entry, Skip, audio_files, clean_text, relative_id
from codecstudy.corpus.sources.embedded.packages import PackageSpec
from codecstudy.errors import CodecStudyError


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


def asterisk_entries(context: Context, spec: PackageSpec) -> Iterator[Entry]:
    language = spec.name.removeprefix("asterisk-core-sounds-").removesuffix("-g722")
    sounds = context.unpack(spec.name).root / spec.content_root
    notes = context.unpack(spec.needs[0]).root
    transcript_files = sorted(notes.rglob("core-sounds-*.txt*"))
    if not transcript_files:
        raise CodecStudyError(f"{spec.needs[0]}: no core-sounds-*.txt transcript file in the package")
    voices = sorted(p for p in sounds.iterdir() if p.is_dir()) if sounds.is_dir() else []
    files = {voice: audio_files(voice) for voice in voices}
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
                yield Skip(str(path), f"no transcript (no line '{key}' in {transcript_files[0].name})", language,
                            "speech")
                continue
            repaired = repair_asterisk_text(raw, language)
            if repaired is None:
                yield Skip(str(path), f"transcript has lost characters ({raw})", language, "speech")
                continue
            text = clean_asterisk_text(repaired)
            if text is None:
                yield Skip(str(path), f"transcript describes a sound, not speech ({raw})", language, "speech")
                continue
            if not text:
                yield Skip(str(path), "empty transcript", language, "speech")
                continue
            yield SourceItem(
                path=str(path), source=f"embedded/{spec.name}", domain="speech", license=spec.license,
                language=language, speaker=speaker, text=text,
                item_id=relative_id(spec.name, path.relative_to(sounds)),
            )
