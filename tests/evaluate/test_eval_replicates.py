"""Two levels of noise: calibration on simulated studies with a known run-to-run spread.

Every simulated study scores the same clips with every run of every condition: value = clip difficulty + the
run's offset (seed noise, sd 0.05) + per (run, clip) noise (sd 0.02). Without a condition effect, a clip-level
paired test between one run of each condition rejects most of the time (it sees the two runs' offsets as an
effect); the run-level test rejects at its alpha. With an effect well above the run noise, it is found.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import wilcoxon

from codecstudy.evaluate.replicates import (
    noise_floor,
    run_level_difference,
    run_mean_interval,
    within_noise,
)

ALPHA = 0.05


def _study(rng: np.random.Generator, runs: int, clips: int, effect: float) -> tuple[np.ndarray, np.ndarray]:
    difficulty = rng.normal(0.0, 0.1, clips)

    def condition(shift: float) -> np.ndarray:
        offsets = rng.normal(0.0, 0.05, (runs, 1))
        return difficulty + shift + offsets + rng.normal(0.0, 0.02, (runs, clips))

    return condition(effect), condition(0.0)


def _rates(runs: int, effect: float, trials: int = 400, clips: int = 40) -> tuple[float, float]:
    rng = np.random.default_rng(20261207)
    clip_level = run_level = 0
    for _ in range(trials):
        a, b = _study(rng, runs, clips, effect)
        clip_level += wilcoxon(a[0] - b[0]).pvalue < ALPHA
        run_level += run_level_difference(a.mean(axis=1), b.mean(axis=1))[3] < ALPHA
    return clip_level / trials, run_level / trials


def test_without_a_condition_effect_the_run_level_test_keeps_its_alpha() -> None:
    clip_rate, run_rate = _rates(runs=3, effect=0.0)
    simulation_error = 2.5 * math.sqrt(ALPHA * (1 - ALPHA) / 400)
    assert run_rate <= ALPHA + simulation_error
    assert clip_rate > 0.5  # the clip-level test calls run noise an effect


def test_an_effect_larger_than_the_run_noise_is_found() -> None:
    _, run_rate = _rates(runs=4, effect=0.25)
    assert run_rate > 0.8


def test_intervals_and_the_noise_floor() -> None:
    mean, low, high = run_mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and (low, high) == pytest.approx((2.0 - 4.302653 / math.sqrt(3), 2.0 + 4.302653 / math.sqrt(3)))
    assert math.isnan(run_mean_interval([1.0])[1])
    diff, low, high, p = run_level_difference([1.0, 1.2], [0.0, 0.2])
    assert diff == pytest.approx(1.0) and low < 1.0 < high and 0.0 < p < 1.0
    assert math.isnan(run_level_difference([1.0], [0.0, 0.1])[3])  # one run: no spread to test with
    assert noise_floor([0.80, 0.83]) == pytest.approx(0.03) and math.isnan(noise_floor([0.8]))
    assert within_noise(0.02, 0.03) and not within_noise(0.05, 0.03) and not within_noise(0.02, math.nan)
