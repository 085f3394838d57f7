"""Pieces shared by the dataset layouts: ids, paths, line reading, language folders, transcript items.

Every dataset source reports the same problems with the same words (``audio file not found``, ``empty
transcript``, ``malformed line (file:N: ...)``), so that the builder's per-reason counts add up across
datasets; keeping the wording here is what guarantees that.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from codecstudy.audio import G722_SUFFIXES, GSM_SUFFIXES
from codecstudy.corpus.records import SkippedItem, SourceItem
from codecstudy.corpus.sources.base import DatasetSource, SourceOutput
from codecstudy.errors import CodecStudyError

#: File name endings treated as audio when walking a folder: what libsndfile opens from its header, plus the
#: headerless telephony formats that :mod:`codecstudy.audio` decodes itself. Kept here rather than asked of
#: soundfile because libsndfile names formats, not file endings, and ``RAW`` must not match everything.
AUDIO_SUFFIXES: frozenset[str] = frozenset(
    {
        ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".aifc", ".au", ".snd",
        ".caf", ".w64", ".rf64", ".voc", ".sd2", ".paf", ".svx", ".nist", ".sph", ".htk", ".xi", ".ircam",
        ".sf", ".pvf", ".mpc", ".wve", ".avr",
    }
    | set(G722_SUFFIXES)
    | set(GSM_SUFFIXES)
)

#: Language folder names of the multilingual layouts (MLS ``mls_<name>``, CSS10 folders) -> ISO 639-1.
LANGUAGE_NAMES: dict[str, str] = {
    "english": "en",
    "german": "de",
    "dutch": "nl",
    "french": "fr",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "polish": "pl",
    "greek": "el",
    "finnish": "fi",
    "hungarian": "hu",
    "japanese": "ja",
    "russian": "ru",
    "chinese": "zh",
}

AUDIO_NOT_FOUND = "audio file not found"
EMPTY_TRANSCRIPT = "empty transcript"


def abs_path(path: Path) -> str:
    """Absolute, normalised, but not symlink-resolved: users often link datasets in, and ids must not move."""
    return os.path.abspath(path)


def relative_id(kind: str, root: Path, path: Path) -> str:
    """``<kind>/<path relative to root, without suffix>``: stable across machines and unique within a dataset."""
    relative = Path(os.path.relpath(os.path.abspath(path), os.path.abspath(root))).as_posix()
    stem, dot, suffix = relative.rpartition(".")
    # Strip only a real file suffix, not a dot inside a folder name.
    if dot and "/" not in suffix:
        relative = stem
    return f"{kind}/{relative}"


def speaker_id(kind: str, raw: str) -> str:
    """Speaker ids are prefixed so that ``p225`` of one dataset is never taken for ``p225`` of another."""
    return f"{kind}:{raw}"


def malformed(file: Path, line: int, detail: str) -> str:
    """Reason for an unparsable metadata line; the part before `` (`` is what the builder counts by."""
    return f"malformed line ({file.name}:{line}: {detail})"


def require_file(kind: str, path: Path, what: str) -> Path:
    """A metadata file the layout cannot do without: its absence is a user error, not a skipped item."""
    if not path.is_file():
        raise CodecStudyError(f"{kind}: {what} not found: {path}")
    return path


def require_dir(kind: str, path: Path, what: str) -> Path:
    if not path.is_dir():
        raise CodecStudyError(f"{kind}: {what} not found: {path}")
    return path


def subdirs(folder: Path) -> list[Path]:
    """Sorted visible sub-folders: sorted so that every run yields items in the same order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def files_with_suffix(folder: Path, suffixes: Iterable[str]) -> list[Path]:
    """Sorted visible files of ``folder`` (not recursive) whose name ends with one of ``suffixes``."""
    wanted = tuple(s.lower() for s in suffixes)
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.name.lower().endswith(wanted) and not p.name.startswith(".") and p.is_file()
    )


def walk_audio(folder: Path, suffixes: Iterable[str] = AUDIO_SUFFIXES) -> Iterator[Path]:
    """Audio files under ``folder`` in sorted depth-first order, hidden files and folders left out.

    Hidden entries are skipped because copies from macOS carry ``._name.wav`` resource forks that look like
    audio but are not.
    """
    wanted = frozenset(s.lower() for s in suffixes)
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in wanted:
                yield Path(current) / name


def find_with_suffix(stem_path: Path, suffixes: Iterable[str]) -> Path | None:
    """The first of ``stem_path + suffix`` that exists; for layouts shipped in several audio formats."""
    for suffix in suffixes:
        candidate = stem_path.with_name(stem_path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers (UTF-8, BOM tolerated), newline stripped, streamed."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield number, line


def choose_text(original: str, normalized: str, which: str) -> str:
    """The ``which`` column of layouts that ship both; normalized falls back to the original where it is blank,
    since a line whose normalisation was left out still has a usable transcript."""
    if which == "normalized" and normalized.strip():
        return normalized
    return original


def read_transcript(path: Path) -> str:
    """A one-utterance text file; undecodable bytes are replaced so one bad file cannot stop a whole scan."""
    return path.read_text(encoding="utf-8-sig", errors="replace")


def delimited_rows(
    path: Path, delimiter: str, required: Iterable[str | tuple[str, ...]], kind: str
) -> Iterator[tuple[int, dict[str, str] | None]]:
    """Stream a CSV/TSV with a header as ``(line number, row)``; ``row`` is None when the field count is off.

    It does not hold the file in memory (Common Voice's ``validated.tsv`` has millions of rows) and it keeps line
    numbers for the skip reasons. A header
    without a ``required`` column (a tuple: one of those) is a user error: nothing in the file could be used.
    """
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        header = next(reader, None)
        if header is None:
            raise CodecStudyError(f"{kind}: {path} is empty (expected a header line)")
        header = [name.strip() for name in header]
        missing = [
            " or ".join(names)
            for names in ((n,) if isinstance(n, str) else n for n in required)
            if not any(name in header for name in names)
        ]
        if missing:
            raise CodecStudyError(f"{kind}: {path} has no column {', '.join(missing)} (header: {', '.join(header)})")
        for fields in reader:
            line = reader.line_num
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(header):
                yield line, None
                continue
            yield line, dict(zip(header, fields))


def language_code(name: str) -> str | None:
    """ISO 639-1 code named by a folder: ``mls_german_opus`` -> ``de``, ``german-single-speaker`` -> ``de``."""
    for token in re.split(r"[^a-z]+", name.lower()):
        if token in LANGUAGE_NAMES:
            return LANGUAGE_NAMES[token]
        if token in LANGUAGE_NAMES.values():
            return token
    return None


def language_folders(
    kind: str,
    root: Path,
    language: str | None,
    is_language_folder: Callable[[Path], bool],
    code_of: Callable[[str], str | None],
    what: str,
) -> tuple[list[tuple[Path, str]], list[Path]]:
    """Resolve ``root`` to ``(folder, language)`` pairs, for layouts shipped one folder per language.

    ``root`` may be one language folder (its language is ``language`` if given, else read from its name) or a
    folder holding several (``language``, if given, then selects one of them). Returns the pairs and the
    language folders whose language cannot be told, for the caller to report as skipped rather than drop.
    """
    if is_language_folder(root):
        code = language or code_of(root.name)
        if code is None:
            raise CodecStudyError(f"{kind}: cannot tell the language of {root} from its name; set language")
        return [(root, code)], []
    found: list[tuple[Path, str]] = []
    unknown: list[Path] = []
    for child in subdirs(root):
        if not is_language_folder(child):
            continue
        code = code_of(child.name)
        if code is None:
            if language is None:
                unknown.append(child)
        elif language is None or code == language:
            found.append((child, code))
    if not found and not unknown:
        which = f" for language {language!r}" if language else ""
        raise CodecStudyError(f"{kind}: no {what}{which} in {root} or its sub-folders")
    return found, unknown


def transcribed_item(
    source: DatasetSource,
    audio: Path,
    text: str | None,
    *,
    language: str,
    speaker: str | None,
    license: str,
    group: str | None = None,
) -> SourceOutput:
    """A speech item from a transcript entry, or the reason it cannot be used (missing audio, no text).

    ``speaker`` is the full, already prefixed id (see :func:`speaker_id`). Missing audio is checked first: an
    entry without its file is a hole in the dataset whatever its text says.
    """
    path = abs_path(audio)
    if not audio.is_file():
        return SkippedItem(path, source.name, AUDIO_NOT_FOUND)
    cleaned = (text or "").strip()
    if not cleaned:
        return SkippedItem(path, source.name, EMPTY_TRANSCRIPT)
    return SourceItem(
        path=path,
        source=source.name,
        domain="speech",
        license=license,
        language=language,
        speaker=speaker,
        text=cleaned,
        group=group,
        item_id=relative_id(source.kind, source.root, audio),
    )
