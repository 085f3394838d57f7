"""Codebook usage, entropy and bitrate."""

from __future__ import annotations

import numpy as np
import pytest

from codecstudy.evaluate.metrics import usage


def test_bitrate_matches_the_paper_arithmetic() -> None:
    assert usage.bitrate(8, 1024, 50.0) == 4000.0
    assert usage.bitrate(1, 256, 50.0) == 400.0


def test_entropy_uniform_collapsed_and_empty() -> None:
    counts = np.array([[5, 5, 5, 5], [20, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(usage.entropy_bits(counts), [2.0, 0.0, 0.0])


def test_usage_summary_over_clips() -> None:
    clips = [
        np.array([[0, 1, 2, 3], [0, 0, 0, 0], [9, 9, 9, 9]]),
        np.array([[0, 1, 2, 3, 0, 1], [1, 1, 1, 1, 1, 1], [9] * 6]),
    ]
    counts = usage.code_counts(clips, n_q=2, codebook_size=4)
    assert counts.tolist() == [[3, 3, 2, 2], [4, 6, 0, 0]]
    summary = usage.usage_summary(counts, frame_rate=50.0)
    assert summary["bitrate_bps"] == 200.0
    assert summary["frames"] == 10
    assert summary["per_codebook"][0]["used_fraction"] == 1.0
    assert summary["per_codebook"][1]["used_fraction"] == 0.5
    ent = usage.entropy_bits(counts)
    assert summary["entropy_bitrate_bps"] == pytest.approx(ent.sum() * 50.0)
    assert summary["efficiency"] == pytest.approx(ent.sum() / 4.0)
    with pytest.raises(ValueError):
        usage.code_counts(clips, n_q=4, codebook_size=4)
