"""Training noise in the tables: a single-seed study's noise floor, and a multi-seed study's run-level statistics.

The tables compare coverage conditions, whose unit of replication is the training run (see
:mod:`codecstudy.evaluate.replicates`). Two cases:

* One run per condition, with a noise probe (``train.noise_probe``): per group, n_q and metric the *noise floor*
  is the largest difference between a probed condition's two runs. A best or worst cell whose margin over the
  next condition is below it is "within training noise": not marked, not counted, its significance mark dropped.
  Without a probe the report says that training noise was not measured.
* Two or more seeds (``train.seeds``): ``conditions.csv`` gives each condition's mean over its runs with a t
  interval over the run means, and ``conditions_pairwise.csv`` compares conditions with Welch's t on run means
  and, over clips, the paired test on run-averaged clip values; a difference is significant only when both hold.

Pure functions of result records (as :func:`codecstudy.study.tables.by_group` labels them) and paper cells.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from itertools import combinations
from typing import Any

import numpy as np

from codecstudy.evaluate.replicates import noise_floor, run_level_difference, run_mean_interval
from codecstudy.evaluate.statistics import holm, paired_p

NOISE_MARK = "~"
FloorKey = tuple[str, str, str]  # (group, n_q, metric)


def _clip_means(records: Iterable[dict[str, Any]], metric: str) -> dict[str, float]:
    values = {}
    for record in records:
        value = (record.get("metrics") or {}).get(metric)
        if isinstance(value, (int, float)) and math.isfinite(value):
            values[str(record.get("clip"))] = float(value)
    return values


def _by_cell(records: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """(group, n_q, codec) -> its records."""
    cells: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        cells[(str(record.get("set")), str(record.get("n_q")), str(record.get("condition")))].append(record)
    return cells


def noise_floors(records: list[dict[str, Any]], probes: dict[str, str], metrics: list[str]) -> dict[FloorKey, float]:
    """The noise floor per (group, n_q, metric): the largest difference of a probed condition's two runs' means
    (``probes`` maps each probe codec to the codec it repeats); absent where no probe was scored."""
    cells = _by_cell(records)
    floors: dict[FloorKey, float] = {}
    for (group, n_q, codec), mine in cells.items():
        original = probes.get(codec)
        if original is None or (group, n_q, original) not in cells:
            continue
        for metric in metrics:
            runs = [_clip_means(mine, metric), _clip_means(cells[(group, n_q, original)], metric)]
            shared = sorted(set(runs[0]) & set(runs[1]))  # the same clips, so only the run differs
            if not shared:
                continue
            floor = noise_floor([float(np.mean([run[c] for c in shared])) for run in runs])
            key = (group, n_q, metric)
            floors[key] = max(floors.get(key, 0.0), floor)
    return floors


def floor_rows(floors: dict[FloorKey, float], probes: dict[str, str]) -> list[dict[str, Any]]:
    """``tables/noise_floor.csv``."""
    probed = ", ".join(sorted(set(probes.values())))
    return [{"group": g, "n_q": n, "metric": m, "floor": f, "probed": probed}
            for (g, n, m), f in sorted(floors.items())]


def apply_noise_floor(cells: list[Any], floors: dict[FloorKey, float], n_q: int,
                      outside: frozenset[str] = frozenset()) -> list[Any]:
    """Paper cells with best/worst (and significance) dropped where the margin over the next condition is below
    the noise floor; such cells get ``within_noise``. Cells without a floor are returned unchanged."""
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for cell in cells:
        groups[(cell.metric, cell.group)].append(cell)
    out = []
    for (metric, group), members in groups.items():
        floor = floors.get((group, str(n_q), metric), math.nan)
        ranked = [c for c in members if c.condition not in outside and math.isfinite(c.mean)]
        for cell in members:
            if not (cell.best or cell.worst) or not math.isfinite(floor):
                out.append(cell)
                continue
            others = [abs(cell.mean - c.mean) for c in ranked if c.condition != cell.condition]
            if others and min(others) < floor:
                cell = replace(cell, best=False, worst=False, significant=False, within_noise=True)
            out.append(cell)
    return out


def condition_rows(records: list[dict[str, Any]], condition_of: dict[str, str], metrics: list[str],
                   directions: dict[str, str]) -> list[dict[str, Any]]:
    """``tables/conditions.csv``: per group, n_q, condition and metric, the mean over its runs (each run's mean
    over the clips) with a 95 % t interval over the run means."""
    runs = _run_means(records, condition_of, metrics)
    rows = []
    for (group, n_q, condition, metric), means in sorted(runs.items()):
        mean, low, high = run_mean_interval(list(means.values()))
        rows.append({"group": group, "n_q": n_q, "condition": condition, "metric": metric,
                     "direction": directions.get(metric), "runs": len(means), "mean": mean, "ci_low": low,
                     "ci_high": high})
    return rows


def _run_means(records: list[dict[str, Any]], condition_of: dict[str, str],
               metrics: list[str]) -> dict[tuple[str, str, str, str], dict[str, float]]:
    runs: dict[tuple[str, str, str, str], dict[str, float]] = defaultdict(dict)
    for (group, n_q, codec), mine in _by_cell(records).items():
        condition = condition_of.get(codec)
        if condition is None:
            continue
        for metric in metrics:
            values = _clip_means(mine, metric)
            if values:
                runs[(group, n_q, condition, metric)][codec] = float(np.mean(list(values.values())))
    return runs


def _run_averaged_clips(records: list[dict[str, Any]], codecs: list[str], metric: str) -> dict[str, float]:
    """Per clip, the mean over a condition's runs (clips scored in every run only)."""
    per_run = [_clip_means([r for r in records if r.get("condition") == c], metric) for c in codecs]
    shared = set.intersection(*(set(run) for run in per_run)) if per_run else set()
    return {clip: float(np.mean([run[clip] for run in per_run])) for clip in shared}


def condition_pairs(records: list[dict[str, Any]], condition_of: dict[str, str], metrics: list[str],
                    directions: dict[str, str], alpha: float = 0.05) -> list[dict[str, Any]]:
    """``tables/conditions_pairwise.csv``: every two conditions per group, n_q and metric, over runs (Welch's t on
    run means, Holm-corrected over the table) and over clips (the paired Wilcoxon test on run-averaged clip
    values); ``significant`` needs both."""
    runs = _run_means(records, condition_of, metrics)
    codecs_of: dict[str, list[str]] = defaultdict(list)
    for codec, condition in sorted(condition_of.items()):
        codecs_of[condition].append(codec)
    cells: dict[tuple[str, str, str], dict[str, dict[str, float]]] = defaultdict(dict)
    for (group, n_q, condition, metric), means in runs.items():
        cells[(group, n_q, metric)][condition] = means
    rows = []
    for (group, n_q, metric), by_condition in sorted(cells.items()):
        mine = [r for r in records if str(r.get("set")) == group and str(r.get("n_q")) == n_q]
        for a, b in combinations(sorted(by_condition), 2):
            diff, low, high, p_runs = run_level_difference(list(by_condition[a].values()),
                                                            list(by_condition[b].values()))
            clips_a = _run_averaged_clips(mine, codecs_of[a], metric)
            clips_b = _run_averaged_clips(mine, codecs_of[b], metric)
            shared = sorted(set(clips_a) & set(clips_b))
            p_clips = paired_p(np.array([clips_a[c] - clips_b[c] for c in shared]), "wilcoxon", 1000, 0)
            sign = 1.0 if directions.get(metric) == "higher" else -1.0
            better = a if sign * diff > 0 else b if sign * diff < 0 else "="
            rows.append({"group": group, "n_q": n_q, "metric": metric, "condition_a": a, "condition_b": b,
                         "runs_a": len(by_condition[a]), "runs_b": len(by_condition[b]), "clips": len(shared),
                         "mean_diff": diff, "ci_low": low, "ci_high": high, "p_runs": p_runs, "p_clips": p_clips,
                         "better": better})
    adjusted = holm([r["p_runs"] for r in rows])
    for row, p in zip(rows, adjusted):
        row["p_runs_holm"] = p
        row["significant"] = bool(p < alpha and row["p_clips"] < alpha)
    return rows


def noise_note(floors: dict[FloorKey, float], probes: dict[str, str], seeds: int) -> str:
    """The line next to the tables' marks that says which question they answer about training noise."""
    if seeds > 1:
        return (f"Each condition was trained {seeds} times: conditions.csv and conditions_pairwise.csv compare "
                "conditions over training runs and clips; the marks below compare single runs over clips only.")
    if floors:
        return (f"{NOISE_MARK} = within training noise: the margin over the next condition is smaller than the "
                f"run-to-run difference of {', '.join(sorted(set(probes.values())))} trained twice (noise_floor.csv); "
                "not counted as best or worst.")
    return ("Training noise was not measured (one run per condition, no train.noise_probe): the marks say that "
            "these trained instances differ on these clips, not that the coverage conditions do.")
