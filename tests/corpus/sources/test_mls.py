from __future__ import annotations

from pathlib import Path

import pytest
from helpers.layouts import abs_str, skip_view, split, touch, write_audio, write_text

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.mls import MLSSource
from codecstudy.errors import CodecStudyError


def _language(folder: Path, suffix: str = ".flac") -> Path:
    write_text(
        folder / "train" / "transcripts.txt",
        "10214_10108_000000\tdie katze schläft\n"
        "10214_10108_000001\t   \n"
        "no-tab-here\n"
        "1_2\ttoo few parts\n"
        "10214_10108_000004\tdie datei fehlt\n",
    )
    write_text(folder / "dev" / "transcripts.txt", "2506_11267_000001\tein zweiter sprecher\n")
    write_text(folder / "test" / "transcripts.txt", "")
    audio = folder / "train" / "audio" / "10214" / "10108"
    write_audio(audio / f"10214_10108_000000{suffix}")
    touch(audio / f"10214_10108_000001{suffix}")
    touch(folder / "dev" / "audio" / "2506" / "11267" / f"2506_11267_000001{suffix}")
    return folder


def _item(root: Path, rel: str, speaker: str, text: str, language: str = "de") -> SourceItem:
    return SourceItem(
        path=abs_str(root / rel),
        source="mls",
        domain="speech",
        license="CC-BY-4.0",
        language=language,
        speaker=f"mls:{speaker}",
        text=text,
        item_id=f"mls/{rel.rsplit('.', 1)[0]}",
    )


def test_language_folder(tmp_path: Path) -> None:
    root = _language(tmp_path / "mls_german")
    items, skips = split(MLSSource(root=root).items())
    assert items == [
        _item(root, "train/audio/10214/10108/10214_10108_000000.flac", "10214", "die katze schläft"),
        _item(root, "dev/audio/2506/11267/2506_11267_000001.flac", "2506", "ein zweiter sprecher"),
    ]
    expected = "expected '<speaker>_<book>_<segment>\\t<text>'"
    assert skip_view(skips, root) == [
        ("train/audio/10214/10108/10214_10108_000001.flac", "empty transcript"),
        ("train/transcripts.txt", f"malformed line (transcripts.txt:3: {expected})"),
        ("train/transcripts.txt", f"malformed line (transcripts.txt:4: {expected})"),
        ("train/audio/10214/10108/10214_10108_000004.flac", "audio file not found"),
    ]


def test_opus_release_splits_and_language_option(tmp_path: Path) -> None:
    root = _language(tmp_path / "mls_polish_opus", suffix=".opus")
    items, skips = split(MLSSource(root=root, splits=["train"]).items())
    assert [(i.item_id, i.language) for i in items] == [("mls/train/audio/10214/10108/10214_10108_000000", "pl")]
    assert items[0].path.endswith(".opus")
    # A missing file of the Opus release is reported under its .opus name.
    assert skips[-1].path.endswith("10214_10108_000004.opus")

    renamed = _language(tmp_path / "my_copy")
    with pytest.raises(CodecStudyError, match="cannot tell the language of .*my_copy.*; set language"):
        list(MLSSource(root=renamed).items())
    items, _ = split(MLSSource(root=renamed, language="fr").items())
    assert {i.language for i in items} == {"fr"}


def test_parent_folder_prefers_flac_and_selects_language(tmp_path: Path) -> None:
    _language(tmp_path / "mls_german")
    _language(tmp_path / "mls_german_opus", suffix=".opus")
    _language(tmp_path / "mls_italian")
    _language(tmp_path / "mls_klingon")
    touch(tmp_path / "mls_german.tar.gz")

    items, skips = split(MLSSource(root=tmp_path).items())
    assert sorted({(i.language, i.item_id.split("/")[1]) for i in items}) == [
        ("de", "mls_german"),
        ("it", "mls_italian"),
    ]
    assert skip_view(skips, tmp_path)[0] == ("mls_klingon", "cannot tell the language from the folder name")

    items, skips = split(MLSSource(root=tmp_path, language="it", splits=["dev"]).items())
    assert [i.item_id for i in items] == ["mls/mls_italian/dev/audio/2506/11267/2506_11267_000001"]
    assert skips == []

    with pytest.raises(CodecStudyError, match="no mls_<language> folder for language 'es'"):
        list(MLSSource(root=tmp_path, language="es").items())


def test_missing_split_transcripts(tmp_path: Path) -> None:
    root = _language(tmp_path / "mls_dutch")
    (root / "test" / "transcripts.txt").unlink()
    write_text(root / "test" / "segments.txt", "")
    with pytest.raises(CodecStudyError, match=r"test transcripts not found: .*mls_dutch/test/transcripts\.txt"):
        list(MLSSource(root=root).items())
