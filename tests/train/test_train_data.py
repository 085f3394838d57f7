"""Audio cache (ranges, resampling, resumable build) and the seeded crop sampler (sharding, balance, position)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.trainsetup import write_corpus

from codecstudy.corpus.manifest import load_manifest
from codecstudy.corpus.records import Clip
from codecstudy.errors import CodecStudyError
from codecstudy.train.data import (
    AudioCache,
    CachedClip,
    CropDataset,
    CropSampler,
    even_subset,
    training_entries,
)


def test_cache_reads_the_clip_range_at_the_codec_rate_and_resumes(tmp_path, monkeypatch):
    clips = load_manifest(write_corpus(tmp_path / "corpus", clips=2))
    cache = AudioCache(tmp_path / "cache", 16000)
    entries = cache.build(clips, show_progress=False)
    by_id = {e.clip.id: e for e in entries}
    ranged = by_id["train/long-range"]
    assert ranged.frames == 24000  # 1.5 s of a 22.05 kHz file, resampled to 16 kHz
    source, rate = sf.read(ranged.clip.path, dtype="float32")
    from codecstudy import audio

    expected = audio.resample(source[int(1.0 * rate) : int(2.5 * rate)], rate, 16000)
    np.testing.assert_allclose(AudioCache.load(ranged), expected, atol=2 / 32767)

    # a second build decodes nothing: every entry is already there
    def fail(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr("codecstudy.train.data._decode", fail)
    again = cache.build(clips, show_progress=False)
    assert [e.path for e in again] == [e.path for e in entries]


def test_interrupted_cache_build_leaves_no_partial_entry(tmp_path, monkeypatch):
    clips = load_manifest(write_corpus(tmp_path / "corpus", clips=3))
    cache = AudioCache(tmp_path / "cache", 16000)
    real_save = np.save
    calls = {"n": 0}

    def dying_save(path, array):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_save(path, array)

    monkeypatch.setattr("codecstudy.train.data.np.save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        cache.build(clips, show_progress=False)
    monkeypatch.setattr("codecstudy.train.data.np.save", real_save)
    assert len(list(cache.folder.rglob("*.npy"))) == 1  # the finished one; the torn one was never renamed
    entries = cache.build(clips, show_progress=False)
    assert len(entries) == len(clips)


def _entries(lengths: list[int], groups: list[str] | None = None) -> list[CachedClip]:
    out = []
    for i, n in enumerate(lengths):
        language, domain = (groups[i].split("/") if groups else ("en", "speech"))
        clip = Clip(id=f"c{i}", path=f"/x/{i}.wav", start=0.0, duration=n / 16000, sample_rate=16000,
                    language=language, domain=domain, speaker=None, text=None, source="t", license="x")
        out.append(CachedClip(clip, Path(f"/nonexistent/{i}.npy"), n))  # the sampler never opens files
    return out


def test_sampler_is_a_function_of_seed_and_step_and_shards_like_one_process():
    entries = _entries([16000, 32000, 8000, 48000])
    one = CropSampler(entries, 4000, batch_size=8, seed=3)
    assert one.batch(5) == one.batch(5)
    assert one.batch(5) != one.batch(6)
    shards = [CropSampler(entries, 4000, batch_size=8, seed=3, rank=r, world_size=2) for r in range(2)]
    for step in range(4):
        assert shards[0].batch(step) + shards[1].batch(step) == one.batch(step)
    for step in range(20):
        for index, start in one.batch(step):
            assert 0 <= start <= entries[index].frames - 4000


def test_uniform_sampling_follows_duration_and_balanced_sampling_follows_groups():
    groups = ["en/speech", "en/speech", "en/speech", "none/music"]
    entries = _entries([64000, 64000, 64000, 16000], groups)
    uniform = CropSampler(entries, 8000, batch_size=64, seed=0)
    balanced = CropSampler(entries, 8000, batch_size=64, seed=0, balanced=True)
    count_u, count_b = Counter(), Counter()
    for step in range(30):
        count_u.update(groups[i] for i, _ in uniform.batch(step))
        count_b.update(groups[i] for i, _ in balanced.batch(step))
    share_u = count_u["none/music"] / sum(count_u.values())
    share_b = count_b["none/music"] / sum(count_b.values())
    assert share_u == pytest.approx(8001 / (3 * 56001 + 8001), abs=0.02)  # proportional to crop positions
    assert share_b == pytest.approx(0.5, abs=0.05)


def test_sampler_state_round_trip_and_mismatch():
    entries = _entries([16000, 16000])
    sampler = CropSampler(entries, 4000, batch_size=4, seed=1)
    sampler.position = 17
    other = CropSampler(entries, 4000, batch_size=4, seed=1)
    other.load_state_dict(sampler.state_dict())
    assert other.position == 17
    with pytest.raises(CodecStudyError, match="seed"):
        CropSampler(entries, 4000, batch_size=4, seed=2).load_state_dict(sampler.state_dict())


def test_dataset_item_is_a_batch_of_crops(tmp_path):
    clips = load_manifest(write_corpus(tmp_path / "corpus", clips=2))
    entries = AudioCache(tmp_path / "cache", 16000).build(clips, show_progress=False)
    sampler = CropSampler(entries, 4000, batch_size=3, seed=0)
    batch = CropDataset(entries, sampler)[11]
    assert batch.shape == (3, 1, 4000) and batch.dtype.is_floating_point
    index, start = sampler.batch(11)[0]
    np.testing.assert_array_equal(batch[0, 0].numpy(), AudioCache.load(entries[index], start, 4000))


def test_clips_shorter_than_the_segment_are_a_clear_error():
    entries = _entries([8000, 12000])
    with pytest.raises(CodecStudyError) as err:
        training_entries(entries, 1.0, 16000, "short.jsonl")
    message = str(err.value)
    assert "short.jsonl" in message and "train.segment_seconds=1" in message and "0.75 s" in message
    assert "\n" not in message
    assert len(training_entries(entries, 0.6, 16000, "x")) == 1


def test_even_subset_is_deterministic_and_spread():
    entries = _entries([16000] * 10)
    picked = even_subset(list(reversed(entries)), 4)
    assert [e.clip.id for e in picked] == ["c0", "c3", "c6", "c9"]
    assert len(even_subset(entries, None)) == 10
