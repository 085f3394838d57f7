"""The study report: ``report/index.html`` with figures and audio, built from the run folder's files.

:func:`build_report` is the only part with side effects: it loads the tables (CSV), training metrics, corpus stats,
leakage and provenance, writes the figures and audio samples next to the page and renders it with the pure
:func:`codecstudy.study.report.html.render`. The page is written last, through a temporary name, so its mtime
says the report is complete (see :mod:`codecstudy.study.state`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from codecstudy.study.layout import RunLayout
from codecstudy.study.listening import report_data as listening_data
from codecstudy.study.report import plots
from codecstudy.study.report.html import Figure, ReportData, render
from codecstudy.study.spec import StudySpec
from codecstudy.study.tables import read_csv, train_curves


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _codec_rows(spec: StudySpec, layout: RunLayout) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows, curves = [], {}
    for run in spec.codec_runs():
        folder = layout.codec_dir(run.name)
        summary = _json(folder / "summary.json") or {}
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
        curves[run.name] = train_curves(folder)
    return rows, curves


def _evaluators(spec: StudySpec, layout: RunLayout) -> dict[str, Any]:
    """Metric settings, library versions and evaluator models, from the first evaluation's ``meta.json``."""
    for run in spec.codec_runs():
        for eval_set in spec.eval_set_names:
            meta = _json(layout.eval_dir(run.name, eval_set) / "meta.json")
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


def build_report(spec: StudySpec, layout: RunLayout, *, audio: bool = True) -> Path:
    """Write ``report/index.html`` (with ``*.png`` and ``audio/``) from the study's tables; returns its path."""
    out = layout.report_dir
    out.mkdir(parents=True, exist_ok=True)
    tables = layout.tables
    baselines = read_csv(tables / "baselines.csv")
    labels = _baseline_labels(baselines)  # "opus-6kbps" -> "opus-6kbps (baseline, 6.05 kbps)" in tables and plots
    paper = [{**c, "condition": labels.get(c["condition"], c["condition"])} for c in read_csv(tables / "paper.csv")]
    groups = [{**c, "condition": labels.get(c["condition"], c["condition"])} for c in read_csv(tables / "groups.csv")]
    usage = read_csv(tables / "usage.csv")
    hours = read_csv(tables / "hours.csv")
    codecs, curves = _codec_rows(spec, layout)
    n_q = int(paper[0]["n_q"]) if paper else spec.report.n_q

    metrics = list(dict.fromkeys(c["metric"] for c in paper))
    figs: dict[str, list[Figure]] = {"bitrate": [], "languages": []}
    for metric in metrics:
        src = plots.quality_vs_bitrate(groups, metric, out / f"bitrate-{metric}.png").name
        figs["bitrate"].append(Figure(f"{metric} against number of codebooks", src, "one panel per language/domain"))
        src = plots.group_bars(paper, metric, out / f"groups-{metric}.png").name
        figs["languages"].append(Figure(f"{metric} per language/domain at {n_q} codebooks", src))
    figs["usage"] = [Figure("codebook perplexity", plots.codebook_usage(usage, out / "usage.png").name)]
    figs["training"] = [Figure("training curves", plots.training_curves(curves, out / "training.png").name)]
    figs["corpus"] = [Figure("training data per condition", plots.corpus_hours(hours, out / "hours.png").name)]

    samples: list[dict[str, Any]] = []
    trained = {r.name: layout.codec_file(r.name) for r in spec.codec_runs() if layout.codec_file(r.name).is_file()}
    if audio and spec.report.audio_clips and trained:
        from dataclasses import asdict

        from codecstudy.study.samples import write_samples

        sets = {s: layout.eval_manifest(s) for s in spec.eval_set_names if layout.eval_manifest(s).is_file()}
        players: dict[str, Path | str] = {**trained}
        settings: dict[str, str] = {}
        for row in baselines:  # each baseline row at its own setting (row "name@setting" when it has several)
            name = row["condition"].split("@")[0]
            codec = next((b.codec for b in spec.baseline_runs() if b.name == name), None)
            if codec is not None:
                players[row["condition"]], settings[row["condition"]] = codec, row["setting"]
        samples = [asdict(s) for s in write_samples(out, sets, players, n_q, spec.report.audio_clips,
                                                    settings=settings)]

    tts_samples: list[dict[str, Any]] = []
    tts_evals = {r.name: layout.tts_dir(r.name) / "eval" for r in spec.codec_runs()
                 if (layout.tts_dir(r.name) / "eval" / "results.jsonl").is_file()}
    if audio and spec.tts.enabled and tts_evals and spec.report.audio_clips:
        from dataclasses import asdict

        from codecstudy.study.samples import copy_tts_samples

        tts_samples = [asdict(s) for s in copy_tts_samples(out, tts_evals, spec.report.audio_clips)]

    study_file = layout.study_file
    config_text = study_file.read_text(encoding="utf-8") if study_file.is_file() else ""
    provenance = (yaml.safe_load(config_text) or {}).get("provenance", {}) if config_text else {}
    data = ReportData(
        title=spec.report.title or f"codecstudy: {spec.name}",
        description=spec.description.strip(),
        n_q=n_q,
        paper=paper,
        paper_counts=read_csv(tables / "paper_counts.csv"),
        baselines=baselines,
        set_counts=read_csv(tables / "counts.csv"),
        seeds=read_csv(tables / "seeds.csv"),
        usage=usage,
        delays=read_csv(tables / "delays.csv"),
        leakage=_json(layout.corpus / "leakage.json") or [],
        codecs=codecs,
        figures=figs,
        samples=samples,
        tts=read_csv(tables / "tts.csv") if spec.tts.enabled else [],
        tts_samples=tts_samples,
        config_yaml=config_text,
        environment=provenance,
        evaluators=_evaluators(spec, layout),
        tables=sorted(p.name for p in tables.glob("*") if p.suffix in (".csv", ".md", ".tex")),
        nonspeech=read_csv(tables / "nonspeech.csv"),
        fad=read_csv(tables / "fad.csv"),
        skipped=read_csv(tables / "skipped.csv"),
        listening=listening_data(spec, layout),
    )
    page = layout.report_file
    tmp = page.with_name(page.name + ".tmp")
    tmp.write_text(render(data), encoding="utf-8")
    os.replace(tmp, page)
    return page
