"""``index.html`` as a pure function of the loaded report data: no file access, every text escaped.

The page is static and self-contained: inline CSS, figures and audio referenced by relative paths next to it, so
it opens from disk (``file://``) and can be zipped or copied as a folder. A small inline script marks each audio
element with ``data-state`` once its metadata loaded (or failed), which the Chromium test reads from the DOM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from codecstudy.study.report.listening import listening_section
from codecstudy.study.report.markup import CSS, SCRIPT, esc, fmt, number, simple_table, truthy
from codecstudy.study.report.nonspeech import nonspeech_section


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


def paper_cell(cell: dict[str, str]) -> str:
    """One ``<td>``: the mean (bold if best, underlined if worst, * if significant) and its CI below."""
    mean = fmt(cell["mean"])
    text = esc(mean)
    if truthy(cell["best"]):
        text = f"<b>{text}</b>"
    if truthy(cell["worst"]):
        text = f"<u>{text}</u>"
    if truthy(cell["significant"]):
        text += '<span class="sig" title="better than every other condition (Holm)">*</span>'
    if cell.get("note"):  # the metric's model was trained on other languages (study.validity_tables)
        text += f'<span class="mark" title="{esc(cell["note"])}">†</span>'
    classes = " ".join(k for k in ("best", "worst") if truthy(cell[k]))
    ci = f'<br><span class="ci">[{esc(fmt(cell["ci_low"]))}, {esc(fmt(cell["ci_high"]))}] n={esc(cell["n"])}</span>'
    attrs = (
        f'data-metric="{esc(cell["metric"])}" data-group="{esc(cell["group"])}" '
        f'data-condition="{esc(cell["condition"])}" data-mean="{esc(mean)}"'
    )
    return f'<td class="paper {classes}" {attrs}>{text}{ci}</td>'


def paper_tables(cells: list[dict[str, str]]) -> str:
    """One table per metric: conditions as rows, language/domain groups as columns."""
    parts = []
    for metric in dict.fromkeys(c["metric"] for c in cells):
        mine = [c for c in cells if c["metric"] == metric]
        groups = list(dict.fromkeys(c["group"] for c in mine))
        conditions = list(dict.fromkeys(c["condition"] for c in mine))
        keyed = {(c["group"], c["condition"]): c for c in mine}
        arrow = "↑ higher is better" if mine[0]["direction"] == "higher" else "↓ lower is better"
        head = "".join(f"<th>{esc(g)}</th>" for g in groups)
        rows = []
        for condition in conditions:
            tds = "".join(paper_cell(keyed[(g, condition)]) if (g, condition) in keyed else "<td>n/a</td>"
                          for g in groups)
            rows.append(f"<tr><td>{esc(condition)}</td>{tds}</tr>")
        parts.append(
            f'<h3 id="metric-{esc(metric)}">{esc(metric)} <small>({esc(arrow)})</small></h3>'
            f'<div class="scroll"><table class="paper-table" data-metric="{esc(metric)}"><thead><tr>'
            f"<th>condition</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    return "\n".join(parts) or "<p>No results yet.</p>"


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


def delay_section(rows: list[dict[str, str]]) -> str:
    """The delay each codec setting was compensated by, and a warning for codecs whose clips disagree with it."""
    if not rows:
        return "<p>No delay records.</p>"
    intro = (
        "<p>Sample-aligned metrics (STOI, SI-SNR, CI-SDR, frame-wise MCD and F0) are computed after removing the "
        "codec's delay: one number per codec and number of codebooks, declared by the codec (<i>structure</i>), "
        "given, or calibrated once over the set; every clip gets the same shift (docs/metrics.md). A clip's own "
        "lag is recorded and never applied.</p>"
    )
    flagged = [r for r in rows if str(r.get("flag")).lower() == "true"]
    warn = ""
    if flagged:
        items = "".join(
            f"<li><b>{esc(r['condition'])}</b> on {esc(r['set'])} at n_q {esc(r['n_q'])}: "
            f"{fmt(number(r.get('disagreeing_share')) * 100, 0)} % of its {esc(r.get('clear_matches'))} clearly "
            f"matching clips peak more than 1 ms away from its delay of {esc(r.get('delay_samples'))} samples</li>"
            for r in flagged
        )
        warn = (
            '<div class="warn"><p><b>Clips disagree with the codec\'s delay.</b> Well-matching clips whose '
            "cross-correlation peaks scatter point at a codec that warps time or drops samples, not at a "
            f"delay:</p><ul>{items}</ul></div>"
        )
    columns = ["condition", "set", "n_q", "delay_samples", "delay_ms", "source", "method", "confidence",
               "clear_matches", "disagreeing_share"]
    return intro + warn + simple_table(rows, columns, "delays")


def figures(items: list[Figure]) -> str:
    return "\n".join(
        f'<figure><img src="{esc(f.src)}" alt="{esc(f.title)}" loading="lazy">'
        f"<figcaption>{esc(f.title)}{(': ' + esc(f.caption)) if f.caption else ''}</figcaption></figure>"
        for f in items
    )


def audio_section(samples: list[dict[str, Any]], n_q: int | None) -> str:
    if not samples:
        return "<p>No audio samples.</p>"
    codecs = list(dict.fromkeys(name for s in samples for name in s["decoded"]))
    parts = []
    for set_name in dict.fromkeys(s["set"] for s in samples):
        head = "<th>clip</th><th>reference</th>" + "".join(f"<th>{esc(c)}</th>" for c in codecs)
        rows = []
        for s in (s for s in samples if s["set"] == set_name):
            label = f"{s['clip']} ({s.get('language') or s.get('domain')})"
            cells = [f'<td>{esc(label)}</td><td><audio controls preload="metadata" src="{esc(s["reference"])}">'
                     "</audio></td>"]
            for c in codecs:
                src = s["decoded"].get(c)
                cells.append(f'<td><audio controls preload="metadata" src="{esc(src)}"></audio></td>' if src
                             else "<td>-</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        parts.append(f"<h3>{esc(set_name)}</h3><table class=\"audio\"><thead><tr>{head}</tr></thead>"
                     f"<tbody>{''.join(rows)}</tbody></table>")
    intro = (f"<p>Each codec at {esc(n_q)} codebooks (baselines at their own bitrate).</p>" if n_q is not None
             else "")  # None: TTS players
    return intro + "\n".join(parts)


def baselines_section(rows: list[dict[str, str]]) -> str:
    """Codecs the study did not train: their settings, nominal and measured bitrates, delays, failures."""
    return (
        "<p>Codecs the study does not train, scored on the same sets at their own bitrates (the measured bitrate "
        "counts the bytes the codec produced per second of audio). They appear in every table and plot, marked "
        "<i>baseline</i>. A band-limited codec (Codec2 at 8 kHz) leaves the band above 4 kHz empty, which "
        "mel-cepstral distortion punishes far more than noise.</p>"
        + simple_table(rows, ["condition", "setting", "nominal_kbps", "measured_kbps", "codec_sample_rate",
                              "delay_samples", "clips", "failed"], "baselines")
    )


def leakage_section(rows: list[dict[str, Any]]) -> str:
    leaks = [r for r in rows if not r.get("clean", True)]
    if not leaks:
        return '<p class="ok">No shared clips, speakers or source files between training and evaluation.</p>'
    items = "".join(
        f"<li><b>{esc(r['condition'])}</b> / <b>{esc(r['eval_set'])}</b>: {esc(r['shared_clips'])} clips, "
        f"{esc(r['shared_speakers'])} speakers, {esc(r['shared_groups'])} source files shared "
        f"({esc(', '.join(r.get('example_speakers') or r.get('example_groups') or []))})</li>"
        for r in leaks
    )
    return (
        '<div class="warn"><p><b>Leakage warning.</b> These evaluation sets share speakers or recordings with a '
        "condition's training data, so its results there are not fully \"unseen\":</p>"
        f"<ul>{items}</ul></div>"
    )


Section = tuple[str, str, str]  # (anchor, title, HTML)


def result_sections(data: ReportData) -> list[Section]:
    """The numbers: paper-style tables, counts, baselines, non-speech, listening test, seeds."""
    sections = [
        ("tables", "Paper-style tables", paper_tables(data.paper)),
        (
            "counts",
            "Best / worst counts",
            "<p>Over the language/domain x metric cells above (the paper's tally):</p>"
            + simple_table(data.paper_counts, ["condition", "best", "worst", "significant_best"], "paper-counts")
            + "<p>Over every evaluation set x n_q x metric cell (<code>tables/counts.csv</code>):</p>"
            + simple_table(data.set_counts, ["condition", "best", "worst", "compared"], "set-counts"),
        ),
    ]
    if data.baselines:
        sections.append(("baselines", "Baselines", baselines_section(data.baselines)))
    if data.nonspeech or data.fad or data.skipped:
        sections.append(("nonspeech", "Music and environmental sound", nonspeech_section(
            data.nonspeech, data.fad, data.skipped)))
    if data.listening:
        sections.append(("listening", "Listening test (MUSHRA)", listening_section(data.listening)))
    if data.seeds:
        sections.append(("seeds", "Spread over seeds", simple_table(
            data.seeds, ["set", "n_q", "condition", "metric", "seeds", "mean", "std", "min", "max"], "seeds")))
    return sections


def analysis_sections(data: ReportData) -> list[Section]:
    """Where the numbers come from: bitrate and language figures, codebook usage, delay, training, corpus, audio."""
    return [
        ("bitrate", "Quality against bitrate", figures(data.figures.get("bitrate", []))),
        ("languages", "Per language and domain", figures(data.figures.get("languages", []))),
        (
            "usage",
            "Codebook usage",
            "<p>Does non-speech training data widen codebook coverage? Perplexity is the number of equally used "
            "codes a codebook is worth over the set; higher means more of the codebook is used.</p>"
            + figures(data.figures.get("usage", []))
            + simple_table(usage_summary(data.usage), ["condition", "set", "n_q", "mean perplexity",
                                                        "mean used fraction", "efficiency"], "usage"),
        ),
        ("delay", "Codec delay", delay_section(data.delays)),
        (
            "training",
            "Training",
            figures(data.figures.get("training", []))
            + simple_table(data.codecs, ["codec", "step", "minutes", "valid mel_distance", "valid stoi"], "codecs"),
        ),
        ("corpus", "Corpus", figures(data.figures.get("corpus", [])) + leakage_section(data.leakage)),
        ("audio", "Listen", audio_section(data.samples, data.n_q)),
    ]


def tts_section(data: ReportData) -> str:
    return (
        "<p>A FastSpeech2-style TTS per codec predicts its token streams from text (docs/tts.md). Rows: the "
        "recording, the codec on ground-truth tokens (its upper bound) and the TTS output; WER/CER from the "
        "evaluation suite's ASR (lower is better), DNSMOS OVRL and speaker similarity (higher is better).</p>"
        + simple_table(data.tts, ["codec", "language", "system", "clips", "wer", "cer", "dnsmos_ovrl", "spk_sim",
                                  "failures"], "tts")
        + (audio_section(data.tts_samples, None) if data.tts_samples else "")
    )


def provenance_section(data: ReportData) -> str:
    return (
        "<h3>Resolved study</h3><pre>" + esc(data.config_yaml) + "</pre>"
        "<h3>Environment</h3><pre>" + esc(json.dumps(data.environment, indent=2)) + "</pre>"
        "<h3>Metrics and evaluator models</h3><pre>" + esc(json.dumps(data.evaluators, indent=2)) + "</pre>"
        "<h3>Tables</h3><ul>"
        + "".join(f'<li><a href="../tables/{esc(t)}">tables/{esc(t)}</a></li>' for t in data.tables)
        + "</ul>"
    )


def render(data: ReportData) -> str:
    """The whole page."""
    sections = result_sections(data) + analysis_sections(data)
    if data.tts:
        sections.append(("tts", "Downstream TTS", tts_section(data)))
    sections.append(("provenance", "Configuration, versions and evaluators", provenance_section(data)))
    nav = "".join(f'<a href="#{key}">{esc(title)}</a>' for key, title, _ in sections)
    body = "\n".join(
        f'<section id="{key}"><h2>{esc(title)}</h2>\n{content}</section>' for key, title, content in sections
    )
    intro = f"<p>{esc(data.description)}</p>" if data.description else ""
    if data.n_q is not None:
        intro += (f"<p>Tables at {esc(data.n_q)} codebooks. Mean over clips with a 95 % bootstrap CI; "
                  "<b>bold</b> = best condition, <u>underlined</u> = worst.</p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(data.title)}</title>"
        f"<style>{CSS}</style></head>\n<body><h1>{esc(data.title)}</h1>{intro}<nav>{nav}</nav>\n{body}\n"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
