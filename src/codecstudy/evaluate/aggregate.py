"""Tables from per-clip results: means with bootstrap CIs, the paper's best/worst counts, paired tests.

Input: any number of result folders (``eval/<codec>/<set>`` or parents of them); every ``results*.jsonl`` below
them is read (a folder's metric parts joined per clip). Each line names its condition (the codec), set and n_q, so
results of different codecs, sets and bitrates can be pooled freely.

* Summary, per set x n_q x condition x metric: clips scored, clips failed (error recorded, value absent: failures
  are counted, never averaged in as 0), mean and a 95 % percentile bootstrap CI over clips (seeded, so tables are
  reproducible). WER and CER are corpus rates (total errors / total reference words or characters), bootstrapped
  by resampling clips.
* Best/worst counts, as in the paper: for each set x n_q x metric with at least two conditions, the condition with
  the best mean (by the metric's direction) gets a "best", the worst a "worst"; ties all count, and a cell where
  every condition ties is left out.
* Paired tests between every two conditions per set x n_q x metric, over clips scored in both: Wilcoxon
  signed-rank (default) or a sign-flip permutation test of the mean difference (exact up to
  :data:`~codecstudy.evaluate.statistics.MAX_EXACT_FLIPS` non-zero differences, else seeded Monte Carlo
  with the (b+1)/(B+1) correction, so a
  p-value is never 0); p-values Holm-corrected over all tests in the table, since a table of many comparisons would
  otherwise show "significant" differences by chance.
* Clustered data (MUSHRA: several ratings per listener) names a ``cluster`` per record: the CIs then resample whole
  clusters and the paired tests run over per-cluster mean differences, since ratings of one listener are not
  independent of each other.

Outputs: ``summary``, ``counts`` and ``pairwise`` as CSV, Markdown and LaTeX (booktabs) in the tables folder.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy.csvtable import write_csv
from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.parts import join_results
from codecstudy.evaluate.registry import METRICS
from codecstudy.evaluate.registry import directions as declared_directions
from codecstudy.evaluate.statistics import (
    PAIRED_TESTS,
    Cluster,
    bootstrap_ci,
    cluster_ci,
    cluster_sums,
    holm,
    paired_p,
)
from codecstudy.jsonl import read_jsonl

CORPUS_RATES = {"wer": ("wer_errors", "wer_words"), "cer": ("cer_errors", "cer_chars")}
def load_results(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """All result lines under the given folders or files; the lines of one folder's metric parts joined into one
    line per clip (:func:`codecstudy.evaluate.parts.join_results`), as one run scoring every metric writes it."""
    records: list[dict[str, Any]] = []
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else sorted(root.rglob("results*.jsonl"))
        if not files:
            raise CodecStudyError(f"{root}: no results*.jsonl found")
        by_folder: dict[Path, list[dict[str, Any]]] = {}
        for path in files:
            by_folder.setdefault(path.parent, []).extend(read_jsonl(path))
        for lines in by_folder.values():
            records.extend(join_results(lines))
    return records


def _nq(record: dict[str, Any]) -> str:
    """The bitrate column: the number of codebooks, else the codec's setting (``6kbps``), else ``-``."""
    if record.get("n_q") is not None:
        return str(record["n_q"])
    return str(record.get("setting") or "-")


def metric_directions(records: list[dict[str, Any]], extra: dict[str, str | None] | None = None) -> dict[str, str]:
    """Scored output keys present in the records with their direction (counts and unknown keys left out)."""
    known = {**declared_directions(), **(extra or {})}
    seen: list[str] = []
    for record in records:
        for key in record.get("metrics") or {}:
            if key not in seen:
                seen.append(key)
    return {k: known[k] for k in seen if known.get(k) in ("higher", "lower")}


@dataclass
class SummaryRow:
    set: str
    n_q: str
    condition: str
    metric: str
    direction: str
    n: int
    n_failed: int
    mean: float
    ci_low: float
    ci_high: float


def _groups(records: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(str(record.get("set")), _nq(record), str(record.get("condition")))].append(record)
    return groups


def _value(record: dict[str, Any], key: str) -> float | None:
    value = (record.get("metrics") or {}).get(key)
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _skipped(record: dict[str, Any], key: str) -> bool:
    """True when the output ``key``'s metric was not computed on this clip (outside its validity; see
    :mod:`codecstudy.evaluate.applicability`): neither a value nor a failure."""
    skipped = record.get("skipped")
    if not skipped:
        return False
    return any(name in skipped and key in METRICS[name].outputs for name in skipped if name in METRICS)


def summarize(
    records: list[dict[str, Any]],
    directions: dict[str, str],
    n_boot: int = 1000,
    seed: int = 0,
    cluster: Cluster | None = None,
) -> list[SummaryRow]:
    """Summary rows (see the module docstring); with ``cluster`` the CIs resample clusters (:func:`cluster_ci`)."""
    rows = []
    for (set_name, n_q, condition), all_clips in sorted(_groups(records).items(), key=lambda kv: _sort_key(kv[0])):
        # in clip order, not file order: parallel workers append lines in any order, and the seeded bootstrap
        # (like the float sums) must see the same sequence every time
        all_clips = sorted(all_clips, key=lambda r: str(r.get("clip")))
        for key, direction in directions.items():
            group = [r for r in all_clips if not _skipped(r, key)]
            if not group:
                continue  # not applicable to this set: no row, not a cell full of failures
            if key in CORPUS_RATES:
                err_key, len_key = CORPUS_RATES[key]
                triples = [(_value(r, err_key), _value(r, len_key), r) for r in group]
                ok = [(e, w, r) for e, w, r in triples if e is not None and w is not None and w > 0]
                errs = np.array([e for e, _, _ in ok], dtype=np.float64)
                lens = np.array([w for _, w, _ in ok], dtype=np.float64)
                mean = float(errs.sum() / lens.sum()) if ok else math.nan
                if cluster is None:
                    lo, hi = bootstrap_ci(errs, n_boot, seed, weights=lens)
                else:
                    lo, hi = cluster_ci(errs, [cluster(r) for _, _, r in ok], n_boot, seed, weights=lens)
                n = len(ok)
            else:
                scored = [(v, r) for v, r in ((_value(r, key), r) for r in group) if v is not None]
                vals = np.array([v for v, _ in scored], dtype=np.float64)
                mean = float(vals.mean()) if vals.size else math.nan
                if cluster is None:
                    lo, hi = bootstrap_ci(vals, n_boot, seed)
                else:
                    lo, hi = cluster_ci(vals, [cluster(r) for _, r in scored], n_boot, seed)
                n = int(vals.size)
            rows.append(SummaryRow(set_name, n_q, condition, key, direction, n, len(group) - n, mean, lo, hi))
    return rows


def _sort_key(key: tuple[str, str, str]) -> tuple[str, int, str]:
    set_name, n_q, condition = key
    return set_name, int(n_q) if n_q.isdigit() else -1, condition


def best_worst(rows: list[SummaryRow]) -> dict[str, dict[str, int]]:
    """Per condition: ``{"best": k, "worst": m, "compared": c}`` over set x n_q x metric cells with >= 2 conditions."""
    cells: dict[tuple[str, str, str], list[SummaryRow]] = defaultdict(list)
    for row in rows:
        if math.isfinite(row.mean):
            cells[(row.set, row.n_q, row.metric)].append(row)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"best": 0, "worst": 0, "compared": 0})
    for cell in cells.values():
        if len({r.condition for r in cell}) < 2:
            continue
        sign = 1.0 if cell[0].direction == "higher" else -1.0
        scores = [sign * r.mean for r in cell]
        top, bottom = max(scores), min(scores)
        if math.isclose(top, bottom, rel_tol=1e-12, abs_tol=1e-12):
            continue  # all tied: the cell says nothing about any condition
        for row, score in zip(cell, scores):
            counts[row.condition]["compared"] += 1
            if math.isclose(score, top, rel_tol=1e-12, abs_tol=1e-12):
                counts[row.condition]["best"] += 1
            if math.isclose(score, bottom, rel_tol=1e-12, abs_tol=1e-12):
                counts[row.condition]["worst"] += 1
    return dict(sorted(counts.items()))


@dataclass
class PairRow:
    set: str
    n_q: str
    metric: str
    condition_a: str
    condition_b: str
    n: int
    mean_diff: float
    better: str
    p: float
    p_holm: float
    significant: bool


def paired_tests(
    records: list[dict[str, Any]],
    directions: dict[str, str],
    method: str = "wilcoxon",
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
    cluster: Cluster | None = None,
) -> list[PairRow]:
    """Paired tests between every two conditions (see the module docstring), Holm-corrected over all rows.

    ``n_boot`` is the number of random sign patterns of the permutation test when it cannot enumerate them all.
    With ``cluster`` the unit of a test is the cluster: the differences of each cluster are averaged first, and
    ``n`` and ``mean_diff`` are over those cluster means.
    """
    by_cell: dict[tuple[str, str], dict[str, dict[str, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for record in records:
        by_cell[(str(record.get("set")), _nq(record))][str(record.get("condition"))][record["clip"]] = record
    rows: list[PairRow] = []
    for (set_name, n_q), conditions in sorted(by_cell.items()):
        names = sorted(conditions)
        for key, direction in directions.items():
            value_key = key
            for i, a in enumerate(names):
                for b in names[i + 1 :]:
                    clips = sorted(set(conditions[a]) & set(conditions[b]))
                    pairs = [(_value(conditions[a][c], value_key), _value(conditions[b][c], value_key), c)
                             for c in clips]
                    ok = [(x, y, c) for x, y, c in pairs if x is not None and y is not None]
                    if not ok:
                        continue
                    diff = np.array([x - y for x, y, _ in ok], dtype=np.float64)
                    if cluster is not None:
                        units = [cluster(conditions[a][c]) for _, _, c in ok]
                        diff = cluster_sums(diff, units) / cluster_sums(np.ones_like(diff), units)
                    mean_diff = float(diff.mean())
                    sign = 1.0 if direction == "higher" else -1.0
                    better = a if sign * mean_diff > 0 else b if sign * mean_diff < 0 else "="
                    p = paired_p(diff, method, n_boot, seed)
                    rows.append(PairRow(set_name, n_q, key, a, b, len(diff), mean_diff, better, p, math.nan, False))
    adjusted = holm([r.p for r in rows])
    for row, p_adj in zip(rows, adjusted):
        row.p_holm = p_adj
        row.significant = bool(not math.isnan(p_adj) and p_adj < alpha)
    return rows


# ------------------------------------------------------------------------------------------------------ output
def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


#: Every character LaTeX treats specially in text, and what typesets it literally.
_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _latex_escape(text: str) -> str:
    """``text`` as LaTeX that prints it verbatim; one pass, so the braces an escape adds are not escaped again."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def _latex(header: list[str], body: list[list[str]]) -> str:
    cols = "l" * 3 + "r" * (len(header) - 3)
    lines = [r"\begin{tabular}{" + cols[: len(header)] + "}", r"\toprule"]
    lines.append(" & ".join(_latex_escape(h) for h in header) + r" \\")
    lines.append(r"\midrule")
    lines += [
        " & ".join(cell if cell.startswith(r"\textbf") else _latex_escape(cell) for cell in row) + r" \\"
        for row in body
    ]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def summary_table(rows: list[SummaryRow], latex: bool = False) -> tuple[list[str], list[list[str]]]:
    metrics = list(dict.fromkeys(r.metric for r in rows))
    arrows = {r.metric: ("↑" if r.direction == "higher" else "↓") for r in rows}
    best: dict[tuple[str, str, str], float] = {}
    for r in rows:
        if math.isfinite(r.mean):
            sign = 1.0 if r.direction == "higher" else -1.0
            cell = (r.set, r.n_q, r.metric)
            best[cell] = max(best.get(cell, -math.inf), sign * r.mean)
    keyed = {(r.set, r.n_q, r.condition, r.metric): r for r in rows}
    header = ["set", "n_q", "condition"] + [
        (f"{m} ({'higher' if arrows[m] == '↑' else 'lower'})" if latex else f"{m} {arrows[m]}") for m in metrics
    ]
    body = []
    for set_name, n_q, condition in dict.fromkeys((r.set, r.n_q, r.condition) for r in rows):
        line = [set_name, n_q, condition]
        for m in metrics:
            r = keyed.get((set_name, n_q, condition, m))
            if r is None or not math.isfinite(r.mean):
                line.append("n/a")
                continue
            text = f"{r.mean:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]"
            if r.n_failed:
                text += f" ({r.n_failed} failed)"
            sign = 1.0 if r.direction == "higher" else -1.0
            is_best = math.isclose(sign * r.mean, best[(set_name, n_q, m)], rel_tol=1e-12, abs_tol=1e-12)
            if is_best and len({c for (s, q, c, mm) in keyed if (s, q, mm) == (set_name, n_q, m)}) > 1:
                text = (r"\textbf{" + _latex_escape(text) + "}") if latex else f"**{text}**"
            line.append(text)
        body.append(line)
    return header, body


def write_tables(
    records: list[dict[str, Any]],
    out: str | Path,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    test: str = "wilcoxon",
    alpha: float = 0.05,
) -> dict[str, Path]:
    """Write summary/counts/pairwise as CSV, Markdown and LaTeX into ``out``; returns the paths by name.

    ``n_boot`` is the number of resamples of the CIs and of the permutation test's random sign patterns.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not records:
        raise CodecStudyError("no results to aggregate")
    directions = metric_directions(records)
    rows = summarize(records, directions, n_boot=n_boot, seed=seed)
    counts = best_worst(rows)
    pairs = paired_tests(records, directions, method=test, alpha=alpha, n_boot=n_boot, seed=seed)
    written: dict[str, Path] = {}

    write_csv(out / "summary.csv", [asdict(r) for r in rows])
    header, body = summary_table(rows)
    (out / "summary.md").write_text(
        "Mean [95 % bootstrap CI] over clips; bold = best condition per set, n_q and metric.\n\n"
        + _markdown(header, body),
        encoding="utf-8",
    )
    header, body = summary_table(rows, latex=True)
    (out / "summary.tex").write_text(_latex(header, body), encoding="utf-8")

    count_rows = [{"condition": c, **v} for c, v in counts.items()]
    write_csv(out / "counts.csv", count_rows)
    body = [[c, str(v["best"]), str(v["worst"]), str(v["compared"])] for c, v in counts.items()]
    (out / "counts.md").write_text(_markdown(["condition", "best", "worst", "cells compared"], body), encoding="utf-8")
    (out / "counts.tex").write_text(
        _latex(["condition", "best", "worst", "cells"], body).replace("{lllr}", "{lrrr}"), encoding="utf-8"
    )

    write_csv(out / "pairwise.csv", [asdict(r) for r in pairs])
    body = [
        [
            r.set,
            r.n_q,
            r.metric,
            f"{r.condition_a} vs {r.condition_b}",
            str(r.n),
            _fmt(r.mean_diff),
            r.better,
            _fmt(r.p, 4),
            _fmt(r.p_holm, 4),
            "yes" if r.significant else "no",
        ]
        for r in pairs
    ]
    header = ["set", "n_q", "metric", "pair", "n", "mean diff (a-b)", "better", "p", "p (Holm)", "significant"]
    (out / "pairwise.md").write_text(
        f"Paired {PAIRED_TESTS.get(test, test)} tests over clips scored in both conditions; Holm-corrected over all "
        f"{len(pairs)} tests, alpha {alpha}.\n\n" + _markdown(header, body),
        encoding="utf-8",
    )
    (out / "pairwise.tex").write_text(_latex(header, body), encoding="utf-8")
    for name in ("summary", "counts", "pairwise"):
        for suffix in ("csv", "md", "tex"):
            written[f"{name}.{suffix}"] = out / f"{name}.{suffix}"
    return written
