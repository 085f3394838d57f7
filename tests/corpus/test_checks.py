"""Every kind of bad input is rejected with a reason; good input becomes clips with the right labels."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.audio import tone

from codecstudy.corpus.checks import ClipPolicy, inspect_item, segment_bounds
from codecstudy.corpus.records import SourceItem


def item(path, domain="speech", text="hello there", **kw) -> SourceItem:
    return SourceItem(path=str(path), source="test", domain=domain, license="CC0", language="en", text=text, **kw)


def raw(folder, name: str, data: bytes):
    path = folder / name
    path.write_bytes(data)
    return path


def reasons(result) -> list[str]:
    return [s.reason for s in result[1]]


POLICY = ClipPolicy()


def test_good_speech_clip_keeps_labels_and_length(write_wav):
    path = write_wav("a.wav", tone(1.5))
    clips, skipped = inspect_item(item(path, speaker="test:s1", item_id="test/a"), POLICY)
    assert skipped == []
    assert len(clips) == 1
    clip = clips[0]
    assert (clip.id, clip.language, clip.speaker, clip.text, clip.sample_rate) == (
        "test/a",
        "en",
        "test:s1",
        "hello there",
        16000,
    )
    assert clip.duration == pytest.approx(1.5)
    assert clip.group == str(path)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda w, tmp: w("silent.wav", np.zeros(16000, np.float32)), "silent"),
        (lambda w, tmp: w("quiet.wav", tone(1.0, amp=1e-4)), "silent"),
        (lambda w, tmp: w("short.wav", tone(0.2)), "too short (0.20s < clips.min_duration 0.5s)"),
        (
            lambda w, tmp: w(
                "nan.wav", np.where(np.arange(16000) == 100, np.nan, tone(1.0)).astype(np.float32), subtype="FLOAT"
            ),
            "contains NaN or infinite samples",
        ),
        (lambda w, tmp: w("low.wav", tone(1.0, 4000), 4000), "sample rate 4000 Hz below clips.min_sample_rate 8000"),
        (lambda w, tmp: raw(tmp, "empty.wav", b""), "empty file (0 bytes)"),
        (lambda w, tmp: raw(tmp, "junk.wav", b"RIFF\x00\x01junk" * 50), "unreadable audio"),
        (lambda w, tmp: raw(tmp, "junk.ogg", bytes(range(256)) * 8), "unreadable audio"),
        (lambda w, tmp: tmp / "missing.wav", "file not found"),
    ],
)
def test_bad_input_is_skipped_with_reason(write_wav, tmp_path, make, expected):
    path = make(write_wav, tmp_path)
    clips, skipped = inspect_item(item(path), POLICY)
    assert clips == []
    assert len(skipped) == 1
    assert skipped[0].reason.startswith(expected)
    assert skipped[0].path == str(path)


def test_empty_transcript_is_skipped_before_decoding(tmp_path):
    # the file does not even exist: the transcript check comes first and names the right reason
    assert reasons(inspect_item(item(tmp_path / "x.wav", text="  "), POLICY)) == ["empty transcript"]
    relaxed = ClipPolicy(require_text=False)
    assert reasons(inspect_item(item(tmp_path / "x.wav", text=""), relaxed)) == ["file not found"]


def test_multichannel_is_mixed_down_or_skipped(write_wav):
    left, right = tone(1.0, freq=200), tone(1.0, freq=300)
    path = write_wav("stereo.wav", np.stack([left, right], axis=1))
    clips, _ = inspect_item(item(path), POLICY)
    assert clips[0].channels == 2
    clips, skipped = inspect_item(item(path), ClipPolicy(multichannel="skip"))
    assert clips == [] and skipped[0].reason.startswith("multi-channel (2 channels)")


def test_odd_sample_rate_above_minimum_is_kept(write_wav):
    path = write_wav("odd.wav", tone(1.0, 11025), 11025)
    clips, _ = inspect_item(item(path), POLICY)
    assert clips[0].sample_rate == 11025


def test_long_music_is_cut_into_segments_and_silent_segments_dropped(write_wav):
    music = np.concatenate([tone(20.0), np.zeros(10 * 16000, np.float32), tone(10.3)])  # 40.3 s
    path = write_wav("song.flac", music)
    clips, skipped = inspect_item(item(path, domain="music", text=None, item_id="test/song"), POLICY)
    # 20-30 s is silent; the 0.3 s remainder is below min_duration
    assert [c.id for c in clips] == ["test/song#0000", "test/song#0001", "test/song#0003"]
    assert [c.start for c in clips] == [0.0, 10.0, 30.0]
    assert [c.duration for c in clips] == pytest.approx([10.0, 10.0, 10.0])
    assert len(skipped) == 1 and skipped[0].reason.startswith("silent at 20.0s")
    assert all(c.group == str(path) for c in clips)


def test_segment_bounds_drop_short_remainder():
    policy = ClipPolicy(segment_seconds=2.0, min_duration=0.5)
    assert segment_bounds(16000 * 5, 16000, policy, cut=True) == [(0, 32000), (32000, 64000), (64000, 80000)]
    assert segment_bounds(16000 * 4 + 100, 16000, policy, cut=True) == [(0, 32000), (32000, 64000)]
    assert segment_bounds(123, 16000, policy, cut=False) == [(0, 123)]


def test_item_range_is_respected(write_wav):
    path = write_wav("long.wav", tone(5.0))
    clips, _ = inspect_item(item(path, start=1.0, duration=2.0, item_id="test/long@1"), POLICY)
    assert clips[0].start == pytest.approx(1.0) and clips[0].duration == pytest.approx(2.0)
