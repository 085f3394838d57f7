"""PairScorer: a clip a metric cannot score (shorter than its minimum, or NotApplicable) is a skip, not a failure."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.evalsignals import RATE, speech, with_noise

from codecstudy.evaluate.pair import PairScorer
from codecstudy.evaluate.settings import EvalSettings

pytest.importorskip("pystoi", reason="pystoi is in the eval extra")


def test_a_clip_shorter_than_the_minimum_is_skipped_not_failed() -> None:
    x = speech()[3200:3200 + int(0.3 * RATE)]  # 0.3 s of speech: below STOI's 0.5121 s, above PESQ's 0.25 s
    scorer = PairScorer(EvalSettings(metrics=["stoi", "si_snr"]))
    record = scorer.score("short", x, with_noise(x, 20), RATE, {"domain": "speech"})
    assert record["skipped"] == {"stoi": "not applicable: shorter than 0.5121 s (clip is 0.300 s)"}
    assert record["errors"] == {} and "stoi" not in record["metrics"] and "si_snr" in record["metrics"]


def test_a_metric_raising_not_applicable_is_skipped_not_failed() -> None:
    pytest.importorskip("pyworld", reason="pyworld is in the eval extra")
    noise = 0.05 * np.random.default_rng(2).standard_normal(RATE)  # a reference without a voiced frame
    scorer = PairScorer(EvalSettings(metrics=["f0_corr"], mode="fast", overrides={"f0_corr": {"frames": "robust"}}))
    record = scorer.score("noise", noise, with_noise(noise, 20), RATE, {"domain": "speech"})
    assert record["errors"] == {}
    assert record["skipped"]["f0_corr"].startswith("not applicable: ")
    assert "no voiced frame in the reference" in record["skipped"]["f0_corr"]


def test_a_clip_shorter_than_worlds_window_is_not_applicable_to_the_world_metrics() -> None:
    pytest.importorskip("pyworld", reason="pyworld is in the eval extra")
    x = speech()[3200:3200 + int(0.05 * RATE)]  # 50 ms: 800 samples, below WORLD's 1024-sample FFT
    for mode in ("fast", "parity"):
        scorer = PairScorer(EvalSettings(metrics=["mcd", "f0_corr", "mel_distance"], mode=mode))
        record = scorer.score("fragment", x, with_noise(x, 20), RATE, {"domain": "speech"})
        assert record["errors"] == {}, mode
        reason = "not applicable: shorter than WORLD's analysis window (800 samples < FFT size 1024)"
        assert record["skipped"] == {"mcd": reason, "f0_corr": reason}, mode
        assert "mel_distance" in record["metrics"]
