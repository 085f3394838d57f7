"""The study report: ``report/index.html`` with figures and audio, built from the run folder's files.

:func:`build_report` is the only part with side effects: it loads the tables (CSV), training metrics, corpus stats,
leakage and provenance, writes the figures and audio samples next to the page and renders it with the pure
:func:`codecstudy.study.report.html.render`. The page is written last, through a temporary name, so its mtime
says the report is complete (see :mod:`codecstudy.study.state`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from codecstudy.csvtable import read_csv
from codecstudy.files import read_json_or_none, write_text_atomic
from codecstudy.jsonl import read_jsonl
from codecstudy.study.layout import RunLayout
from codecstudy.study.report import plots
from codecstudy.study.report.cost_plot import quality_vs_cost
from codecstudy.study.report.html import Figure, ReportData, render
from codecstudy.study.robust_tables import definition_line
from codecstudy.study.samples import copy_tts_samples, write_samples
from codecstudy.study.settings import frame_rules
from codecstudy.study.spec import StudySpec
from codecstudy.study.state import listening_test

#: A codec's training curves in the report, from its ``metrics.jsonl``.
CURVE_KEYS = ("train/generator/mel", "train/generator/total", "valid/mel_distance", "valid/stoi")


def train_curves(metrics: Path) -> dict[str, list[tuple[int, float]]]:
    """``train/generator/mel`` and ``valid/mel_distance`` (when logged) from a codec's ``metrics.jsonl``."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for record in read_jsonl(metrics):
        if record.get("kind") in ("train", "valid"):
            latest[(record["kind"], int(record["step"]))] = record
    curves: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for (_, step), record in sorted(latest.items(), key=lambda kv: kv[0][1]):
        for key in CURVE_KEYS:
            value = record.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                curves[key].append((step, float(value)))
    return dict(curves)


def listening_data(layout: RunLayout) -> dict[str, Any]:
    """What the report's listening section shows (empty when there is no test)."""
    test = listening_test(layout)
    if test is None:
        return {}
    summary = read_json_or_none(layout.mushra_summary) or {}
    current = summary.get("trials_hash") == test.trials_hash

    def table(name: str) -> list[dict[str, str]]:
        return read_csv(layout.table(name)) if current else []

    return {
        "page": "../listen/index.html",
        "trials": len(test.trials),
        "conditions": sorted({c for t in test.trials for c in t.stimuli}),
        "n_q": test.n_q,
        "measure": test.loudness.get("measure", ""),
        "summary": summary if current else {},
        "scores": table("mushra.csv"),
        "pairs": table("mushra_pairwise.csv"),
        "listeners": table("mushra_listeners.csv"),
        "correlation": table("mushra_correlation.csv"),
    }


def _codec_rows(spec: StudySpec, layout: RunLayout) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows, curves = [], {}
    for run in spec.codec_runs():
        summary = read_json_or_none(layout.train_summary(run.name)) or {}
        valid = summary.get("valid") or {}
        rows.append(
            {
                "codec": run.name,
                "step": summary.get("step", "not trained"),
                "minutes": f"{summary['seconds'] / 60:.1f}" if "seconds" in summary else "",
                "valid mel_distance": f"{valid['valid/mel_distance']:.3f}" if "valid/mel_distance" in valid else "",
                "valid stoi": f"{valid['valid/stoi']:.3f}" if "valid/stoi" in valid else "",
            }
        )
        curves[run.name] = train_curves(layout.train_metrics(run.name))
    return rows, curves


def _evaluators(spec: StudySpec, layout: RunLayout) -> dict[str, Any]:
    """Metric settings, library versions and evaluator models, from the first evaluation's ``meta.json``."""
    for run in spec.codec_runs():
        for eval_set in spec.eval_set_names:
            meta = read_json_or_none(layout.eval_meta(run.name, eval_set))
            if isinstance(meta, dict):
                return {"mode": meta.get("mode"), "alignment": meta.get("alignment"), "metrics": meta.get("metrics")}
    return {}


def _baseline_labels(rows: list[dict[str, str]]) -> dict[str, str]:
    out = {}
    for row in rows:
        try:
            out[row["condition"]] = f"{row['condition']} (baseline, {float(row['measured_kbps']):.2f} kbps)"
        except (TypeError, ValueError):
            out[row["condition"]] = f"{row['condition']} (baseline)"
    return out




def _scaled(value: str | None, scale: float, digits: int) -> str:
    try:
        return f"{float(value) / scale:.{digits}f}"
    except (TypeError, ValueError):
        return "n/a"


def codec_table(cards: list[dict[str, str]]) -> list[dict[str, str]]:
    """``tables/codecs.csv`` as the report shows it: bitrates in kbps, MACs in millions per second of audio."""
    return [{
        "codec": row["condition"], "setting": row["setting"],
        "kbps nominal": _scaled(row.get("nominal_bps"), 1000, 2),
        "kbps measured": _scaled(row.get("measured_bps"), 1000, 2),
        "latency ms": _scaled(row.get("latency_ms"), 1, 1),
        "MMACs/s enc": _scaled(row.get("macs_encode_per_s"), 1e6, 1) if row.get("macs_encode_per_s") else row.get(
            "macs_note") or "not counted",
        "MMACs/s dec": _scaled(row.get("macs_decode_per_s"), 1e6, 1) if row.get("macs_decode_per_s") else "",
        "params M": _scaled(row.get("params_total"), 1e6, 2), "tokens/s": _scaled(row.get("tokens_per_s"), 1, 0),
        "RTF 10 s": _scaled(row.get("rtf_roundtrip_10s"), 1, 4),
        "streaming": "/".join(f"{k} {'yes' if row.get(f'streaming_{k}') == 'True' else 'no'}"
                              for k in ("encode", "decode")),
    } for row in cards]


def cost_metric(spec: StudySpec, summary: list[dict[str, str]]) -> str | None:
    """The plot's metric: the study's ``report.cost_metric``, else STOI when scored, else the first metric."""
    metrics = list(dict.fromkeys(r["metric"] for r in summary))
    if spec.report.cost_metric:
        return spec.report.cost_metric
    return "stoi" if "stoi" in metrics else (metrics[0] if metrics else None)


def with_quality(cards: list[dict[str, str]], summary: list[dict[str, str]], metric: str) -> list[dict[str, Any]]:
    """Each card row with ``metric`` pooled over every scored clip of its codec at its setting (set means weighted
    by their clip counts), for the quality-against-cost plot."""
    pooled: dict[tuple[str, str], list[float]] = {}
    for row in summary:
        if row["metric"] != metric:
            continue
        try:
            n, mean = int(row["n"]), float(row["mean"])
        except (TypeError, ValueError):
            continue
        if n > 0 and math.isfinite(mean):
            total = pooled.setdefault((row["condition"].split("@")[0], row["n_q"]), [0.0, 0.0])
            total[0] += n * mean
            total[1] += n
    out = []
    for card in cards:
        total = pooled.get((card["condition"], card["setting"]))
        out.append({**card, "codec": card["condition"], metric: total[0] / total[1] if total else None})
    return out


def relabel(rows: list[dict[str, str]], labels: dict[str, str]) -> list[dict[str, str]]:
    return [{**row, "condition": labels.get(row["condition"], row["condition"])} for row in rows]


def draw_figures(out: Path, paper: list[dict[str, str]], groups: list[dict[str, str]], usage: list[dict[str, str]],
                 hours: list[dict[str, str]], curves: dict[str, Any], n_q: int,
                 baselines: frozenset[str] = frozenset()) -> dict[str, list[Figure]]:
    """The report's figures, written next to the page (``baselines``: their row labels, drawn as levels)."""
    figs: dict[str, list[Figure]] = {"bitrate": [], "languages": []}
    for metric in dict.fromkeys(c["metric"] for c in paper):
        src = plots.quality_vs_bitrate(groups, metric, out / f"bitrate-{metric}.png", baselines).name
        figs["bitrate"].append(Figure(f"{metric} against number of codebooks", src, "one panel per language/domain"))
        src = plots.group_bars(paper, metric, out / f"groups-{metric}.png").name
        figs["languages"].append(Figure(f"{metric} per language/domain at {n_q} codebooks", src))
    figs["usage"] = [Figure("codebook perplexity", plots.codebook_usage(usage, out / "usage.png").name)]
    figs["training"] = [Figure("training curves", plots.training_curves(curves, out / "training.png").name)]
    figs["corpus"] = [Figure("training data per condition", plots.corpus_hours(hours, out / "hours.png").name)]
    return figs


def cost_figures(out: Path, cards: list[dict[str, str]], summary: list[dict[str, str]],
                 metric: str | None) -> list[Figure]:
    if not cards or metric is None:
        return []
    path = quality_vs_cost(with_quality(cards, summary, metric), metric, out / "cost.png")
    return [Figure(f"{metric} against compute and latency", path.name,
                   "one point per codec and setting, labelled with its bitrate; MACs/s counted, latency from the "
                   "architecture (tables/codecs.csv)")]


def audio_samples(spec: StudySpec, layout: RunLayout, baselines: list[dict[str, str]], n_q: int) -> list[dict]:
    """A few clips of each set through every trained codec and every baseline row, next to the page."""
    trained = {r.name: layout.codec_file(r.name) for r in spec.compared_runs() if layout.codec_file(r.name).is_file()}
    if not spec.report.audio_clips or not trained:
        return []
    sets = {s: layout.eval_manifest(s) for s in spec.eval_set_names if layout.eval_manifest(s).is_file()}
    players: dict[str, Path | str] = {**trained}
    settings: dict[str, str] = {}
    for row in baselines:  # each baseline row at its own setting (row "name@setting" when it has several)
        name = row["condition"].split("@")[0]
        codec = next((b.codec for b in spec.baseline_runs() if b.name == name), None)
        if codec is not None:
            players[row["condition"]], settings[row["condition"]] = codec, row["setting"]
    samples = write_samples(layout.report_dir, sets, players, n_q, spec.report.audio_clips, settings=settings)
    return [asdict(s) for s in samples]


def tts_audio_samples(spec: StudySpec, layout: RunLayout) -> list[dict]:
    tts_evals = {r.name: layout.tts_eval_dir(r.name) for r in spec.compared_runs()
                 if layout.tts_eval_results(r.name).is_file()}
    if not (spec.tts.enabled and tts_evals and spec.report.audio_clips):
        return []
    return [asdict(s) for s in copy_tts_samples(layout.report_dir, tts_evals, spec.report.audio_clips)]


def build_report(spec: StudySpec, layout: RunLayout, *, audio: bool = True) -> Path:
    """Write ``report/index.html`` (with ``*.png`` and ``audio/``) from the study's tables; returns its path."""
    layout.report_dir.mkdir(parents=True, exist_ok=True)
    table = lambda name: read_csv(layout.table(name))  # noqa: E731
    baselines = table("baselines.csv")
    labels = _baseline_labels(baselines)  # "opus-6kbps" -> "opus-6kbps (baseline, 6.05 kbps)" in tables and plots
    paper, groups = relabel(table("paper.csv"), labels), relabel(table("groups.csv"), labels)
    usage = table("usage.csv")
    cards, summary = table("codecs.csv"), table("summary.csv")
    codecs, curves = _codec_rows(spec, layout)
    n_q = int(paper[0]["n_q"]) if paper else spec.report.n_q
    config_text = layout.study_file.read_text(encoding="utf-8") if layout.study_file.is_file() else ""
    data = ReportData(
        title=spec.report.title or f"codecstudy: {spec.name}",
        description=spec.description.strip(),
        n_q=n_q,
        paper=paper,
        paper_counts=table("paper_counts.csv"),
        baselines=baselines,
        set_counts=table("counts.csv"),
        seeds=table("seeds.csv"),
        usage=usage,
        delays=table("delays.csv"),
        leakage=read_json_or_none(layout.leakage_json) or [],
        codecs=codecs,
        figures={**draw_figures(layout.report_dir, paper, groups, usage, table("hours.csv"), curves, n_q,
                                frozenset(labels.values())),
                 "cost": cost_figures(layout.report_dir, cards, summary, cost_metric(spec, summary))},
        codec_cards=codec_table(cards),
        noise_note=(read_json_or_none(layout.table("noise.json")) or {}).get("note", ""),
        samples=audio_samples(spec, layout, baselines, n_q) if audio else [],
        tts=table("tts.csv") if spec.tts.enabled else [],
        tts_samples=tts_audio_samples(spec, layout) if audio else [],
        config_yaml=config_text,
        environment=(yaml.safe_load(config_text) or {}).get("provenance", {}) if config_text else {},
        evaluators=_evaluators(spec, layout),
        tables=sorted(p.name for p in layout.tables.glob("*") if p.suffix in (".csv", ".md", ".tex")),
        nonspeech=table("nonspeech.csv"),
        fad=table("fad.csv"),
        skipped=table("skipped.csv"),
        listening=listening_data(layout),
        definition=definition_line(spec.evaluate.frames, spec.report.statistic, frame_rules(spec)),
        trust=relabel(table("trust.csv"), labels),
        outliers=table("outliers.csv"),
        speakers=table("speakers.csv"),
    )
    return write_text_atomic(layout.report_file, render(data))
