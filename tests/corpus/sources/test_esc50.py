from __future__ import annotations

from pathlib import Path

import pytest
from helpers.layouts import abs_str, skip_view, split, touch, write_audio, write_text

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources import make_source
from codecstudy.corpus.sources.esc50 import ESC50Source
from codecstudy.errors import CodecStudyError, ConfigError


def _esc50(root: Path) -> Path:
    write_text(
        root / "meta" / "esc50.csv",
        "filename,fold,target,category,esc10,src_file,take\n"
        "1-100032-A-0.wav,1,0,dog,True,100032,A\n"
        "1-100032-B-0.wav,1,0,dog,True,100032,B\n"
        "2-102414-A-17.wav,2,17,pouring_water,False,102414,A\n"
        "3-1234-A-1.wav,x,1,rooster,False,1234,A\n"
        "4-9999-A-40.wav,4,40,helicopter,False,9999,A\n"
        "5-1-A-2.wav,5,2\n",
    )
    write_audio(root / "audio" / "1-100032-A-0.wav", sample_rate=44100)
    touch(root / "audio" / "1-100032-B-0.wav")
    touch(root / "audio" / "2-102414-A-17.wav")
    return root


def _item(root: Path, name: str, category: str, src_file: str) -> SourceItem:
    return SourceItem(
        path=abs_str(root / "audio" / name),
        source="esc50",
        domain="environment",
        license="CC-BY-NC-3.0",
        group=f"esc50:{src_file}",
        item_id=f"esc50/audio/{name[:-4]}",
        labels=(category,),
    )


def test_items_groups_and_skips(tmp_path: Path) -> None:
    root = _esc50(tmp_path / "ESC-50-master")
    items, skips = split(ESC50Source(root=root).items())
    assert items == [
        _item(root, "1-100032-A-0.wav", "dog", "100032"),
        _item(root, "1-100032-B-0.wav", "dog", "100032"),
        _item(root, "2-102414-A-17.wav", "pouring_water", "102414"),
    ]
    # Both takes of one Freesound recording share a group, so a split never separates them.
    assert items[0].group == items[1].group != items[2].group
    assert skip_view(skips, root) == [
        ("meta/esc50.csv", "malformed line (esc50.csv:5: fold 'x' is not a number)"),
        ("audio/4-9999-A-40.wav", "audio file not found"),
        ("meta/esc50.csv", "malformed line (esc50.csv:7: wrong number of fields)"),
    ]


def test_folds_and_esc10(tmp_path: Path) -> None:
    root = _esc50(tmp_path)
    items, _ = split(ESC50Source(root=root, folds=[2, 4]).items())
    assert [i.labels for i in items] == [("pouring_water",)]
    items, _ = split(ESC50Source(root=root, esc10_only=True).items())
    assert [i.labels for i in items] == [("dog",), ("dog",)]
    with pytest.raises(ConfigError, match="folds"):
        make_source({"kind": "esc50", "root": str(root), "folds": [6]})


def test_missing_metadata(tmp_path: Path) -> None:
    with pytest.raises(CodecStudyError, match=r"esc50: metadata file not found: .*meta/esc50\.csv"):
        list(ESC50Source(root=tmp_path).items())
