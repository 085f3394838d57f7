from __future__ import annotations

from pathlib import Path

import pytest
from helpers.layouts import abs_str, skip_view, split, touch, write_audio, write_text

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.css10 import CSS10Source
from codecstudy.errors import CodecStudyError


def _language(folder: Path, book: str) -> Path:
    write_text(
        folder / "transcript.txt",
        f"{book}/{book}_0000.wav|Der 1. Satz.|Der erste Satz.|3.2\n"
        f"{book}/{book}_0001.wav|Nur Original.||1.1\n"
        f"{book}/{book}_0002.wav|zu|viele|felder|hier|2.0\n"
        f"{book}/{book}_0003.wav|Fehlt.|Fehlt.|1.0\n"
        f"{book}/{book}_0004.wav|Ohne Dauer.|Ohne Dauer.\n"
        f"{book}/{book}_0005.wav| | |0.5\n",
    )
    write_audio(folder / book / f"{book}_0000.wav", sample_rate=22050)
    touch(folder / book / f"{book}_0001.wav")
    touch(folder / book / f"{book}_0004.wav")
    touch(folder / book / f"{book}_0005.wav")
    return folder


def _item(root: Path, rel: str, language: str, text: str) -> SourceItem:
    return SourceItem(
        path=abs_str(root / rel),
        source="css10",
        domain="speech",
        license="public-domain",
        language=language,
        speaker=f"css10:{language}",
        text=text,
        item_id=f"css10/{rel.rsplit('.', 1)[0]}",
    )


def test_language_folder(tmp_path: Path) -> None:
    root = _language(tmp_path / "german", "achtgesichter")
    items, skips = split(CSS10Source(root=root).items())
    assert items == [
        _item(root, "achtgesichter/achtgesichter_0000.wav", "de", "Der erste Satz."),
        _item(root, "achtgesichter/achtgesichter_0001.wav", "de", "Nur Original."),
        _item(root, "achtgesichter/achtgesichter_0004.wav", "de", "Ohne Dauer."),
    ]
    assert skip_view(skips, root) == [
        ("transcript.txt", "malformed line (transcript.txt:3: expected path|text|normalized|duration, got 6 fields)"),
        ("achtgesichter/achtgesichter_0003.wav", "audio file not found"),
        ("achtgesichter/achtgesichter_0005.wav", "empty transcript"),
    ]
    original, _ = split(CSS10Source(root=root, text="original").items())
    assert [i.text for i in original] == ["Der 1. Satz.", "Nur Original.", "Ohne Dauer."]


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(CodecStudyError, match=r"css10: root folder not found: .*absent"):
        list(CSS10Source(root=tmp_path / "absent").items())


def test_parent_folder_names_and_codes(tmp_path: Path) -> None:
    _language(tmp_path / "german-single-speaker-speech-dataset", "a")
    _language(tmp_path / "fi", "b")
    _language(tmp_path / "voynich", "c")
    items, skips = split(CSS10Source(root=tmp_path).items())
    assert [(i.language, i.speaker) for i in items] == [("fi", "css10:fi")] * 3 + [("de", "css10:de")] * 3
    assert skip_view(skips, tmp_path)[0] == ("voynich", "cannot tell the language from the folder name")

    items, skips = split(CSS10Source(root=tmp_path, language="de").items())
    assert {i.language for i in items} == {"de"} and len(items) == 3
    assert not any("voynich" in s.path for s in skips)


def test_language_option_for_unnamed_folder(tmp_path: Path) -> None:
    root = _language(tmp_path / "download", "x")
    with pytest.raises(CodecStudyError, match="cannot tell the language .*; set language"):
        list(CSS10Source(root=root).items())
    items, _ = split(CSS10Source(root=root, language="ja").items())
    assert {i.speaker for i in items} == {"css10:ja"}


def test_no_transcript_anywhere(tmp_path: Path) -> None:
    touch(tmp_path / "german" / "a.wav")
    with pytest.raises(CodecStudyError, match="no folder with transcript.txt in"):
        list(CSS10Source(root=tmp_path).items())
