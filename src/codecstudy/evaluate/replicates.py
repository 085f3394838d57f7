"""Conditions compared over training runs, not only over clips: two levels of noise.

A study's tables are labelled by condition ("multilingual coverage"), so their claims are about coverage, whose
unit of replication is the training run: retraining the same condition with another seed moves a set's mean by as
much as changing the data can. A clip-level paired test answers "is this trained instance better on these clips?";
here the question is "is this coverage better?".

The model is the one-way random-effects model with the run as the unit: each run of a condition is summarised by
its mean over the set's clips (the same clips for every run and condition), and the run means of a condition vary
around its true mean by the run-to-run spread (seed, data order, initialisation) plus what the clips add. With R
runs the uncertainty of the condition mean is ``s / sqrt(R)`` with a t distribution on R-1 degrees of freedom, and
a difference between two conditions is Welch's t on their run means (the runs of two conditions are independent:
seed 0 of one is not paired with seed 0 of the other). With the few runs a study can afford (2-5) this is the
honest interval: the t quantile carries the cost of estimating the run spread from so few runs, where a bootstrap
over 2-3 runs would understate it and pass differences a reseed reverses. A mark needs both: the difference holds
over runs (this test) and over clips (the clip-level paired test on the run-averaged clip values).

A study with one run per condition has no run-to-run spread to test with; a *noise probe* trains a condition a
second time with another seed, and the absolute difference of its two runs' means per set and metric is the
*noise floor*: a condition difference smaller than it is "within training noise".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def run_mean_interval(run_means: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of a condition over its runs: the mean of the run means and its t interval (NaN bounds
    with one run: the spread over runs is unknown)."""
    values = np.asarray(run_means, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return mean, mean - half, mean + half


def run_level_difference(a_runs: Sequence[float], b_runs: Sequence[float],
                         level: float = 0.95) -> tuple[float, float, float, float]:
    """(difference a - b, low, high, two-sided p) of two conditions' means over their runs: Welch's t on the run
    means (NaN interval and p when a condition has fewer than two runs or both spreads are zero)."""
    a = np.asarray(a_runs, dtype=np.float64)
    b = np.asarray(b_runs, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan, math.nan, math.nan
    diff = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return diff, math.nan, math.nan, math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        return diff, diff, diff, (1.0 if diff == 0.0 else 0.0)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df) * se)
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    return diff, diff - half, diff + half, p


def noise_floor(run_means: Sequence[float]) -> float:
    """The run-to-run difference of one condition trained several times (a noise probe): the largest absolute
    difference between two of its runs' means (NaN with fewer than two runs)."""
    values = np.asarray(run_means, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.max() - values.min()) if values.size >= 2 else math.nan


def within_noise(difference: float, floor: float) -> bool:
    """True when a condition difference is smaller than the measured run-to-run difference."""
    return math.isfinite(floor) and math.isfinite(difference) and abs(difference) < floor
