from __future__ import annotations

from pathlib import Path

import pytest
from helpers.layouts import abs_str, skip_view, split, touch, write_audio, write_text

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.vctk import VCTKSource
from codecstudy.errors import CodecStudyError


def _vctk_092(root: Path) -> Path:
    write_text(root / "txt" / "p225" / "p225_001.txt", "Please call Stella.\n")
    write_text(root / "txt" / "p225" / "p225_002.txt", "Ask her to bring these things.\n")
    write_text(root / "txt" / "p225" / "p225_003.txt", "\n")
    write_text(root / "txt" / "p226" / "p226_001.txt", "Six spoons of fresh snow peas.")
    audio = root / "wav48_silence_trimmed"
    write_audio(audio / "p225" / "p225_001_mic1.flac", sample_rate=48000)
    touch(audio / "p225" / "p225_001_mic2.flac")
    touch(audio / "p225" / "p225_003_mic1.flac")
    touch(audio / "p225" / "p225_003_mic2.flac")
    touch(audio / "p226" / "p226_001_mic2.flac")
    touch(audio / "p315" / "p315_001_mic1.flac")  # p315's texts were lost
    write_text(root / "speaker-info.txt", "ID AGE GENDER ACCENTS\n")
    return root


def _item(root: Path, rel: str, speaker: str, text: str) -> SourceItem:
    return SourceItem(
        path=abs_str(root / rel),
        source="vctk",
        domain="speech",
        license="CC-BY-4.0",
        language="en",
        speaker=f"vctk:{speaker}",
        text=text,
        item_id=f"vctk/{rel.rsplit('.', 1)[0]}",
    )


def test_release_092(tmp_path: Path) -> None:
    root = _vctk_092(tmp_path / "VCTK-Corpus-0.92")
    items, skips = split(VCTKSource(root=root).items())
    assert items == [_item(root, "wav48_silence_trimmed/p225/p225_001_mic1.flac", "p225", "Please call Stella.")]
    assert skip_view(skips, root) == [
        ("wav48_silence_trimmed/p225/p225_002_mic1.flac", "audio file not found"),
        ("wav48_silence_trimmed/p225/p225_003_mic1.flac", "empty transcript"),
        ("wav48_silence_trimmed/p226/p226_001_mic1.flac", "audio file not found"),
        ("wav48_silence_trimmed/p315/p315_001_mic1.flac", "no transcript"),
    ]


def test_mic2(tmp_path: Path) -> None:
    root = _vctk_092(tmp_path)
    items, skips = split(VCTKSource(root=root, mic="mic2").items())
    assert [(i.item_id, i.speaker) for i in items] == [
        ("vctk/wav48_silence_trimmed/p225/p225_001_mic2", "vctk:p225"),
        ("vctk/wav48_silence_trimmed/p226/p226_001_mic2", "vctk:p226"),
    ]
    assert [s.reason for s in skips] == ["audio file not found", "empty transcript"]


def test_old_release(tmp_path: Path) -> None:
    root = tmp_path / "VCTK-Corpus"
    write_text(root / "txt" / "p225" / "p225_001.txt", "Please call Stella.")
    touch(root / "wav48" / "p225" / "p225_001.wav")
    items, skips = split(VCTKSource(root=root).items())
    assert items == [_item(root, "wav48/p225/p225_001.wav", "p225", "Please call Stella.")]
    assert skips == []


def test_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(CodecStudyError, match=r"vctk: transcript folder not found: .*/txt"):
        list(VCTKSource(root=tmp_path).items())
    (tmp_path / "txt").mkdir()
    with pytest.raises(CodecStudyError, match=r"vctk: audio folder not found: .*wav48_silence_trimmed"):
        list(VCTKSource(root=tmp_path).items())
