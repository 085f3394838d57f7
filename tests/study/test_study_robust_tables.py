"""Robust columns, outliers, cells scored on different clips, trust rows, and best/worst by a robust statistic."""

from __future__ import annotations

import math

from codecstudy.evaluate.aggregate import paired_tests, summarize
from codecstudy.study.robust_tables import cell_values, clips_differ, outlier_rows, robust_rows, trust_rows
from codecstudy.study.tables import by_group, paper_cells, paper_markdown
from codecstudy.study.validity_tables import skip_rows


def _line(clip: str, condition: str, metrics: dict, set_name: str = "en", n_q: int = 8, **extra) -> dict:
    return {"clip": clip, "condition": condition, "set": set_name, "n_q": n_q, "language": "en",
            "domain": "speech", "metrics": metrics, "errors": {}, **extra}


def test_outliers_csv_lists_a_planted_outlier() -> None:
    values = [-10.0 + 0.1 * i for i in range(20)]
    values[7] = -66.0  # a collapsed clip among clips around -10 dB
    records = [_line(f"c{i:02d}", "a", {"si_snr": v}) for i, v in enumerate(values)]
    grouped = by_group(records)
    cells = cell_values(grouped, ["si_snr"])
    rows = outlier_rows(cells, 8, {r["clip"]: r["eval_set"] for r in grouped})
    assert [(r["clip"], r["value"], r["set"], r["condition"], r["metric"]) for r in rows] == [
        ("c07", -66.0, "en", "a", "si_snr")]
    assert rows[0]["robust_z"] < -3
    assert outlier_rows(cells, 4, {}) == []  # only at the report's n_q


def test_median_and_trimmed_mean_beside_the_mean() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 100.0]
    records = [_line(f"c{i}", "a", {"si_snr": v}) for i, v in enumerate(values)]
    rows = summarize(records, {"si_snr": "higher"}, n_boot=20)
    out = robust_rows(rows, cell_values(records, ["si_snr"]))
    assert out[0]["mean"] == 14.5 and out[0]["median"] == 5.5
    assert out[0]["trimmed_mean"] == 5.5  # one value cut at each end of ten
    assert out[0]["clips_differ"] is False


def test_cells_scored_on_different_clips_are_flagged() -> None:
    records = [_line("c1", "a", {"f0_corr": 0.8}), _line("c2", "a", {"f0_corr": 0.7}),
               _line("c1", "b", {"f0_corr": 0.6}), _line("c2", "b", {}, errors={"f0_corr": "no voiced frame"})]
    assert clips_differ(cell_values(records, ["f0_corr"])) == {("en", "8", "f0_corr")}
    rows = summarize(records, {"f0_corr": "higher"}, n_boot=20)
    out = robust_rows(rows, cell_values(records, ["f0_corr"]))
    assert all(r["clips_differ"] for r in out)
    robust = {(r["set"], r["n_q"], r["condition"], r["metric"]): r for r in out}
    cells = paper_cells(rows, [], 8, robust=robust)
    assert all(c.clips_differ for c in cells)
    assert "§" in paper_markdown(cells, 8)


def test_an_unvoiced_output_counts_against_its_codec() -> None:
    """Under the robust rule f0_corr is 0 for an output without a voiced frame: the clip stays in the mean and the
    paired test, where it would have been NaN (left out) under VERSA's definition."""
    good = [0.9, 0.8, 0.85, 0.7, 0.75, 0.95]
    weak = [0.92, 0.82, 0.86, 0.72, 0.77, 0.96]  # better than `good` on every voiced clip
    records = [_line(f"c{i}", "good", {"f0_corr": v}) for i, v in enumerate(good)]
    records += [_line(f"c{i}", "weak", {"f0_corr": v, "f0_corr_unvoiced_output": 0.0}) for i, v in enumerate(weak)]
    records += [_line("c6", "good", {"f0_corr": 0.8}),
                _line("c6", "weak", {"f0_corr": 0.0, "f0_corr_unvoiced_output": 1.0}),
                _line("c7", "good", {"f0_corr": 0.85}),
                _line("c7", "weak", {"f0_corr": 0.0, "f0_corr_unvoiced_output": 1.0})]
    rows = {r.condition: r for r in summarize(records, {"f0_corr": "higher"}, n_boot=20)}
    assert rows["weak"].n == 8 and rows["weak"].n_failed == 0
    assert rows["weak"].mean < rows["good"].mean
    (pair,) = paired_tests(records, {"f0_corr": "higher"}, method="permutation")
    assert pair.n == 8 and pair.better == "good"
    trust = {r["condition"]: r for r in trust_rows(records, 8, [], {}, [])}
    assert trust["weak"]["unvoiced_outputs"] == 2 and trust["good"]["unvoiced_outputs"] == 0


def test_a_short_clip_is_a_skip_not_a_failure_in_the_tables() -> None:
    reason = "not applicable: shorter than 0.5121 s (clip is 0.300 s)"
    records = [_line("long", "a", {"stoi": 0.9}), _line("short", "a", {}, skipped={"stoi": reason})]
    (row,) = summarize(records, {"stoi": "higher"}, n_boot=20)
    assert (row.n, row.n_failed) == (1, 0)
    assert skip_rows(by_group(records)) == [{"group": "en", "n_q": "8", "metric": "stoi", "reason": reason,
                                             "clips": 1}]
    (trust,) = trust_rows(records, 8, [], {}, [])
    assert trust["not_applicable"] == "stoi: 1" and trust["clips_failed"] == 0 and trust["clips"] == 2


def test_best_worst_by_a_robust_statistic() -> None:
    """One wild clip carries the mean; the median ranks by the rest (report.statistic: median)."""
    a = [5.0, 5.0, 5.0, 5.0, 5.0]
    b = [6.0, 6.0, 6.0, 6.0, -60.0]
    records = [_line(f"c{i}", "a", {"si_snr": v}) for i, v in enumerate(a)]
    records += [_line(f"c{i}", "b", {"si_snr": v}) for i, v in enumerate(b)]
    rows = summarize(records, {"si_snr": "higher"}, n_boot=20)
    robust = {(r["set"], r["n_q"], r["condition"], r["metric"]): r
              for r in robust_rows(rows, cell_values(records, ["si_snr"]))}
    by_mean = {c.condition: c for c in paper_cells(rows, [], 8, robust=robust)}
    by_median = {c.condition: c for c in paper_cells(rows, [], 8, robust=robust, statistic="median")}
    assert by_mean["a"].best and by_mean["b"].worst
    assert by_median["b"].best and by_median["a"].worst
    assert by_median["b"].median == 6.0 and math.isclose(by_median["b"].mean, -7.2)


def test_trust_rows_count_dropped_frames_and_delay_source() -> None:
    records = [_line("c1", "a", {"mcd": 7.0, "mcd_frames_dropped": 12.0}),
               _line("c2", "a", {"mcd": 8.0, "mcd_frames_dropped": 0.0})]
    delays = [{"condition": "a", "set": "en", "n_q": "8", "source": "structure", "delay_ms": 0.0}]
    (row,) = trust_rows(records, 8, [{"set": "en", "condition": "a"}], {("en", "a"): "seen speakers"}, delays)
    assert row["clips_frames_dropped"] == 1 and row["outliers"] == 1
    assert row["speakers"] == "seen speakers" and row["delay"] == "structure (0.0 ms)"
