"""Aggregation: bootstrap CIs, corpus WER, best/worst counts, Holm-corrected paired tests, table files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codecstudy.evaluate import aggregate


def record(condition: str, clip: str, n_q: int | None = 8, set_name: str = "en", **metrics) -> dict:
    return {"condition": condition, "set": set_name, "n_q": n_q, "clip": clip, "metrics": metrics, "errors": {}}


def test_bootstrap_ci_contains_mean_and_is_reproducible() -> None:
    values = np.random.default_rng(0).normal(3.0, 1.0, 200)
    lo, hi = aggregate.bootstrap_ci(values, seed=1)
    assert lo < values.mean() < hi
    assert (lo, hi) == aggregate.bootstrap_ci(values, seed=1)
    assert hi - lo == pytest.approx(2 * 1.96 / math.sqrt(200), rel=0.25)
    assert aggregate.bootstrap_ci(np.array([2.0])) == (2.0, 2.0)
    assert all(math.isnan(v) for v in aggregate.bootstrap_ci(np.array([])))


def test_summary_does_not_depend_on_the_order_of_result_lines() -> None:
    """Parallel scoring workers append lines in any order; the seeded CIs must not follow it."""
    values = np.random.default_rng(3).normal(2.0, 1.0, 40)
    records = [record("a", f"c{i:02d}", pesq=float(v)) for i, v in enumerate(values)]
    shuffled = [records[i] for i in np.random.default_rng(4).permutation(len(records))]
    (ordered,), (mixed,) = (aggregate.summarize(r, {"pesq": "higher"}) for r in (records, shuffled))
    assert (mixed.mean, mixed.ci_low, mixed.ci_high) == (ordered.mean, ordered.ci_low, ordered.ci_high)


def test_summary_counts_failures_and_never_averages_them() -> None:
    records = [record("a", f"c{i}", pesq=2.0 + i) for i in range(3)]
    failed = record("a", "c3")
    failed["errors"] = {"pesq": "silent estimate"}
    rows = aggregate.summarize([*records, failed], {"pesq": "higher"})
    (row,) = rows
    assert row.n == 3 and row.n_failed == 1 and row.mean == pytest.approx(3.0)


def test_wer_is_a_corpus_rate() -> None:
    records = [
        record("a", "short", wer=1.0, wer_errors=1.0, wer_words=1.0),
        record("a", "long", wer=0.0, wer_errors=0.0, wer_words=99.0),
    ]
    (row,) = aggregate.summarize(records, {"wer": "lower"})
    assert row.mean == pytest.approx(0.01)  # not the mean of per-clip rates (0.5)


def test_best_worst_counts_follow_directions_and_ties() -> None:
    records = []
    for i in range(4):
        records += [
            record("english", f"c{i}", mcd=5.0, pesq=3.0, si_snr=1.0),
            record("multi", f"c{i}", mcd=6.0, pesq=2.0, si_snr=1.0),
            record("audio", f"c{i}", mcd=7.0, pesq=2.5, si_snr=0.5),
        ]
    rows = aggregate.summarize(records, {"mcd": "lower", "pesq": "higher", "si_snr": "higher"})
    counts = aggregate.best_worst(rows)
    assert counts["english"] == {"best": 3, "worst": 0, "compared": 3}  # mcd, pesq, shared best si_snr
    assert counts["multi"] == {"best": 1, "worst": 1, "compared": 3}
    assert counts["audio"] == {"best": 0, "worst": 2, "compared": 3}


def test_holm_correction() -> None:
    adjusted = aggregate.holm([0.01, 0.04, 0.03, math.nan])
    assert adjusted[0] == pytest.approx(0.03)
    assert adjusted[2] == pytest.approx(0.06)
    assert adjusted[1] == pytest.approx(0.06)  # monotone: never below the previous step
    assert math.isnan(adjusted[3])


@pytest.mark.parametrize("method", ["wilcoxon", "bootstrap"])
def test_paired_tests_find_real_differences_only(method: str) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(3.0, 0.5, 30)
    records = []
    for i, b in enumerate(base):
        records += [
            record("good", f"c{i}", pesq=b + 0.3 + rng.normal(0, 0.05)),
            record("same", f"c{i}", pesq=b),
            record("twin", f"c{i}", pesq=b + 0.05 * (-1) ** i),
        ]
    rows = {(r.condition_a, r.condition_b): r for r in aggregate.paired_tests(records, {"pesq": "higher"}, method)}
    assert rows[("good", "same")].significant and rows[("good", "same")].better == "good"
    assert not rows[("same", "twin")].significant
    assert rows[("good", "same")].p_holm >= rows[("good", "same")].p


def test_write_tables(tmp_path) -> None:
    records = [
        record(c, f"c{i}", n_q=n, pesq=2.0 + (c == "a") + 0.1 * i, mcd=5.0)
        for c in ("a", "b_x")
        for n in (2, 8)
        for i in range(5)
    ]
    records.append(record("a", "p1", n_q=None, pesq=3.0))
    written = aggregate.write_tables(records, tmp_path / "tables")
    assert set(written) == {f"{n}.{s}" for n in ("summary", "counts", "pairwise") for s in ("csv", "md", "tex")}
    md = (tmp_path / "tables" / "summary.md").read_text()
    assert "**3.200 [" in md and "pesq ↑" in md and "mcd ↓" in md
    tex = (tmp_path / "tables" / "summary.tex").read_text()
    assert r"\textbf{3.200" in tex and r"b\_x" in tex and r"\toprule" in tex
    assert "a,2,0,2" in (tmp_path / "tables" / "counts.csv").read_text()
    with pytest.raises(Exception, match="no results"):
        aggregate.write_tables([], tmp_path / "empty")


def test_skipped_metrics_are_neither_rows_nor_failures() -> None:
    from codecstudy.evaluate.aggregate import summarize

    skip = {"pesq": "not applicable to music (speech only)"}
    records = [
        {"set": "music", "n_q": 8, "condition": "a", "clip": f"m{i}", "metrics": {"mcd": 5.0 + i}, "skipped": skip}
        for i in range(3)
    ] + [
        {"set": "en", "n_q": 8, "condition": "a", "clip": "s0", "metrics": {"mcd": 4.0}, "errors": {"pesq": "x"}},
        {"set": "en", "n_q": 8, "condition": "a", "clip": "s1", "metrics": {"mcd": 4.0, "pesq": 3.0}},
    ]
    rows = {(r.set, r.metric): r for r in summarize(records, {"mcd": "lower", "pesq": "higher"}, n_boot=10)}
    assert ("music", "pesq") not in rows and rows[("music", "mcd")].n == 3
    assert rows[("en", "pesq")].n == 1 and rows[("en", "pesq")].n_failed == 1  # a real failure still counts
