"""MUSHRA statistics with the listener as the cluster: interval coverage and test size on simulated panels.

Each simulated listener has an own offset on the scale (a listener effect, sd 10) on top of per-rating noise (sd 5),
so the ratings of one listener are correlated. The true mean is known, so the share of panels whose 95 % interval
holds it can be counted. All seeds are fixed: the counts below are the same on every run.
"""

from __future__ import annotations

import numpy as np

from codecstudy.evaluate.aggregate import paired_tests, summarize
from codecstudy.listen.scores import METRIC, listener, pair_rows, score_rows

TRUE_MEAN = 60.0
PANELS = 200


def _panel(seed: int, listeners: int = 20, trials: int = 8) -> list[dict]:
    """Ratings of one codec by a panel: mean 60 + listener offset + noise, as result records."""
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0.0, 10.0, listeners)
    ratings = TRUE_MEAN + offsets[:, None] + rng.normal(0.0, 5.0, (listeners, trials))
    return [{"set": "all", "n_q": 8, "condition": "codec_a", "clip": f"L{i:02d}|t{j:02d}",
             "metrics": {METRIC: float(ratings[i, j])}}
            for i in range(listeners) for j in range(trials)]


def test_listener_bootstrap_covers_the_true_mean_at_its_nominal_rate() -> None:
    covered = independent = 0
    for seed in range(PANELS):
        records = _panel(seed)
        (row,) = score_rows(records, n_boot=1000, seed=seed)
        covered += row.ci_low <= TRUE_MEAN <= row.ci_high
        (naive,) = summarize(records, {METRIC: "higher"}, n_boot=1000, seed=seed)  # every rating independent
        independent += naive.ci_low <= TRUE_MEAN <= naive.ci_high
        assert row.mean == naive.mean and row.n == naive.n == 160
    assert covered / PANELS >= 0.9
    assert independent / PANELS <= 0.7  # 0.53 with these seeds (0.925 above): intervals far too narrow


def _codec_pair(seed: int, listeners: int = 12, trials: int = 8) -> list[dict]:
    """Two codecs equally good on average; each listener prefers one of them by an own amount (sd 6)."""
    rng = np.random.default_rng(10_000 + seed)
    preference = rng.normal(0.0, 6.0, listeners)
    records = []
    for i in range(listeners):
        for j in range(trials):
            base = 50.0 + rng.normal(0.0, 5.0)
            for condition, value in (("codec_a", base + preference[i] + rng.normal(0.0, 3.0)),
                                     ("codec_b", base + rng.normal(0.0, 3.0))):
                records.append({"set": "all", "n_q": 8, "condition": condition, "clip": f"L{i:02d}|t{j:02d}",
                                "metrics": {METRIC: float(value)}})
    return records


def test_paired_tests_over_listeners_keep_their_level() -> None:
    """With no true difference, the test over listeners rejects about alpha of the panels; a test that counted every
    listener x trial as independent would 'find' the listeners' own preferences most of the time."""
    rejected = naive_rejected = 0
    for seed in range(PANELS):
        records = _codec_pair(seed)
        (row,) = pair_rows(records, "permutation", 0.05)
        assert row.n == 12  # listeners, the units of the test
        rejected += row.significant
        (naive,) = paired_tests(records, {METRIC: "higher"}, "permutation", 0.05, n_boot=200)
        naive_rejected += naive.significant
    assert rejected / PANELS <= 0.08  # 0.03 with these seeds
    assert naive_rejected / PANELS >= 0.3  # 0.475 with these seeds


def test_listener_of_a_rating_record() -> None:
    assert listener({"clip": "Anna|t03"}) == "Anna"
