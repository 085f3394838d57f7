"""The tables' robust side: median and trimmed mean beside each mean, outlier clips, cells scored on different clips,
and the per-set "how much to trust these numbers" rows.

* ``groups.csv`` / ``paper.csv`` get ``median``, ``trimmed_mean`` (10 %, :mod:`codecstudy.evaluate.robust`) and
  ``clips_differ``: True when the conditions of a cell (group x n_q x metric) were scored on different clips (a
  failed clip, or a not-applicable one, is missing from one condition but not another), so their means compare
  different clips. The paired tests pair by clip already; the flag says where the means do not.
* ``outliers.csv``: per group x condition x metric at the report's n_q, each clip more than 3 robust standard
  deviations from the cell's median, with its value and robust z.
* ``trust.csv``: per eval set x condition at the report's n_q: clips with a line, clips with a failure, clips a
  metric could not score (``not applicable: ...`` skips) per metric, clips whose silent frames a frame rule left
  out, outputs with no voiced frame, outliers, the seen-speaker label and where the codec's delay came from.

Pure functions of result records (after :func:`codecstudy.study.tables.by_group`) and summary rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict
from typing import Any

from codecstudy.evaluate.aggregate import SummaryRow
from codecstudy.evaluate.registry import METRICS
from codecstudy.evaluate.robust import median, outliers, trimmed_mean

CellKey = tuple[str, str, str, str]  # group, n_q, condition, metric key
#: The statistics ``report.statistic`` may rank the paper tables' cells by.
STATISTICS = ("mean", "median", "trimmed_mean")
NOT_APPLICABLE = "not applicable:"  # the prefix of a clip-level skip (too short, no voiced reference, silence)
DROPPED_SUFFIX = "_frames_dropped"
UNVOICED_KEYS = ("f0_corr_unvoiced_output", "f0_corr_dtw_unvoiced_output")
FRAME_RULE_TEXT = {
    "robust": "MCD, F0 and mel distance leave out the reference's silent frames, 60 dB below its active level; "
    "F0 correlation of an unvoiced output is 0",
    "parity": "VERSA's frames, digital silence included, for comparison with published numbers",
}
STATISTIC_TEXT = {"median": "medians", "trimmed_mean": "10 % trimmed means"}


def _nq(record: dict[str, Any]) -> str:
    """The bitrate column as aggregate writes it: n_q, else the codec's setting, else ``-``."""
    if record.get("n_q") is not None:
        return str(record["n_q"])
    return str(record.get("setting") or "-")


def _skipped(record: dict[str, Any], key: str) -> bool:
    skipped = record.get("skipped") or {}
    return any(name in METRICS and key in METRICS[name].outputs for name in skipped)


def _finite(record: dict[str, Any], key: str) -> float | None:
    value = (record.get("metrics") or {}).get(key)
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def cell_values(grouped: list[dict[str, Any]], keys: list[str]) -> dict[CellKey, list[tuple[str, float]]]:
    """Per group x n_q x condition x metric key: (clip, value) of every clip with a finite value, in clip order
    (skipped and failed clips left out, as in the summary's mean)."""
    out: dict[CellKey, list[tuple[str, float]]] = defaultdict(list)
    for record in sorted(grouped, key=lambda r: str(r.get("clip"))):
        for key in keys:
            if _skipped(record, key):
                continue
            value = _finite(record, key)
            if value is not None:
                out[(str(record.get("set")), _nq(record), str(record.get("condition")), key)].append(
                    (str(record.get("clip")), value))
    return dict(out)


def clips_differ(values: dict[CellKey, list[tuple[str, float]]]) -> set[tuple[str, str, str]]:
    """The (group, n_q, metric) cells whose conditions were scored on different sets of clips."""
    clips: dict[tuple[str, str, str], list[frozenset[str]]] = defaultdict(list)
    for (group, n_q, _condition, key), pairs in values.items():
        clips[(group, n_q, key)].append(frozenset(c for c, _ in pairs))
    return {cell for cell, sets in clips.items() if len(set(sets)) > 1}


def robust_rows(rows: list[SummaryRow], values: dict[CellKey, list[tuple[str, float]]]) -> list[dict[str, Any]]:
    """``groups.csv``: each summary row with its median, 10 % trimmed mean and ``clips_differ``."""
    differ = clips_differ(values)
    out = []
    for row in rows:
        vals = [v for _, v in values.get((row.set, row.n_q, row.condition, row.metric), [])]
        out.append({**asdict(row), "median": median(vals), "trimmed_mean": trimmed_mean(vals),
                    "clips_differ": (row.set, row.n_q, row.metric) in differ})
    return out


def ranked_value(row: dict[str, Any], statistic: str) -> float:
    """The number a cell is ranked by (``report.statistic``); corpus rates (WER, CER) have only their mean."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    if row["metric"] in ("wer", "cer"):
        return float(row["mean"])
    return float(row[statistic])


def outlier_rows(values: dict[CellKey, list[tuple[str, float]]], n_q: int,
                 eval_set_of: dict[str, str]) -> list[dict[str, Any]]:
    """``outliers.csv``: per group x condition x metric at ``n_q``, the clips far outside the cell's spread
    (farthest first). ``eval_set_of`` maps a clip id to its evaluation set (where the report finds its audio)."""
    rows = []
    for (group, cell_nq, condition, key), pairs in sorted(values.items()):
        if cell_nq != str(n_q):
            continue
        for found in outliers([c for c, _ in pairs], [v for _, v in pairs]):
            rows.append({"group": group, "set": eval_set_of.get(found.clip, group), "n_q": cell_nq,
                         "condition": condition, "metric": key, "clip": found.clip, "value": found.value,
                         "robust_z": round(found.robust_z, 3)})
    return rows


def _delay_text(delays: list[dict[str, Any]], condition: str, eval_set: str, n_q: int) -> str:
    """Where the codec's delay at ``n_q`` came from (a baseline's only setting when it has one), with its ms."""
    mine = [r for r in delays if r["condition"] == condition and r["set"] == eval_set]
    row = next((r for r in mine if str(r["n_q"]) == str(n_q)), mine[0] if len(mine) == 1 else None)
    if row is None:
        return ""
    ms = row.get("delay_ms")
    return f"{row.get('source')}" + (f" ({ms} ms)" if ms not in (None, "") else "")


def trust_rows(records: list[dict[str, Any]], n_q: int, outlier_table: list[dict[str, Any]],
               speakers: dict[tuple[str, str], str], delays: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``trust.csv``: one row per eval set x condition at ``n_q`` (baselines at their own setting). ``records`` are
    result lines with their eval set in ``set``; ``speakers`` maps (eval set, condition) to its seen-speaker label;
    ``delays`` are ``delays.csv`` rows."""
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record.get("n_q") == n_q or record.get("baseline") or record.get("n_q") is None:
            cells[(str(record.get("set")), str(record.get("condition")))].append(record)
    counted: dict[tuple[str, str], int] = defaultdict(int)
    for row in outlier_table:
        counted[(row["set"], row["condition"])] += 1
    rows = []
    for (eval_set, condition), mine in sorted(cells.items()):
        not_applicable: dict[str, int] = defaultdict(int)
        for record in mine:
            for metric, reason in (record.get("skipped") or {}).items():
                if str(reason).startswith(NOT_APPLICABLE):
                    not_applicable[metric] += 1

        def dropped(record: dict[str, Any]) -> bool:
            return any(k.endswith(DROPPED_SUFFIX) and (v or 0) > 0 for k, v in (record.get("metrics") or {}).items())

        def unvoiced(record: dict[str, Any]) -> bool:
            return any(((record.get("metrics") or {}).get(k) or 0) > 0 for k in UNVOICED_KEYS)

        rows.append({
            "set": eval_set,
            "condition": condition,
            "n_q": _nq(mine[0]),
            "clips": len({r.get("clip") for r in mine}),
            "clips_failed": sum(1 for r in mine if r.get("errors") or r.get("error")),
            "not_applicable": "; ".join(f"{m}: {c}" for m, c in sorted(not_applicable.items())),
            "clips_frames_dropped": sum(1 for r in mine if dropped(r)),
            "unvoiced_outputs": sum(1 for r in mine if unvoiced(r)),
            "outliers": counted.get((eval_set, condition), 0),
            "speakers": speakers.get((eval_set, condition), ""),
            "delay": _delay_text(delays, condition, eval_set, n_q),
        })
    return rows


def definition_line(frames: str, statistic: str = "mean", per_metric: dict[str, str] | None = None) -> str:
    """Which definition the tables show: the frame rule of the spectral-envelope, pitch and mel metrics (with the
    metrics whose own setting differs, from ``per_metric``), and what best/worst compare (one sentence, in
    ``paper.md``'s header and the report's)."""
    rule = FRAME_RULE_TEXT.get(frames, frames)
    others = {m: r for m, r in (per_metric or {}).items() if r != frames}
    own = f"; {', '.join(f'{m}: {r}' for m, r in sorted(others.items()))}" if others else ""
    ranked = "means" if statistic == "mean" else STATISTIC_TEXT.get(statistic, statistic)
    return f"Frame rule: {frames} ({rule}{own}). Best/worst compare {ranked}."
