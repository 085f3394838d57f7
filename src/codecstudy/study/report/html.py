"""``index.html`` as a pure function of the loaded report data: no file access, every text escaped.

The layout is ``templates/report.html.j2`` (autoescaped); this module turns the loaded tables into what the
template shows (which cell is where, which delays disagree, which sets leak) and renders it.

The page is static and self-contained: inline CSS, figures and audio referenced by relative paths next to it, so
it opens from disk (``file://``) and can be zipped or copied as a folder. A small inline script marks each audio
element with ``data-state`` once its metadata loaded (or failed), which the Chromium test reads from the DOM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from codecstudy.study.report.listening import listening_view
from codecstudy.study.report.markup import fmt, macro, number, render_template
from codecstudy.study.report.nonspeech import nonspeech_view
from codecstudy.study.report.trust import trust_view
from codecstudy.study.speakers import PARTLY_SEEN_LABEL, SEEN_LABEL, speaker_notes


@dataclass
class Figure:
    title: str
    src: str
    caption: str = ""


@dataclass
class ReportData:
    """Everything the page shows, already loaded (rows are CSV rows: strings)."""

    title: str
    description: str = ""
    n_q: int | None = None
    paper: list[dict[str, str]] = field(default_factory=list)
    paper_counts: list[dict[str, str]] = field(default_factory=list)
    baselines: list[dict[str, str]] = field(default_factory=list)
    set_counts: list[dict[str, str]] = field(default_factory=list)
    seeds: list[dict[str, str]] = field(default_factory=list)
    usage: list[dict[str, str]] = field(default_factory=list)
    delays: list[dict[str, str]] = field(default_factory=list)
    leakage: list[dict[str, Any]] = field(default_factory=list)
    codecs: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, list[Figure]] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    tts: list[dict[str, str]] = field(default_factory=list)
    tts_samples: list[dict[str, Any]] = field(default_factory=list)
    config_yaml: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    evaluators: dict[str, Any] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)
    nonspeech: list[dict[str, str]] = field(default_factory=list)
    fad: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    listening: dict[str, Any] = field(default_factory=dict)  # report.build.listening_data
    codec_cards: list[dict[str, str]] = field(default_factory=list)  # report.build.codec_table
    noise_note: str = ""  # what the marks say about training noise (tables/noise.json)
    definition: str = ""  # which frame rule and statistic the tables show (robust_tables.definition_line)
    trust: list[dict[str, str]] = field(default_factory=list)  # tables/trust.csv
    outliers: list[dict[str, str]] = field(default_factory=list)  # tables/outliers.csv
    speakers: list[dict[str, str]] = field(default_factory=list)  # tables/speakers.csv


def paper_cell(cell: dict[str, str]) -> str:
    """One ``<td>``: the mean (bold if best, underlined if worst, * if significant) and its CI below."""
    return str(macro("macros.html.j2", "paper_cell")(cell))


def _speaker_mark(cells: list[dict[str, str]]) -> str:
    """A column's mark: ``seen speakers`` when every condition that heard its speakers heard all of them, else
    ``partly seen speakers``; empty when no condition trained on any of its speakers."""
    labels = {c.get("speakers") for c in cells if c.get("speakers")}
    if not labels:
        return ""
    return SEEN_LABEL if labels == {SEEN_LABEL} else PARTLY_SEEN_LABEL


def paper_view(cells: list[dict[str, str]], speakers: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """One table per metric: conditions as rows, language/domain groups as columns (None where no cell); a column
    whose speakers some condition trained on carries its label (``mark``), with the notes of ``speakers.csv``
    under the table."""
    tables = []
    for metric in dict.fromkeys(c["metric"] for c in cells):
        mine = [c for c in cells if c["metric"] == metric]
        groups = list(dict.fromkeys(c["group"] for c in mine))
        keyed = {(c["group"], c["condition"]): c for c in mine}
        rows = [{"condition": condition, "cells": [keyed.get((g, condition)) for g in groups]}
                for condition in dict.fromkeys(c["condition"] for c in mine)]
        arrow = "↑ higher is better" if mine[0]["direction"] == "higher" else "↓ lower is better"
        columns = [{"name": g, "mark": _speaker_mark([c for c in mine if c["group"] == g])} for g in groups]
        marked = {c["name"] for c in columns if c["mark"]}
        notes = speaker_notes([s for s in speakers or [] if s["group"] in marked])
        differ = any(str(c.get("clips_differ")).lower() == "true" for c in mine)
        tables.append({"metric": metric, "arrow": arrow, "groups": groups, "columns": columns, "rows": rows,
                       "speaker_notes": notes, "clips_differ": differ})
    return tables


def usage_summary(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Mean perplexity and used fraction over codebooks, per condition x set, at the largest n_q."""
    if not rows:
        return []
    top = max(int(r["n_q"]) for r in rows)
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in rows:
        if int(r["n_q"]) == top:
            groups.setdefault((r["condition"], r["set"]), []).append(r)
    out = []
    for (condition, set_name), books in groups.items():
        perplexity = sum(number(b["perplexity"]) for b in books) / len(books)
        used = sum(number(b["used_fraction"]) for b in books) / len(books)
        out.append(
            {"condition": condition, "set": set_name, "n_q": str(top), "mean perplexity": f"{perplexity:.1f}",
             "mean used fraction": f"{used:.3f}", "efficiency": fmt(books[0].get("efficiency"))}
        )
    return out


def flagged_delays(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Codec settings whose clearly matching clips disagree with the delay applied to them."""
    return [{**r, "percent": fmt(number(r.get("disagreeing_share")) * 100, 0)}
            for r in rows if str(r.get("flag")).lower() == "true"]


def audio_view(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Players per set: one row per clip, the reference, then every codec's decoding (None where it has none)."""
    codecs = list(dict.fromkeys(name for s in samples for name in s["decoded"]))
    sets = []
    for set_name in dict.fromkeys(s["set"] for s in samples):
        clips = [{"label": f"{s['clip']} ({s.get('language') or s.get('domain')})", "reference": s["reference"],
                  "decoded": [s["decoded"].get(c) for c in codecs]} for s in samples if s["set"] == set_name]
        sets.append({"name": set_name, "clips": clips})
    return {"codecs": codecs, "sets": sets}


def section_titles(data: ReportData) -> list[tuple[str, str]]:
    """The page's sections in order, as (anchor, title); sections without data are left out."""
    sections = [("tables", "Paper-style tables"), ("counts", "Best / worst counts")]
    if data.trust:
        sections.append(("trust", "How much to trust these numbers"))
    if data.baselines:
        sections.append(("baselines", "Baselines"))
    if data.nonspeech or data.fad or data.skipped:
        sections.append(("nonspeech", "Music and environmental sound"))
    if data.listening:
        sections.append(("listening", "Listening test (MUSHRA)"))
    if data.seeds:
        sections.append(("seeds", "Spread over seeds"))
    if data.codec_cards:
        sections.append(("codecs", "Codecs: what each costs"))
    sections += [("bitrate", "Quality against bitrate"), ("languages", "Per language and domain"),
                 ("usage", "Codebook usage"), ("delay", "Codec delay"), ("training", "Training"),
                 ("corpus", "Corpus"), ("audio", "Listen")]
    if data.tts:
        sections.append(("tts", "Downstream TTS"))
    sections.append(("provenance", "Configuration, versions and evaluators"))
    return sections


def render(data: ReportData) -> str:
    """The whole page."""
    return render_template(
        "report.html.j2",
        data=data,
        sections=section_titles(data),
        paper=paper_view(data.paper, data.speakers),
        trust=trust_view(data.trust, data.outliers, data.samples, data.speakers),
        usage=usage_summary(data.usage),
        flagged_delays=flagged_delays(data.delays),
        leaks=[r for r in data.leakage if not r.get("clean", True)],
        samples=audio_view(data.samples),
        tts_samples=audio_view(data.tts_samples),
        nonspeech=nonspeech_view(data.nonspeech),
        listening=listening_view(data.listening) if data.listening else {},
        environment_json=json.dumps(data.environment, indent=2),
        evaluators_json=json.dumps(data.evaluators, indent=2),
        codec_columns=list(data.codec_cards[0]) if data.codec_cards else [],
    )
