"""Delay compensation, length matching and the exact DTW."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers.evalsignals import RATE, delayed, speech

from codecstudy.evaluate import align
from codecstudy.evaluate.base import MetricError


@pytest.mark.parametrize("delay", [0, 1, 37, 320, -25])
def test_the_given_delay_is_removed_and_the_clip_lag_only_recorded(delay: int) -> None:
    ref = speech()
    est = delayed(ref, delay) if delay >= 0 else np.concatenate([ref[-delay:], np.zeros(-delay)])
    out, info = align.align_pair(ref, est, RATE, delay=delay)
    assert info.delay == delay and info.clip_lag == delay and info.clip_correlation == pytest.approx(1.0, abs=0.02)
    assert out.size == ref.size
    keep = slice(400, ref.size - 400)
    np.testing.assert_allclose(out[keep], ref[keep], atol=1e-12)
    # the pair's own lag is a diagnostic: with the codec's delay at 0 nothing is shifted, whatever the clip says
    out, info = align.align_pair(ref, est, RATE, delay=0)
    assert info.delay == 0 and info.clip_lag == delay
    np.testing.assert_array_equal(out, est)


def test_length_mismatch_rule() -> None:
    ref = speech()
    out, _ = align.align_pair(ref, ref[: ref.size - 100], RATE)
    assert out.size == ref.size and np.all(out[-100:] == 0)
    with pytest.raises(MetricError, match="length mismatch"):
        align.align_pair(ref, ref[: ref.size // 2], RATE)
    assert align.length_mismatch(10, 20) == pytest.approx(1 / 3)


def _brute_dtw(a: np.ndarray, b: np.ndarray) -> float:
    cost = align.pairwise_euclidean(a, b)
    n, m = cost.shape
    acc = np.full((n, m), np.inf)
    for i, j in itertools.product(range(n), range(m)):
        prev = (
            0.0
            if i == j == 0
            else min(
                acc[i - 1, j - 1] if i and j else np.inf, acc[i - 1, j] if i else np.inf, acc[i, j - 1] if j else np.inf
            )
        )
        acc[i, j] = cost[i, j] + prev
    return float(acc[-1, -1])


@pytest.mark.parametrize("kernel", ["default", "numpy"])
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (3, 9), (17, 17), (40, 25)])
def test_exact_dtw_matches_brute_force(shape: tuple[int, int], kernel: str, monkeypatch) -> None:
    if kernel == "numpy":  # the fallback used when numba is not installed
        monkeypatch.setattr(align, "_KERNEL", [None])
    rng = np.random.default_rng(sum(shape))
    a, b = rng.standard_normal((shape[0], 4)), rng.standard_normal((shape[1], 4))
    cost, path = align.dtw_path(a, b)
    assert cost == pytest.approx(_brute_dtw(a, b))
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (shape[0] - 1, shape[1] - 1)
    steps = np.diff(path, axis=0)
    assert np.all((steps >= 0) & (steps <= 1)) and np.all(steps.sum(1) >= 1)
    assert cost == pytest.approx(align.pairwise_euclidean(a, b)[path[:, 0], path[:, 1]].sum())


def test_exact_dtw_is_never_worse_than_fastdtw() -> None:
    pytest.importorskip("fastdtw")
    rng = np.random.default_rng(3)
    a = np.cumsum(rng.standard_normal((120, 3)), axis=0)
    b = np.cumsum(rng.standard_normal((90, 3)), axis=0)
    exact, _ = align.dtw_path(a, b)
    path = align.fastdtw_path(a, b)
    approx = align.pairwise_euclidean(a, b)[path[:, 0], path[:, 1]].sum()
    assert exact <= approx + 1e-9
    with pytest.raises(MetricError):
        align.dtw_path(np.zeros((0, 3)), b)
