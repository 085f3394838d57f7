"""The tables' side of metric validity: skip notes, language marks, and the paper's non-speech table with FAD.

* ``skipped.csv``: per language/domain group and metric, how many clips were not scored and why (a speech-only
  metric on music, say); the paper-style tables list these under each metric instead of showing a value.
* Language marks: a metric whose model was trained on English only (UTMOS, DNSMOS, SpeechBERTScore, SHEET, ...)
  keeps its value on other languages, but the cell gets ``†`` and a note (``paper.csv`` column ``note``).
* ``nonspeech.md`` / ``nonspeech.csv``: the paper's Table 2 (MCD, CI-SDR, ViSQOL in audio mode) plus the embedding
  distance and the set's FAD, one column block per music/environment group, best in bold and worst underlined.
* ``fad.csv``: each codec x set x n_q ``fad.json``, with its model, frame counts and small-set warning.

Pure functions of result records, paper cells and fad.json files; :mod:`codecstudy.study.tables` calls them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codecstudy.evaluate.applicability import MARK, off_language, validity_of
from codecstudy.evaluate.registry import METRICS
from codecstudy.files import read_json_or_none

NONSPEECH_DOMAINS = ("music", "environment")
# The paper's Table 2 (MCD, CI-SDR, ViSQOL) and the embedding distance; FAD is added from fad.json.
NONSPEECH_METRICS = ("mcd", "ci_sdr", "visqol_audio", "emb_dist")


def _spec_of_key() -> dict[str, Any]:
    return {key: spec for spec in METRICS.values() for key in spec.outputs}


def group_info(grouped: list[dict[str, Any]]) -> dict[str, dict[str, set[str]]]:
    """Per group (``set`` after :func:`codecstudy.study.tables.by_group`): the domains and languages of its clips."""
    info: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"domains": set(), "languages": set()})
    for record in grouped:
        entry = info[str(record.get("set"))]
        if record.get("domain"):
            entry["domains"].add(str(record["domain"]))
        if record.get("language"):
            entry["languages"].add(str(record["language"]))
    return dict(info)


def skip_rows(grouped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (group, n_q, metric, reason) with the number of clips not scored."""
    counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for record in grouped:
        for metric, reason in (record.get("skipped") or {}).items():
            counts[(str(record.get("set")), str(record.get("n_q")), metric, reason)] += 1
    return [
        {"group": g, "n_q": n, "metric": m, "reason": r, "clips": c} for (g, n, m, r), c in sorted(counts.items())
    ]


def language_marks(
    cells: list[Any], info: dict[str, dict[str, set[str]]], validity: dict[str, Any] | None = None
) -> dict[tuple[str, str], str]:
    """``(metric key, group) -> note`` for cells whose model was not trained on the group's language(s)."""
    specs = _spec_of_key()
    marks: dict[tuple[str, str], str] = {}
    for cell in cells:
        spec = specs.get(cell.metric)
        if spec is None:
            continue
        v = validity_of(spec, validity)
        langs = sorted(info.get(cell.group, {}).get("languages", set()))
        off = [lang for lang in langs if off_language(v, lang)]
        if off:
            trained = "/".join(v.languages or ())
            note = f"{MARK} {spec.name} was trained on {trained} only; here: {', '.join(off)}"
            marks[(cell.metric, cell.group)] = note
    return marks


def paper_notes(
    marks: dict[tuple[str, str], str], skips: list[dict[str, Any]], n_q: int, metric_keys: list[str]
) -> str:
    """Markdown notes under the paper-style tables: marked cells and metrics not computed on some groups."""
    lines = []
    if marks:
        lines.append(f"\n{MARK} = the metric's model was trained on other languages than this column's:\n")
        lines += [f"* {metric} / {group}: {note}" for (metric, group), note in sorted(marks.items())]
    specs = _spec_of_key()
    wanted = {specs[k].name for k in metric_keys if k in specs}
    skipped: dict[str, dict[str, str]] = defaultdict(dict)
    for row in skips:
        if row["n_q"] == str(n_q) and row["metric"] in wanted:
            skipped[row["metric"]][row["group"]] = row["reason"]
    if skipped:
        lines.append("\nNot computed (outside the metric's validity; see `skipped.csv`):\n")
        for metric, groups in sorted(skipped.items()):
            reason = next(iter(groups.values())).split(" (")[-1].rstrip(")")
            lines.append(f"* {metric}: {', '.join(sorted(groups))} ({reason})")
    return "\n".join(lines) + ("\n" if lines else "")


# --------------------------------------------------------------------------------------------------------- FAD
def fad_row(path: Path, condition: str, eval_set: str, n_q: int | None, setting: str | None = None,
            baseline: bool = False) -> dict[str, Any] | None:
    """One ``fad.json`` as a table row (None when the file is missing); every row has the same keys (one CSV)."""
    data = read_json_or_none(path)
    if not isinstance(data, dict):
        return None
    model = data.get("model") or {}
    return {
        "condition": condition,
        "set": eval_set,
        "n_q": n_q,
        "fad": data.get("fad"),
        "clips": data.get("clips"),
        "frames_ref": data.get("frames_ref"),
        "frames_est": data.get("frames_est"),
        "model": model.get("model"),
        "sha256": (model.get("sha256") or "")[:16],
        "warning": data.get("warning") or data.get("error") or "",
        "setting": setting if setting is not None else (str(n_q) if n_q is not None else None),
        "baseline": baseline,
    }


def fad_rows(fad_path: Callable[[str, str, int], Path], codecs: list[str], sets: list[str],
             n_qs: list[int]) -> list[dict[str, Any]]:
    """Every trained codec's ``fad.json`` (``fad_path(codec, set, n_q)``) as a row."""
    rows = []
    for codec in codecs:
        for eval_set in sets:
            for n_q in n_qs:
                row = fad_row(fad_path(codec, eval_set, n_q), codec, eval_set, n_q)
                if row is not None:
                    rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------ non-speech table
def nonspeech_rows(
    cells: list[Any], info: dict[str, dict[str, set[str]]], fads: list[dict[str, Any]], n_q: int,
    outside: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Long-form rows of the non-speech table: group, condition, metric, value, CI, best, worst. FADs without an
    ``n_q`` (baselines, at their own bitrate) join the table at ``n_q``; conditions in ``outside`` (baselines not
    counted) are shown but never best or worst, as in the other cells."""
    groups = [g for g, i in info.items() if i["domains"] and i["domains"] <= set(NONSPEECH_DOMAINS)]
    rows = []
    for cell in cells:
        if cell.group in groups and cell.metric in NONSPEECH_METRICS:
            rows.append(
                {"group": cell.group, "condition": cell.condition, "metric": cell.metric, "mean": cell.mean,
                 "ci_low": cell.ci_low, "ci_high": cell.ci_high, "n": cell.n, "best": cell.best,
                 "worst": cell.worst, "significant": cell.significant, "warning": ""}
            )
    fad_here = [f for f in fads if f["set"] in groups and f["n_q"] in (n_q, None) and f.get("fad") is not None]
    for group in groups:
        mine = [f for f in fad_here if f["set"] == group]
        values = [float(f["fad"]) for f in mine if f["condition"] not in outside]
        compared = len(values) > 1 and not math.isclose(min(values), max(values), rel_tol=1e-12, abs_tol=1e-12)
        for f in mine:
            ranked = compared and f["condition"] not in outside
            rows.append(
                {"group": group, "condition": f["condition"], "metric": "fad", "mean": float(f["fad"]),
                 "ci_low": math.nan, "ci_high": math.nan, "n": f["clips"],
                 "best": ranked and math.isclose(float(f["fad"]), min(values)),
                 "worst": ranked and math.isclose(float(f["fad"]), max(values)), "significant": False,
                 "warning": f["warning"]}
            )
    return rows


def nonspeech_markdown(rows: list[dict[str, Any]], n_q: int) -> str:
    """The paper's Table 2 layout: conditions as rows; per music/environment group MCD, CI-SDR, ViSQOL, the
    embedding distance and FAD."""
    head = (
        f"Non-speech table at {n_q} codebooks (the paper's Table 2: MCD ↓, CI-SDR ↑, ViSQOL audio mode ↑; plus the "
        "embedding distance ↓ and FAD ↓). Mean [95 % CI]; **bold** = best, <u>underlined</u> = worst.\n"
    )
    if not rows:
        return head + "\nNo music or environment results.\n"
    order = [*NONSPEECH_METRICS, "fad"]
    groups = list(dict.fromkeys(r["group"] for r in rows))
    columns = [(g, m) for g in groups for m in order if any(r["group"] == g and r["metric"] == m for r in rows)]
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    keyed = {(r["group"], r["metric"], r["condition"]): r for r in rows}

    def fmt(row: dict[str, Any] | None) -> str:
        if row is None or not math.isfinite(row["mean"]):
            return "n/a"
        text = f"{row['mean']:.3f}"
        if math.isfinite(row["ci_low"]):
            text += f" [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
        if row["best"]:
            text = f"**{text}**"
        if row["worst"]:
            text = f"<u>{text}</u>"
        return text

    out = [head, "| condition | " + " | ".join(f"{g}: {m}" for g, m in columns) + " |",
           "|---|" + "|".join("---" for _ in columns) + "|"]
    for condition in conditions:
        out.append(f"| {condition} | " + " | ".join(fmt(keyed.get((g, m, condition))) for g, m in columns) + " |")
    warnings = sorted({f"{r['group']}: {r['warning']}" for r in rows if r.get("warning")})
    if warnings:
        out.append("\nFAD warnings:\n")
        out += [f"* {w}" for w in warnings]
    return "\n".join(out) + "\n"
