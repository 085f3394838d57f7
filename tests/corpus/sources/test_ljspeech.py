from __future__ import annotations

from pathlib import Path

import pytest
from helpers.layouts import abs_str, skip_view, split, touch, write_audio, write_text

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources import make_source
from codecstudy.corpus.sources.ljspeech import LJSpeechSource
from codecstudy.errors import CodecStudyError


def _tree(root: Path) -> Path:
    write_text(
        root / "metadata.csv",
        'LJ001-0001|Printing, in the "only" sense|Printing, in the "only" sense\n'
        "LJ001-0002|in 1450 A.D.|in fourteen fifty A D\n"
        "LJ001-0003|   |   \n"
        "LJ001-0004 with no pipes\n"
        "\n"
        "LJ001-0005|missing audio|missing audio\n"
        "LJ001-0006|no normalized text|\n",
    )
    write_audio(root / "wavs" / "LJ001-0001.wav")
    for n in (2, 3, 4, 6):
        touch(root / "wavs" / f"LJ001-000{n}.wav")
    return root


def test_items_and_skips(tmp_path: Path) -> None:
    root = _tree(tmp_path / "LJSpeech-1.1")
    items, skips = split(LJSpeechSource(root=root).items())

    def item(n: int, text: str) -> SourceItem:
        return SourceItem(
            path=abs_str(root / "wavs" / f"LJ001-000{n}.wav"),
            source="ljspeech",
            domain="speech",
            license="public-domain",
            language="en",
            speaker="ljspeech:LJ",
            text=text,
            item_id=f"ljspeech/wavs/LJ001-000{n}",
        )

    assert items == [
        item(1, 'Printing, in the "only" sense'),
        item(2, "in fourteen fifty A D"),
        item(6, "no normalized text"),
    ]
    assert skip_view(skips, root) == [
        ("wavs/LJ001-0003.wav", "empty transcript"),
        ("metadata.csv", "malformed line (metadata.csv:4: expected id|text|normalized, got 1 fields)"),
        ("wavs/LJ001-0005.wav", "audio file not found"),
    ]


def test_original_text(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    items, _ = split(make_source({"kind": "ljspeech", "root": str(root), "text": "original"}).items())
    assert [i.text for i in items] == ['Printing, in the "only" sense', "in 1450 A.D.", "no normalized text"]


def test_missing_root_and_metadata(tmp_path: Path) -> None:
    with pytest.raises(CodecStudyError, match="root folder not found"):
        list(LJSpeechSource(root=tmp_path / "nope").items())
    with pytest.raises(CodecStudyError, match=r"metadata file not found: .*metadata\.csv"):
        list(LJSpeechSource(root=tmp_path).items())
