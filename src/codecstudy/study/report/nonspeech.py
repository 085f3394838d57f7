"""The report's non-speech section (the paper's Table 2 plus the embedding distance and FAD) and the notes on
metrics that were not computed or are marked (``tables/nonspeech.csv``, ``fad.csv``, ``skipped.csv``)."""

from __future__ import annotations

from codecstudy.study.report.markup import esc, fmt, simple_table, truthy
from codecstudy.study.validity_tables import NONSPEECH_METRICS

ARROWS = {"mcd": "↓", "ci_sdr": "↑", "visqol_audio": "↑", "emb_dist": "↓", "fad": "↓"}


def _cell(row: dict[str, str] | None) -> str:
    if row is None:
        return "<td>n/a</td>"
    text = esc(fmt(row["mean"]))
    if truthy(row["best"]):
        text = f"<b>{text}</b>"
    if truthy(row["worst"]):
        text = f"<u>{text}</u>"
    ci = ""
    if row.get("ci_low") not in (None, "", "nan"):
        low, high = esc(fmt(row["ci_low"])), esc(fmt(row["ci_high"]))
        ci = f'<br><span class="ci">[{low}, {high}] n={esc(row["n"])}</span>'
    attrs = (
        f'data-metric="{esc(row["metric"])}" data-group="{esc(row["group"])}" '
        f'data-condition="{esc(row["condition"])}"'
    )
    return f'<td class="paper" {attrs}>{text}{ci}</td>'


def nonspeech_section(rows: list[dict[str, str]], fad: list[dict[str, str]], skipped: list[dict[str, str]]) -> str:
    """Conditions as rows; per music/environment group MCD, CI-SDR, ViSQOL (audio mode), emb_dist and FAD."""
    intro = (
        "<p>The paper's Table 2 for music and environmental sound (MCD, CI-SDR, ViSQOL in audio mode at 48 kHz) "
        "plus the embedding distance (BirdNET, paired per clip) and the set's Fréchet Audio Distance. Speech-only "
        "metrics (PESQ, STOI, DNSMOS, UTMOS, SHEET, SpeechBERTScore, WER, speaker similarity, F0) are not computed "
        "on these sets.</p>"
    )
    if not rows:
        table = "<p>No music or environment results.</p>"
    else:
        order = [*NONSPEECH_METRICS, "fad"]
        groups = list(dict.fromkeys(r["group"] for r in rows))
        columns = [(g, m) for g in groups for m in order if any(r["group"] == g and r["metric"] == m for r in rows)]
        keyed = {(r["group"], r["metric"], r["condition"]): r for r in rows}
        head = "".join(f"<th>{esc(g)}<br>{esc(m)} {ARROWS.get(m, '')}</th>" for g, m in columns)
        body = "".join(
            f"<tr><td>{esc(c)}</td>" + "".join(_cell(keyed.get((g, m, c))) for g, m in columns) + "</tr>"
            for c in dict.fromkeys(r["condition"] for r in rows)
        )
        table = (f'<div class="scroll"><table class="paper-table" id="nonspeech"><thead><tr><th>condition</th>'
                 f"{head}</tr></thead><tbody>{body}</tbody></table></div>")
    fad_part = "<h3>Fréchet Audio Distance per set</h3>" + simple_table(
        fad, ["condition", "set", "n_q", "fad", "clips", "frames_ref", "model", "sha256", "warning"], "fad"
    )
    skip_part = "<h3>Not computed (outside a metric's validity)</h3>" + simple_table(
        skipped, ["group", "n_q", "metric", "reason", "clips"], "skipped"
    )
    return intro + table + fad_part + skip_part
