from __future__ import annotations

from pathlib import Path

import pytest
from helpers.layouts import abs_str, skip_view, split, touch, write_audio, write_text

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources.libritts import LibriSpeechSource, LibriTTSSource
from codecstudy.errors import CodecStudyError


def _libritts(root: Path) -> Path:
    chapter = root / "train-clean-100" / "19" / "198"
    write_audio(chapter / "19_198_000000_000000.wav")
    write_text(chapter / "19_198_000000_000000.normalized.txt", "Chapter one, Mr. Smith.\n")
    write_text(chapter / "19_198_000000_000000.original.txt", "CHAPTER I. Mr Smith.")
    touch(chapter / "19_198_000000_000001.wav")  # no transcript
    write_text(chapter / "19_198_000000_000002.normalized.txt", "Audio is gone.")
    touch(chapter / "19_198_000000_000003.wav")
    write_text(chapter / "19_198_000000_000003.normalized.txt", "  \n")
    write_text(chapter / "19_198.trans.tsv", "ignored\n")
    other = root / "dev-clean" / "84" / "121123"
    touch(other / "84_121123_000007_000000.wav")
    write_text(other / "84_121123_000007_000000.normalized.txt", "Dev text.")
    write_text(root / "SPEAKERS.txt", "not a folder\n")
    return root


def _item(root: Path, rel: str, kind: str, speaker: str, text: str) -> SourceItem:
    return SourceItem(
        path=abs_str(root / rel),
        source=kind,
        domain="speech",
        license="CC-BY-4.0",
        language="en",
        speaker=f"librispeech:{speaker}",
        text=text,
        item_id=f"{kind}/{rel.rsplit('.', 1)[0]}",
    )


def test_libritts_items_and_skips(tmp_path: Path) -> None:
    root = _libritts(tmp_path / "LibriTTS")
    items, skips = split(LibriTTSSource(root=root).items())
    assert items == [
        _item(root, "dev-clean/84/121123/84_121123_000007_000000.wav", "libritts", "84", "Dev text."),
        _item(root, "train-clean-100/19/198/19_198_000000_000000.wav", "libritts", "19", "Chapter one, Mr. Smith."),
    ]
    chapter = "train-clean-100/19/198"
    assert skip_view(skips, root) == [
        (f"{chapter}/19_198_000000_000001.wav", "no transcript (19_198_000000_000001.normalized.txt missing)"),
        (f"{chapter}/19_198_000000_000002.wav", "audio file not found"),
        (f"{chapter}/19_198_000000_000003.wav", "empty transcript"),
    ]


def test_libritts_subsets_original_text_and_subset_root(tmp_path: Path) -> None:
    root = _libritts(tmp_path / "LibriTTS")
    items, _ = split(LibriTTSSource(root=root, subsets=["train-clean-100"], text="original").items())
    assert [i.text for i in items] == ["CHAPTER I. Mr Smith."]
    # A subset folder given as the root works too.
    items, _ = split(LibriTTSSource(root=root / "dev-clean").items())
    assert [i.item_id for i in items] == ["libritts/84/121123/84_121123_000007_000000"]
    with pytest.raises(CodecStudyError, match=r"subset folder not found: .*test-other"):
        list(LibriTTSSource(root=root, subsets=["test-other"]).items())
    with pytest.raises(CodecStudyError, match="no subset folders"):
        list(LibriTTSSource(root=tmp_path / "LibriTTS" / "dev-clean" / "84" / "121123").items())


def _librispeech(root: Path) -> Path:
    chapter = root / "dev-clean" / "1272" / "128104"
    write_text(
        chapter / "1272-128104.trans.txt",
        "1272-128104-0000 MISTER QUILTER IS THE APOSTLE\n"
        "1272-128104-0001 NOR IS MISTER QUILTER'S MANNER\n"
        "garbage-line\n"
        "1272-128104-0003\n"
        "1272-128104-0004 THE AUDIO IS MISSING\n",
    )
    write_audio(chapter / "1272-128104-0000.flac")
    touch(chapter / "1272-128104-0001.wav")  # a user-converted copy
    touch(chapter / "1272-128104-0003.flac")
    touch(chapter / "1272-128104-0009.flac")  # not in the transcript
    lost = root / "dev-clean" / "1462" / "170138"
    touch(lost / "1462-170138-0000.flac")  # chapter without .trans.txt
    return root


def test_librispeech_items_and_skips(tmp_path: Path) -> None:
    root = _librispeech(tmp_path / "LibriSpeech")
    items, skips = split(LibriSpeechSource(root=root).items())
    chapter = "dev-clean/1272/128104"
    assert items == [
        _item(root, f"{chapter}/1272-128104-0000.flac", "librispeech", "1272", "MISTER QUILTER IS THE APOSTLE"),
        _item(root, f"{chapter}/1272-128104-0001.wav", "librispeech", "1272", "NOR IS MISTER QUILTER'S MANNER"),
    ]
    assert skip_view(skips, root) == [
        (
            f"{chapter}/1272-128104.trans.txt",
            "malformed line (1272-128104.trans.txt:3: expected '<speaker>-<chapter>-<n> TEXT', got 'garbage-line')",
        ),
        (f"{chapter}/1272-128104-0003.flac", "empty transcript"),
        (f"{chapter}/1272-128104-0004.flac", "audio file not found"),
        (f"{chapter}/1272-128104-0009.flac", "no transcript (not in 1272-128104.trans.txt)"),
        ("dev-clean/1462/170138/1462-170138-0000.flac", "no transcript (not in 1462-170138.trans.txt)"),
    ]


def test_librispeech_and_libritts_share_speaker_ids(tmp_path: Path) -> None:
    tts, _ = split(LibriTTSSource(root=_libritts(tmp_path / "a")).items())
    asr, _ = split(LibriSpeechSource(root=_librispeech(tmp_path / "b")).items())
    assert {i.speaker for i in tts} | {i.speaker for i in asr} == {
        "librispeech:19",
        "librispeech:84",
        "librispeech:1272",
    }
