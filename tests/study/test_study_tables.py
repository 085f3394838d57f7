"""Study tables: language/domain groups, paper-style cells with best/worst and significance, evenly picked clips."""

from __future__ import annotations

import math

from codecstudy.evaluate.aggregate import PairRow, SummaryRow
from codecstudy.study.samples import pick_evenly
from codecstudy.study.settings import table_n_q
from codecstudy.study.tables import by_group, paper_cells, paper_counts, seed_rows


def _row(condition: str, mean: float, metric: str = "pesq", group: str = "g", n_q: str = "8",
         direction: str = "higher") -> SummaryRow:
    return SummaryRow(group, n_q, condition, metric, direction, 5, 0, mean, mean - 0.1, mean + 0.1)


def _pair(a: str, b: str, better: str, significant: bool, metric: str = "pesq") -> PairRow:
    return PairRow("g", "8", metric, a, b, 5, 0.1, better, 0.01, 0.02, significant)


def test_speech_of_multi_language_sets_is_split_by_language() -> None:
    records = [
        {"set": "seen", "language": "es", "domain": "speech"},
        {"set": "seen", "language": "fr", "domain": "speech"},
        {"set": "en", "language": "en", "domain": "speech"},
        {"set": "music", "language": None, "domain": "music"},
    ]
    assert [r["set"] for r in by_group(records)] == ["seen/es", "seen/fr", "en", "music"]


def test_table_n_q_takes_the_largest_not_above_the_target() -> None:
    assert table_n_q([1, 2, 4, 8, 16], 8) == 8
    assert table_n_q([1, 2, 4], 8) == 4
    assert table_n_q([16, 32], 8) == 16


def test_best_worst_and_significance_follow_the_direction() -> None:
    rows = [_row("a", 3.0), _row("b", 2.0), _row("c", 1.0), _row("a", 9.0, n_q="1"),
            _row("a", 5.0, metric="mcd", direction="lower"), _row("b", 4.0, metric="mcd", direction="lower")]
    pairs = [_pair("a", "b", "a", True), _pair("a", "c", "a", True), _pair("b", "c", "b", False),
             _pair("a", "b", "b", False, metric="mcd")]
    cells = {(c.metric, c.condition): c for c in paper_cells(rows, pairs, 8)}
    assert len(cells) == 5  # the n_q=1 row is not in the 8-codebook table
    assert cells[("pesq", "a")].best and cells[("pesq", "a")].significant and not cells[("pesq", "a")].worst
    assert cells[("pesq", "c")].worst and not cells[("pesq", "b")].best and not cells[("pesq", "b")].worst
    assert cells[("mcd", "b")].best and not cells[("mcd", "b")].significant  # lower is better; test not significant
    assert cells[("mcd", "a")].worst
    counts = paper_counts(list(cells.values()))
    assert counts == {"a": {"best": 1, "worst": 1, "significant_best": 1},
                      "b": {"best": 1, "worst": 0, "significant_best": 0},
                      "c": {"best": 0, "worst": 1, "significant_best": 0}}


def test_an_all_tied_cell_marks_nobody() -> None:
    cells = paper_cells([_row("a", 2.0), _row("b", 2.0), _row("c", math.nan)], [], 8)
    assert not any(c.best or c.worst for c in cells)


def test_seed_spread() -> None:
    rows = [_row("x-s1", 1.0), _row("x-s2", 3.0)]
    out = seed_rows(rows, {"x-s1": ("x", 1), "x-s2": ("x", 2)})
    assert out == [{"set": "g", "n_q": "8", "condition": "x", "metric": "pesq", "seeds": 2, "mean": 2.0,
                    "std": math.sqrt(2.0), "min": 1.0, "max": 3.0}]


def test_pick_evenly_spreads_over_sorted_ids() -> None:
    ids = [f"c{i:02d}" for i in range(10)]
    assert pick_evenly(list(reversed(ids)), 3) == ["c00", "c03", "c06"]
    assert pick_evenly(ids[:2], 3) == ["c00", "c01"]
    assert pick_evenly(ids, 0) == []
