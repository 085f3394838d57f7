"""MUSHRA scores from accepted sessions, with the evaluation's own statistics, and their link to the metrics.

Listeners say which languages they speak; a rating of a speech clip in one of them counts again in the
``speakers_*`` columns (ratings of non-speech clips count there for everyone), since native listeners are the
natural judges of a codec on their language.

A rating becomes a result record like a metric value: the ``set`` is the trial's language/domain group (plus an
``all`` group), the ``condition`` the rated condition, the ``clip`` the listener and trial (what a paired test
pairs on) and the metric ``mushra``. :func:`codecstudy.evaluate.aggregate.summarize` then gives means with
bootstrap CIs and :func:`~codecstudy.evaluate.aggregate.paired_tests` the Holm-corrected paired tests, as for the
objective tables but with the listener as the cluster. The ratings of one listener share that listener's use of
the scale, so the CIs resample listeners (each with all their ratings) and the paired tests run over each
listener's mean difference. Counting every rating as independent would make the intervals too narrow and the tests
too confident. The correlation of each objective metric with the ratings is over (clip, codec) pairs: the mean
rating of the kept listeners against the metric of that clip decoded by that codec at the test's n_q.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from codecstudy.evaluate.aggregate import PairRow, SummaryRow, paired_tests, summarize
from codecstudy.listen.anchors import ANCHORS
from codecstudy.listen.formats import TrialRecord
from codecstudy.listen.ratings import Session
from codecstudy.listen.trials import REFERENCE

METRIC = "mushra"
ALL = "all"
#: Conditions that are there to calibrate the scale; paired tests compare the codecs only.
FIXED = (REFERENCE, *ANCHORS)


def rating_records(sessions: list[Session], trials: list[TrialRecord], n_q: int) -> list[dict[str, Any]]:
    """One record per rating, in the shape of the scorer's result lines (see the module docstring)."""
    group = {t.id: t.group for t in trials}
    language = {t.id: t.language if t.domain == "speech" else None for t in trials}
    records = []
    for s in sessions:
        spoken = {lang.strip().casefold() for lang in s.languages}
        for trial, by_condition in s.scores.items():
            speaks = language[trial] is None or str(language[trial]).casefold() in spoken
            for condition, value in by_condition.items():
                base = {"n_q": n_q, "condition": condition, "clip": f"{s.listener}|{trial}", "speaks": speaks,
                        "metrics": {METRIC: float(value)}}
                records.append({**base, "set": group[trial]})
                records.append({**base, "set": ALL})
    return records


def listener(record: dict[str, Any]) -> str:
    """The listener of a rating record (the cluster its ratings share)."""
    return str(record["clip"]).split("|", 1)[0]


def score_rows(records: list[dict[str, Any]], n_boot: int, seed: int = 0) -> list[SummaryRow]:
    """Mean rating per group and condition with a 95 % listener (cluster) bootstrap CI."""
    return summarize(records, {METRIC: "higher"}, n_boot=n_boot, seed=seed, cluster=listener)


def pair_rows(records: list[dict[str, Any]], method: str, alpha: float, n_boot: int = 2000) -> list[PairRow]:
    """Paired tests between the codecs over listeners (each listener's mean difference); ``n`` counts listeners."""
    codecs_only = [r for r in records if r["condition"] not in FIXED]
    return paired_tests(codecs_only, {METRIC: "higher"}, method=method, alpha=alpha, n_boot=n_boot, cluster=listener)


def table_rows(rows: list[SummaryRow], records: list[dict[str, Any]],
               speakers: list[SummaryRow] | None = None) -> list[dict[str, Any]]:
    """``tables/mushra.csv``: group, condition, ratings, listeners, mean and CI, in condition order; with
    ``speakers`` (:func:`score_rows` of the records whose listener speaks the clip's language) also their mean."""
    by_speakers = {(r.set, r.condition): r for r in speakers or []}
    listeners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        listeners[(r["set"], r["condition"])].add(listener(r))
    order = {name: i for i, name in enumerate(FIXED)}
    ordered = sorted(rows, key=lambda r: (r.set == ALL, r.set, order.get(r.condition, len(order)), r.condition))
    return [
        {"group": r.set, "condition": r.condition, "ratings": r.n, "listeners": len(listeners[(r.set, r.condition)]),
         "mean": round(r.mean, 3), "ci_low": round(r.ci_low, 3), "ci_high": round(r.ci_high, 3),
         **_speaker_columns(by_speakers.get((r.set, r.condition)))}
        for r in ordered
    ]


def _speaker_columns(row: SummaryRow | None) -> dict[str, Any]:
    if row is None:
        return {"speakers_ratings": 0, "speakers_mean": math.nan, "speakers_ci_low": math.nan,
                "speakers_ci_high": math.nan}
    return {"speakers_ratings": row.n, "speakers_mean": round(row.mean, 3), "speakers_ci_low": round(row.ci_low, 3),
            "speakers_ci_high": round(row.ci_high, 3)}


def pivot(table: list[dict[str, Any]]) -> tuple[list[str], list[str], dict[tuple[str, str], dict[str, Any]]]:
    """Groups (columns) and conditions (rows) in table order, and each row keyed by (group, condition)."""
    groups = list(dict.fromkeys(r["group"] for r in table))
    conditions = list(dict.fromkeys(r["condition"] for r in table))
    return groups, conditions, {(r["group"], r["condition"]): r for r in table}


def markdown(table: list[dict[str, Any]], pairs: list[PairRow], excluded: list[str]) -> str:
    """``tables/mushra.md``: conditions as rows, groups as columns, mean [CI]; the best codec per group in bold."""
    groups, conditions, keyed = pivot(table)
    best = {}
    for g in groups:
        codec_means = [keyed[(g, c)]["mean"] for c in conditions if (g, c) in keyed and c not in FIXED]
        best[g] = max(codec_means) if codec_means else math.nan
    lines = ["MUSHRA scores (0-100): mean [95 % bootstrap CI, listeners resampled] over the ratings of the kept "
             "listeners; **bold** = best codec per group.\n",
             "| condition | " + " | ".join(groups) + " |", "|---|" + "|".join("---" for _ in groups) + "|"]
    for c in conditions:
        cells = []
        for g in groups:
            r = keyed.get((g, c))
            text = "n/a" if r is None else f"{r['mean']:.1f} [{r['ci_low']:.1f}, {r['ci_high']:.1f}]"
            cells.append(f"**{text}**" if r is not None and c not in FIXED and r["mean"] == best[g] else text)
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    significant = [p for p in pairs if p.significant]
    lines.append("")
    lines.append(f"Paired tests between codecs (per group, over each listener's mean difference; Holm-corrected): "
                 f"{len(significant)} of {len(pairs)} significant.")
    for p in significant:
        lines.append(f"- {p.set}: {p.better} better ({p.condition_a} - {p.condition_b} = {p.mean_diff:+.1f}, "
                     f"p (Holm) {p.p_holm:.4f})")
    if excluded:
        lines.append(f"\nExcluded by post-screening: {', '.join(excluded)} (see mushra_listeners.csv).")
    return "\n".join(lines) + "\n"


@dataclass
class Correlation:
    metric: str
    direction: str
    pairs: int
    pearson: float
    spearman: float


def correlations(sessions: list[Session], trials: list[TrialRecord], results: list[dict[str, Any]],
                 directions: dict[str, str], n_q: int) -> list[Correlation]:
    """Pearson and Spearman correlation of each objective metric with the mean rating per (clip, codec)."""
    from scipy.stats import pearsonr, spearmanr

    clip_of = {t.id: t.clip for t in trials}
    ratings: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in sessions:
        for trial, by_condition in s.scores.items():
            for condition, value in by_condition.items():
                if condition not in FIXED:
                    ratings[(clip_of[trial], condition)].append(value)
    metric_of = {(str(r.get("clip")), str(r.get("condition"))): r.get("metrics") or {}
                 for r in results if r.get("n_q") == n_q}
    out = []
    for metric, direction in directions.items():
        xs, ys = [], []
        for key, values in sorted(ratings.items()):
            value = metric_of.get(key, {}).get(metric)
            if isinstance(value, (int, float)) and math.isfinite(value):
                xs.append(float(value))
                ys.append(float(np.mean(values)))
        pearson = spearman = math.nan
        if len(xs) >= 3 and np.std(xs) > 0 and np.std(ys) > 0:
            pearson = float(pearsonr(xs, ys).statistic)
            spearman = float(spearmanr(xs, ys).statistic)
        out.append(Correlation(metric, direction, len(xs), pearson, spearman))
    return out


def as_dicts(items: list[Any]) -> list[dict[str, Any]]:
    return [asdict(i) for i in items]
