"""SyntheticSource: counts and labels, readable files, idempotent reruns and byte-identical regeneration."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from codecstudy import audio
from codecstudy.corpus import espeak
from codecstudy.corpus.records import SkippedItem, SourceItem
from codecstudy.corpus.sources import make_source
from codecstudy.corpus.sources.synthetic import SENTENCES, SyntheticSource
from codecstudy.errors import ConfigError

needs_espeak = pytest.mark.skipif(not espeak.available(), reason="espeak-ng unavailable (pip install espeakng-loader)")

SMALL = dict(
    languages=["en", "de"],
    speakers_per_language=2,
    utterances_per_speaker=2,
    music_clips=3,
    environment_clips=5,
    clip_seconds=1.0,
    seed=3,
)


def small(out_dir: Path, **changes: object) -> SyntheticSource:
    return SyntheticSource(out_dir=out_dir, **{**SMALL, **changes})


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticSource, list]:
    source = small(tmp_path_factory.mktemp("synthetic"))
    return source, list(source.items())


def wav_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_registered_under_its_kind(tmp_path: Path) -> None:
    source = make_source({"kind": "synthetic", "out_dir": str(tmp_path)})
    assert isinstance(source, SyntheticSource) and source.name == "synthetic"
    assert source.languages == ["en", "es", "fr", "it", "nl", "cs", "de"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"languages": ["en", "tlh"]}, "tlh"),
        ({"languages": ["en", "en"]}, "repeat"),
        ({"music_clips": -1}, "music_clips"),
        ({"clip_seconds": 0}, "clip_seconds"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_settings_name_the_key(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_source({"kind": "synthetic", "out_dir": str(tmp_path), **change})


@needs_espeak
def test_counts_and_labels(generated) -> None:
    source, items = generated
    assert all(isinstance(item, SourceItem) for item in items)
    by_domain = {d: [i for i in items if i.domain == d] for d in ("speech", "music", "environment")}
    assert [len(by_domain[d]) for d in ("speech", "music", "environment")] == [8, 3, 5]
    assert len({i.item_id for i in items}) == len(items)
    assert all(i.source == "synthetic" and i.license == "generated" for i in items)

    speech = by_domain["speech"]
    assert {i.speaker for i in speech} == {"synthetic:en-0", "synthetic:en-1", "synthetic:de-0", "synthetic:de-1"}
    for item in speech:
        assert item.text in SENTENCES[item.language]
        assert re.fullmatch(rf"synthetic/speech/{item.language}/[0-3]", item.item_id)
        assert item.speaker.startswith(f"synthetic:{item.language}-")
    assert [i.labels for i in by_domain["music"]] == [("chords",), ("melody",), ("arpeggio",)]
    assert [i.labels[0] for i in by_domain["environment"]] == ["wind", "rain", "footsteps", "chirps", "hum"]
    assert by_domain["environment"][2].item_id == "synthetic/environment/footsteps/2"
    assert all(i.language is None and i.speaker is None for i in by_domain["music"] + by_domain["environment"])


@needs_espeak
def test_files_are_readable_at_the_configured_rate(generated) -> None:
    source, items = generated
    for item in items:
        samples, rate = audio.read(item.path)
        assert rate == 16000 and np.all(np.isfinite(samples)) and audio.peak_db(samples) > -20
        seconds = len(samples) / rate
        if item.domain == "speech":
            assert 1.0 < seconds < 8.0
        else:
            assert seconds == pytest.approx(source.clip_seconds)
    assert not list(source.out_dir.rglob(".*.tmp*")), "temporary files left behind"


@needs_espeak
def test_second_run_reuses_files(generated) -> None:
    source, items = generated
    before = {i.path: Path(i.path).stat().st_mtime_ns for i in items}
    again = list(source.items())
    assert again == items
    assert {i.path: Path(i.path).stat().st_mtime_ns for i in again} == before


@needs_espeak
def test_same_seed_same_bytes_in_another_folder(generated, tmp_path: Path) -> None:
    source, _ = generated
    list(small(tmp_path).items())
    assert wav_files(tmp_path) == wav_files(source.out_dir)


@needs_espeak
def test_a_deleted_file_comes_back_identical(tmp_path: Path) -> None:
    source = small(tmp_path, languages=["fr"], speakers_per_language=1, music_clips=1, environment_clips=1)
    items = list(source.items())
    originals = {i.path: Path(i.path).read_bytes() for i in items}
    for path in originals:
        Path(path).unlink()
    list(source.items())
    assert {path: Path(path).read_bytes() for path in originals} == originals


def test_seed_and_settings_change_the_output(tmp_path: Path) -> None:
    def music(**changes: object) -> tuple[str, bytes]:
        config = dict(languages=[], music_clips=1, environment_clips=0, **changes)
        (item,) = list(small(tmp_path, **config).items())
        return Path(item.path).name, Path(item.path).read_bytes()

    base = music()
    other_seed, other_rate = music(seed=4), music(sample_rate=8000)
    assert len({base[0], other_seed[0], other_rate[0]}) == 3  # never mistaken for each other's cached file
    assert base[1] != other_seed[1]
    assert audio.info(tmp_path / "music" / "chords" / other_rate[0]).sample_rate == 8000


def test_without_espeak_speech_is_skipped_and_the_rest_still_built(monkeypatch, tmp_path: Path) -> None:
    reason = "espeak-ng is not available: ... Install it with: pip install espeakng-loader==0.2.4"
    monkeypatch.setattr(espeak, "unavailable_reason", lambda: reason)
    items = list(small(tmp_path).items())
    skipped = [i for i in items if isinstance(i, SkippedItem)]
    built = [i for i in items if isinstance(i, SourceItem)]
    assert len(skipped) == 8 and all("pip install espeakng-loader==0.2.4" in s.reason for s in skipped)
    assert all(s.source == "synthetic" and "/speech/" in s.path for s in skipped)
    assert sorted(i.domain for i in built) == ["environment"] * 5 + ["music"] * 3
    assert all(Path(i.path).is_file() for i in built)


@needs_espeak
def test_existing_speech_is_used_even_when_espeak_is_gone(generated, monkeypatch) -> None:
    source, items = generated
    monkeypatch.setattr(espeak, "unavailable_reason", lambda: "gone")
    assert list(source.items()) == items


@needs_espeak
def test_speakers_differ_and_keep_their_voice_when_more_are_added(tmp_path: Path) -> None:
    two = small(tmp_path, speakers_per_language=2).speech_plan("en")
    five = small(tmp_path, speakers_per_language=5).speech_plan("en")
    assert five[: len(two)] == two
    voices = {voice for _, _, voice, _ in five}
    assert len(voices) == 5 and len({v.variant for v in voices}) == 5
