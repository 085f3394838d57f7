"""Aggregation: bootstrap CIs, corpus WER, best/worst counts, Holm-corrected paired tests, table files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codecstudy.evaluate import aggregate, statistics


def record(condition: str, clip: str, n_q: int | None = 8, set_name: str = "en", **metrics) -> dict:
    return {"condition": condition, "set": set_name, "n_q": n_q, "clip": clip, "metrics": metrics, "errors": {}}


def test_bootstrap_ci_contains_mean_and_is_reproducible() -> None:
    values = np.random.default_rng(0).normal(3.0, 1.0, 200)
    lo, hi = statistics.bootstrap_ci(values, seed=1)
    assert lo < values.mean() < hi
    assert (lo, hi) == statistics.bootstrap_ci(values, seed=1)
    assert hi - lo == pytest.approx(2 * 1.96 / math.sqrt(200), rel=0.25)
    assert statistics.bootstrap_ci(np.array([2.0])) == (2.0, 2.0)
    assert all(math.isnan(v) for v in statistics.bootstrap_ci(np.array([])))


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
    adjusted = statistics.holm([0.01, 0.04, 0.03, math.nan])
    assert adjusted[0] == pytest.approx(0.03)
    assert adjusted[2] == pytest.approx(0.06)
    assert adjusted[1] == pytest.approx(0.06)  # monotone: never below the previous step
    assert math.isnan(adjusted[3])


@pytest.mark.parametrize("method", ["wilcoxon", "bootstrap", "permutation"])
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


@pytest.mark.parametrize("n", range(1, 13))
def test_sign_flip_p_is_exact_when_every_difference_has_one_sign(n: int) -> None:
    """Only the observed signs and their mirror image are as extreme: p = 2 / 2^n, never 0 (the paired bootstrap
    said 0 here, since no resample of all-positive differences has a mean on the other side)."""
    diff = np.arange(1.0, n + 1.0)
    assert statistics.sign_flip_p(diff) == 2.0 / 2**n
    assert statistics.sign_flip_p(-diff) == 2.0 / 2**n
    assert statistics.sign_flip_p(np.concatenate([diff, np.zeros(5)])) == 2.0 / 2**n  # zeros flip to themselves


def test_sign_flip_p_matches_scipy_exact_and_monte_carlo_never_reaches_zero() -> None:
    from scipy.stats import permutation_test

    rng = np.random.default_rng(5)
    for n in (4, 9, 14):
        diff = rng.normal(0.4, 1.0, n)
        exact = permutation_test((diff,), np.mean, permutation_type="samples", vectorized=True, n_resamples=np.inf)
        assert statistics.sign_flip_p(diff) == pytest.approx(exact.pvalue, rel=1e-12)
    diff = rng.normal(0.3, 1.0, 20)  # above MAX_EXACT_FLIPS: seeded Monte Carlo, close to the exact value
    exact = statistics.sign_flip_p(diff, max_exact=20)
    assert statistics.sign_flip_p(diff, 20000, seed=1) == pytest.approx(exact, abs=0.01)
    assert statistics.sign_flip_p(diff, 500, seed=1) == statistics.sign_flip_p(diff, 500, seed=1)
    # all 40 differences positive: no random pattern is as extreme, p = (0 + 1) / (B + 1)
    assert statistics.sign_flip_p(np.full(40, 0.5), 99) == 0.01
    assert statistics.sign_flip_p(np.full(40, 0.5), 999) == 0.001
    assert statistics.sign_flip_p(np.zeros(40)) == 1.0


@pytest.mark.parametrize("method", ["bootstrap", "permutation"])
def test_paired_permutation_p_values_are_never_zero_and_holm_keeps_them_so(method: str) -> None:
    # 6 clips: a beats b and c on every clip, b and c alternate
    records = []
    for i in range(6):
        records += [record("a", f"c{i}", pesq=3.0 + 0.1 * i), record("b", f"c{i}", pesq=2.0 + 0.1 * i),
                    record("c", f"c{i}", pesq=2.0 + 0.1 * i + (0.2 if i % 2 else -0.1))]
    rows = {(r.condition_a, r.condition_b): r for r in aggregate.paired_tests(records, {"pesq": "higher"}, method)}
    assert rows[("a", "b")].p == rows[("a", "c")].p == 2 / 2**6
    # b - c = 0.1 x (3 signs summing to s) + 0.2 x (3 signs summing to t), observed |sum| 0.3: |s + 2t| >= 3 holds
    # for all 8 patterns of s when |t| = 3 and for the 4 with s of t's sign when |t| = 1 (3 ways each): 40 of 64
    assert rows[("b", "c")].p == pytest.approx(40 / 64)
    # Holm over three tests: 3 x 1/32, then max(3/32, 2 x 1/32), then max(3/32, 1 x 40/64)
    assert rows[("a", "b")].p_holm == rows[("a", "c")].p_holm == pytest.approx(3 / 32)
    assert rows[("b", "c")].p_holm == pytest.approx(40 / 64)
    assert all(r.p > 0 and r.p_holm > 0 for r in rows.values())
    assert [r.significant for r in rows.values()] == [False, False, False]  # 6 clips cannot reach 0.05 after Holm


def test_unknown_paired_test_is_an_error() -> None:
    records = [record(c, f"c{i}", pesq=float(i + (c == "a"))) for c in "ab" for i in range(3)]
    with pytest.raises(Exception, match="paired test must be one of wilcoxon, permutation, bootstrap"):
        aggregate.paired_tests(records, {"pesq": "higher"}, "ttest")


def test_write_tables_gives_its_n_boot_to_the_paired_tests(tmp_path) -> None:
    """``n_boot`` is the count of the paired test's random sign patterns too (it used to be a fixed 2000)."""
    records = [record(c, f"c{i:02d}", pesq=2.0 + (c == "a") + 0.01 * i) for c in ("a", "b") for i in range(30)]
    for n_boot, p in ((99, 0.01), (199, 0.005)):
        aggregate.write_tables(records, tmp_path / str(n_boot), n_boot=n_boot, test="bootstrap")
        text = (tmp_path / str(n_boot) / "pairwise.csv").read_text()
        assert f"en,8,pesq,a,b,30,1.0,a,{p},{p},True" in text, text
        assert "Paired sign-flip permutation tests" in (tmp_path / str(n_boot) / "pairwise.md").read_text()


def test_write_tables_passes_n_boot_on(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = [record(c, f"c{i}", pesq=2.0 + (c == "a") + 0.1 * i) for c in ("a", "b") for i in range(3)]
    seen: list[int] = []
    real = aggregate.paired_tests

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs.get("n_boot", -1))
        return real(*args, **kwargs)

    monkeypatch.setattr(aggregate, "paired_tests", spy)
    aggregate.write_tables(records, tmp_path / "spy", n_boot=37)
    assert seen == [37]


def test_latex_escapes_every_special_character(tmp_path) -> None:
    name = "a\\b{c}$d&e#f^g_h~i%j"
    assert aggregate._latex_escape(name) == (
        r"a\textbackslash{}b\{c\}\$d\&e\#f\textasciicircum{}g\_h\textasciitilde{}i\%j"
    )
    records = [record(c, f"c{i}", set_name="s$1", pesq=2.0 + (c == name) + 0.1 * i)
               for c in (name, "b") for i in range(3)]
    aggregate.write_tables(records, tmp_path)
    tex = (tmp_path / "summary.tex").read_text() + (tmp_path / "pairwise.tex").read_text()
    for special in "$^~":  # every one of these is now behind a backslash (or spelled out)
        assert all(tex[k - 1] == "\\" for k, ch in enumerate(tex) if ch == special), special
    body = tex.replace("\\{", "").replace("\\}", "")
    assert body.count("{") == body.count("}")  # braces of the name no longer unbalance the table
    assert r"s\$1" in tex and r"a\textbackslash{}b\{c\}" in tex
