"""The statistics behind the tables: bootstrap intervals (plain and clustered), the paired sign-flip
permutation test and the Holm correction. Pure functions of arrays, seeded so that a table is reproducible."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.stats import wilcoxon

from codecstudy.errors import CodecStudyError

#: Paired tests by the name ``--test``/``report.test`` gives them; ``bootstrap`` is the former name of the
#: permutation test (it was a paired bootstrap, which reported p = 0 whenever no resample crossed zero).
PAIRED_TESTS = {"wilcoxon": "wilcoxon", "permutation": "sign-flip permutation", "bootstrap": "sign-flip permutation"}
#: Up to this many non-zero paired differences the sign-flip test enumerates all 2^n sign patterns (65536 at 16).
MAX_EXACT_FLIPS = 16
#: Names a record's cluster: the unit that is sampled independently, e.g. the listener of a rating. Functions
#: that take one treat every record as its own unit when it is None.
Cluster = Callable[[dict[str, Any]], str]


def bootstrap_ci(
    values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (or of ``sum(values) / sum(weights)`` when weights are given)."""
    n = values.size
    if n == 0:
        return math.nan, math.nan
    if n == 1:
        v = float(values[0] / weights[0]) if weights is not None else float(values[0])
        return v, v
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    if weights is None:
        stats = values[idx].mean(axis=1)
    else:
        stats = values[idx].sum(axis=1) / np.maximum(weights[idx].sum(axis=1), 1e-12)
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1.0 - alpha))


def cluster_ci(
    values: np.ndarray, clusters: list[str], n_boot: int = 1000, seed: int = 0, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """Cluster bootstrap CI of ``sum(values) / sum(weights)`` (weights default to 1, i.e. the mean): clusters are
    drawn with replacement and bring all their values, so values that are correlated within a cluster are not
    counted as independent evidence."""
    weights = np.ones_like(values) if weights is None else weights
    return bootstrap_ci(cluster_sums(values, clusters), n_boot, seed, weights=cluster_sums(weights, clusters))


def cluster_sums(values: np.ndarray, clusters: list[str]) -> np.ndarray:
    """The sum of ``values`` per cluster, in cluster-name order (so seeded resamples do not follow record order)."""
    index = {c: i for i, c in enumerate(sorted(set(clusters)))}
    at = np.array([index[c] for c in clusters], dtype=np.intp)
    return np.bincount(at, weights=values, minlength=len(index))


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN entries stay NaN and are not counted)."""
    valid = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    m = len(valid)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(valid)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


@lru_cache(maxsize=MAX_EXACT_FLIPS + 1)
def _all_signs(n: int) -> np.ndarray:
    """Every pattern of n signs, one per row (2^n x n of +-1): the exact null distribution's support."""
    signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2.0 - 1.0
    signs.flags.writeable = False
    return signs


def sign_flip_p(diff: np.ndarray, n_resamples: int = 1000, seed: int = 0, max_exact: int = MAX_EXACT_FLIPS) -> float:
    """Two-sided p-value of a paired sign-flip permutation test of the mean difference.

    Under the null hypothesis each paired difference is as likely to have the opposite sign, so the observed
    ``|sum(diff)|`` is ranked among the sums with the signs flipped. Zero differences are the same either way and
    are left out. Up to ``max_exact`` non-zero differences every one of the 2^n patterns is counted (an exact
    p-value, at least 2 / 2^n since the observed pattern and its mirror always count); above that ``n_resamples``
    seeded random patterns give ``(b + 1) / (B + 1)``, b of them at least as extreme, which is a valid p-value
    and never 0.
    """
    nonzero = np.asarray(diff, dtype=np.float64)
    nonzero = nonzero[nonzero != 0]
    n = nonzero.size
    if n == 0:
        return 1.0
    observed = abs(float(nonzero.sum()))
    tolerance = 1e-10 * float(np.abs(nonzero).sum())  # sums of the same numbers in another order are ties
    if n <= max_exact:
        extreme = np.count_nonzero(np.abs(_all_signs(n) @ nonzero) >= observed - tolerance)
        return float(extreme / 2**n)
    rng = np.random.default_rng(seed)
    rows = max(1, (1 << 20) // n)  # at most ~1M random signs in memory at a time
    extreme, done = 0, 0
    while done < n_resamples:
        batch = min(rows, n_resamples - done)
        signs = rng.integers(0, 2, size=(batch, n)) * 2.0 - 1.0
        extreme += int(np.count_nonzero(np.abs(signs @ nonzero) >= observed - tolerance))
        done += batch
    return float((extreme + 1) / (n_resamples + 1))


def paired_p(diff: np.ndarray, method: str, n_boot: int, seed: int) -> float:
    if method not in PAIRED_TESTS:
        raise CodecStudyError(f"paired test must be one of {', '.join(PAIRED_TESTS)}, got {method!r}")
    if diff.size < 2 or np.all(diff == 0):
        return math.nan if diff.size < 2 else 1.0
    if method == "wilcoxon":
        return float(wilcoxon(diff, zero_method="wilcox").pvalue)
    return sign_flip_p(diff, n_boot, seed)


