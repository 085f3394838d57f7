"""The report's non-speech section (the paper's Table 2 plus the embedding distance and FAD) and the notes on
metrics that were not computed or are marked (``tables/nonspeech.csv``, ``fad.csv``, ``skipped.csv``); rendered by
``templates/nonspeech.html.j2``."""

from __future__ import annotations

from typing import Any

from codecstudy.study.validity_tables import NONSPEECH_METRICS

ARROWS = {"mcd": "↓", "ci_sdr": "↑", "visqol_audio": "↑", "emb_dist": "↓", "fad": "↓"}


def nonspeech_view(rows: list[dict[str, str]]) -> dict[str, Any]:
    """Conditions as rows; per music/environment group MCD, CI-SDR, ViSQOL (audio mode), emb_dist and FAD."""
    order = [*NONSPEECH_METRICS, "fad"]
    groups = list(dict.fromkeys(r["group"] for r in rows))
    columns = [(g, m) for g in groups for m in order if any(r["group"] == g and r["metric"] == m for r in rows)]
    keyed = {(r["group"], r["metric"], r["condition"]): r for r in rows}
    return {
        "columns": [{"group": g, "metric": m, "arrow": ARROWS.get(m, "")} for g, m in columns],
        "rows": [{"condition": c, "cells": [keyed.get((g, m, c)) for g, m in columns]}
                 for c in dict.fromkeys(r["condition"] for r in rows)],
    }
