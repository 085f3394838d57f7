"""The scorer with codecs codecstudy does not train: settings by name, measured bitrates, per-clip failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.evalsignals import speech

from codecstudy import audio
from codecstudy.codec.external.opus import Opus
from codecstudy.corpus.manifest import save_manifest
from codecstudy.corpus.records import Clip
from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.aggregate import load_results, summarize
from codecstudy.evaluate.outputs import read_results
from codecstudy.evaluate.scorer import evaluate_codec
from codecstudy.evaluate.settings import EvalSettings

TEXTS = ["hello world", "the quick brown fox", "yes"]


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("set")
    clips = []
    for i, text in enumerate(TEXTS):
        x = speech(text, 22050).astype(np.float32)
        path = audio.write(root / f"c{i}.wav", x, 22050)
        clips.append(Clip(id=f"c{i}", path=str(path), start=0.0, duration=x.size / 22050, sample_rate=22050,
                          language="en", domain="speech", speaker="espeak", text=text, source="test",
                          license="test", split="test"))
    return save_manifest(root / "en.jsonl", clips)


def settings(tmp: Path) -> EvalSettings:
    return EvalSettings(metrics=["si_snr", "mel_distance"], mode="fast", ref_cache=tmp / "cache", threads=1)


def test_a_classic_codec_is_scored_per_setting_with_its_measured_bitrate(eval_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "opus"
    summary = evaluate_codec("opus:6kbps:12kbps", eval_set, out, None, settings(tmp_path), sample_rate=16000)
    assert summary.scored == len(TEXTS)
    for name, nominal in (("6kbps", 6000), ("12kbps", 12000)):
        records = read_results(out / name)
        assert len(records) == len(TEXTS)
        for r in records:
            assert r["setting"] == name and r["n_q"] is None and r["bitrate_bps"] == nominal
            assert r["measured_bitrate_bps"] == pytest.approx(nominal, rel=0.10)
            assert r["alignment"]["delay_samples"] == 104 and r["sample_rate"] == 16000
            assert r["condition"] == "opus-6kbps-12kbps"
            assert r["metrics"]["si_snr"] is not None
    meta = json.loads((out / "meta.json").read_text())
    assert meta["settings"] == ["6kbps", "12kbps"] and meta["n_q"] is None
    assert meta["codec"]["kind"] == "opus" and "no Ogg" in meta["codec"]["measured_bitrate_counts"]
    # the table keeps the two settings apart
    rows = summarize(load_results([out]), {"si_snr": "higher"}, n_boot=10)
    assert sorted(r.n_q for r in rows) == ["12kbps", "6kbps"]
    means = {r.n_q: r.mean for r in rows}
    assert means["12kbps"] > means["6kbps"]


def test_a_codec_scored_at_another_rate_is_resampled_both_ways(eval_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "codec2"
    evaluate_codec("codec2:3200", eval_set, out, None, settings(tmp_path), sample_rate=16000)
    for r in read_results(out / "3200"):
        assert r["codec_sample_rate"] == 8000 and r["sample_rate"] == 16000
        assert abs(r["alignment"]["length_ref"] - r["duration_s"] * 16000) <= 1
        assert r["alignment"]["length_est"] >= r["alignment"]["length_ref"]
    # Codec2 states no delay: one is calibrated over the set (parametric, so from the envelope) and every clip gets it
    delay = json.loads((out / "meta.json").read_text())["delay"]["3200"]
    assert delay["source"] == "calibration", delay
    assert {r["alignment"]["delay_samples"] for r in read_results(out / "3200")} == {delay["samples"]}


def test_a_clip_the_codec_fails_on_is_recorded_and_the_rest_scored(eval_set: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = Opus.roundtrip

    def fragile(self, wave, setting):
        if wave.size < 16000:  # "yes" is the only clip under a second
            raise RuntimeError("packet too small\nsecond line")
        return real(self, wave, setting)

    monkeypatch.setattr(Opus, "roundtrip", fragile)
    out = tmp_path / "fragile"
    summary = evaluate_codec("opus:6kbps", eval_set, out, None, settings(tmp_path), sample_rate=16000)
    records = {r["clip"]: r for r in read_results(out / "6kbps")}
    assert summary.failed_metrics == {"clip": 1}
    assert records["c2"]["error"] == "codec failed: RuntimeError: packet too small"
    assert records["c2"]["metrics"] == {}
    assert records["c0"]["metrics"]["si_snr"] is not None and "error" not in records["c0"]


def test_a_setting_the_codec_lacks_is_refused_before_any_work(eval_set: Path, tmp_path: Path) -> None:
    with pytest.raises(CodecStudyError, match="offers: 6kbps, 8kbps"):
        evaluate_codec("opus", eval_set, tmp_path / "x", ["7kbps"], settings(tmp_path))
    assert not (tmp_path / "x").exists()
