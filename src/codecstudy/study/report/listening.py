"""The report's listening-test section: a link to the test page and, once ratings are imported, the MUSHRA table,
who post-screening excluded and why, the paired tests and the correlation of each objective metric with the
ratings; rendered by ``templates/listening.html.j2``."""

from __future__ import annotations

from typing import Any

from codecstudy.listen.scores import pivot
from codecstudy.study.report.markup import fmt


def speakers(group: str, row: dict[str, str]) -> dict[str, str] | None:
    """For a language group: the mean of the listeners who speak it (all ratings count elsewhere)."""
    if not group.startswith("speech/"):
        return None
    n = row.get("speakers_ratings") or "0"
    return {"mean": fmt(row.get("speakers_mean"), 1) if n != "0" else "none", "n": n}


def score_table(rows: list[dict[str, str]]) -> dict[str, Any]:
    groups, conditions, keyed = pivot(rows)
    table_rows = []
    for c in conditions:
        cells = []
        for g in groups:
            r = keyed.get((g, c))
            cells.append(None if r is None else {
                "group": g, "mean": fmt(r["mean"], 1), "ci_low": fmt(r["ci_low"], 1), "ci_high": fmt(r["ci_high"], 1),
                "ratings": r["ratings"], "speakers": speakers(g, r)})
        table_rows.append({"condition": c, "cells": cells})
    return {"groups": groups, "rows": table_rows}


def listening_view(data: dict[str, Any]) -> dict[str, Any]:
    """What the section shows, from :func:`codecstudy.study.report.build.listening_data`."""
    scores = data.get("scores") or []
    return {
        **data,
        "summary": data.get("summary", {}),
        "table": score_table(scores) if scores else {"groups": [], "rows": []},
        "excluded": [r for r in data.get("listeners", []) if r.get("excluded") == "True"],
        "listeners": data.get("listeners", []),
        "pairs": [{**p, "pair": f"{p['condition_a']} vs {p['condition_b']}", "mean_diff": fmt(p["mean_diff"], 1),
                   "p_holm": fmt(p["p_holm"], 4)} for p in data.get("pairs", [])],
        "correlation": [{**c, "pearson": fmt(c["pearson"]), "spearman": fmt(c["spearman"])}
                        for c in data.get("correlation", [])],
    }
