"""Robust summaries of a set's per-clip values: median, 10 % trimmed mean and MAD outliers, on known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codecstudy.evaluate import robust


def test_median_and_trimmed_mean_by_hand() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    assert robust.median(values) == 3.0
    assert robust.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    # n = 5: floor(0.1 * 5) = 0 values cut, the plain mean
    assert robust.trimmed_mean(values) == 22.0
    # n = 10: one value cut at each end -> mean of 2..9 = 5.5, whatever the extremes are
    ten = [-1000.0, 2, 3, 4, 5, 6, 7, 8, 9, 1e6]
    assert robust.trimmed_mean(ten) == 5.5
    assert robust.trimmed_mean(ten, trim=0.2) == 5.5  # 2 cut per side: mean of 3..8
    assert robust.trimmed_mean(list(range(1, 21)), trim=0.2) == 10.5
    assert robust.trimmed_mean([1.0, math.nan, 3.0]) == 2.0  # NaN (a failed clip) left out
    assert math.isnan(robust.median([])) and math.isnan(robust.trimmed_mean([math.nan]))
    with pytest.raises(ValueError, match="trim"):
        robust.trimmed_mean(values, trim=0.5)


def test_trimmed_mean_equals_scipy() -> None:
    from scipy.stats import trim_mean

    x = np.random.default_rng(0).standard_cauchy(37)
    assert robust.trimmed_mean(x) == pytest.approx(trim_mean(x, 0.1), abs=1e-12)


def test_outliers_by_scaled_mad() -> None:
    # median 10; |deviations| 0,1,1,2,2,40,-25 -> sorted 0,1,1,2,2,25,40: MAD 2, scale 2.9652;
    # beyond 3 * 2.9652 = 8.8956: 50 (z = 13.49) and -15 (z = -8.43)
    clips = ["a", "b", "c", "d", "e", "f", "g"]
    values = [10.0, 11.0, 9.0, 12.0, 8.0, 50.0, -15.0]
    found = robust.outliers(clips, values)
    assert [o.clip for o in found] == ["f", "g"]
    assert found[0].value == 50.0 and found[0].robust_z == pytest.approx(40 / (1.4826 * 2))
    assert found[1].robust_z == pytest.approx(-25 / (1.4826 * 2))
    assert robust.robust_scale(values) == pytest.approx(2.9652)
    assert robust.outliers(clips, values, z=10.0)[0].clip == "f" and len(robust.outliers(clips, values, z=10.0)) == 1


def test_outliers_when_most_values_tie_and_nan() -> None:
    # MAD = 0 (5 of 7 equal): the scale is 1.2533 * mean |x - median| = 1.2533 * 21 / 7 = 3.7599
    values = [5.0, 5.0, 5.0, 5.0, 5.0, 6.0, 25.0]
    assert robust.robust_scale(values) == pytest.approx(1.2533 * 3.0)
    assert [o.clip for o in robust.outliers(list("abcdefg"), values)] == ["g"]
    assert robust.outliers(["a", "b", "c"], [1.0, 1.0, 1.0]) == []  # all equal: no outlier
    assert [o.clip for o in robust.outliers(list("abcdefgh"), [10, 11, 9, 12, 8, 50, -15, math.nan])] == ["f", "g"]
    with pytest.raises(ValueError, match="clip ids"):
        robust.outliers(["a"], [1.0, 2.0])


def test_summary_of_one_cell() -> None:
    clips = [f"c{i}" for i in range(10)]
    values = [1.0, 2, 3, 4, 5, 6, 7, 8, 9, -60]
    s = robust.summarize(clips, values)
    assert (s.n, s.median, s.trim) == (10, 4.5, 0.1)
    assert s.trimmed_mean == pytest.approx(np.mean([1, 2, 3, 4, 5, 6, 7, 8]))
    assert [o.clip for o in s.outliers] == ["c9"]
