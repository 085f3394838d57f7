from __future__ import annotations

from pathlib import Path

import pytest
from helpers.layouts import abs_str, skip_view, split, touch, write_audio, write_text

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.commonvoice import CommonVoiceSource
from codecstudy.errors import CodecStudyError

HEADER = "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents\n"
CLIENT_A = "a" * 64 + "0123"
CLIENT_B = "b" * 128


def _row(client: str, path: str, sentence: str) -> str:
    return f"{client}\t{path}\tsid\t{sentence}\t\t2\t0\t\t\t\n"


def _locale(folder: Path) -> Path:
    write_text(
        folder / "validated.tsv",
        HEADER
        + _row(CLIENT_A, "common_voice_de_1.mp3", 'Ein "Satz" mit Anführungszeichen.')
        + _row(CLIENT_B, "common_voice_de_2.mp3", "   ")
        + "only\ttwo fields\n"
        + _row(CLIENT_B, "common_voice_de_3.mp3", "Die Datei fehlt.")
        + _row(CLIENT_B, "", "Kein Pfad.")
        + _row(CLIENT_B, "common_voice_de_5", "Alter Name ohne Endung."),
    )
    write_text(folder / "test.tsv", HEADER + _row(CLIENT_A, "common_voice_de_2.mp3", "Test split."))
    write_audio(folder / "clips" / "common_voice_de_1.wav")  # a real file, under another name
    touch(folder / "clips" / "common_voice_de_1.mp3")
    touch(folder / "clips" / "common_voice_de_2.mp3")
    touch(folder / "clips" / "common_voice_de_5.mp3")
    return folder


def _item(root: Path, rel: str, client: str, text: str, language: str = "de") -> SourceItem:
    return SourceItem(
        path=abs_str(root / rel),
        source="commonvoice",
        domain="speech",
        license="CC0-1.0",
        language=language,
        speaker=f"commonvoice:{client[:16]}",
        text=text,
        item_id=f"commonvoice/{rel.rsplit('.', 1)[0]}",
    )


def test_locale_folder(tmp_path: Path) -> None:
    root = _locale(tmp_path / "de")
    items, skips = split(CommonVoiceSource(root=root).items())
    assert items == [
        _item(root, "clips/common_voice_de_1.mp3", CLIENT_A, 'Ein "Satz" mit Anführungszeichen.'),
        _item(root, "clips/common_voice_de_5.mp3", CLIENT_B, "Alter Name ohne Endung."),
    ]
    assert items[0].speaker == "commonvoice:aaaaaaaaaaaaaaaa"
    assert skip_view(skips, root) == [
        ("clips/common_voice_de_2.mp3", "empty transcript"),
        ("validated.tsv", "malformed line (validated.tsv:4: wrong number of fields)"),
        ("clips/common_voice_de_3.mp3", "audio file not found"),
        ("validated.tsv", "malformed line (validated.tsv:6: empty path)"),
    ]


def test_subset_and_release_folder(tmp_path: Path) -> None:
    _locale(tmp_path / "cv-corpus" / "de")
    _locale(tmp_path / "cv-corpus" / "zh-CN")
    root = tmp_path / "cv-corpus"
    items, _ = split(CommonVoiceSource(root=root, subset="test").items())
    assert [(i.item_id, i.language, i.text) for i in items] == [
        ("commonvoice/de/clips/common_voice_de_2", "de", "Test split."),
        ("commonvoice/zh-CN/clips/common_voice_de_2", "zh-CN", "Test split."),
    ]
    items, _ = split(CommonVoiceSource(root=root, subset="test", language="zh-CN").items())
    assert [i.language for i in items] == ["zh-CN"]
    with pytest.raises(CodecStudyError, match="no locale folder with dev.tsv in"):
        list(CommonVoiceSource(root=root, subset="dev").items())


def test_missing_column(tmp_path: Path) -> None:
    write_text(tmp_path / "en" / "validated.tsv", "client_id\tfilename\ttext\nx\ty\tz\n")
    with pytest.raises(CodecStudyError, match=r"validated\.tsv has no column path, sentence"):
        list(CommonVoiceSource(root=tmp_path / "en").items())
