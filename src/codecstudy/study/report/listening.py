"""The report's listening-test section, pure like :mod:`codecstudy.study.report.html`: a link to the test page
and, once ratings are imported, the MUSHRA table, who post-screening excluded and why, the paired tests and the
correlation of each objective metric with the ratings."""

from __future__ import annotations

from typing import Any

from codecstudy.listen.scores import pivot
from codecstudy.study.report.markup import esc, fmt, simple_table


def _score_table(rows: list[dict[str, str]]) -> str:
    groups, conditions, keyed = pivot(rows)
    head = "".join(f"<th>{esc(g)}</th>" for g in groups)
    body = []
    for c in conditions:
        tds = []
        for g in groups:
            r = keyed.get((g, c))
            if r is None:
                tds.append("<td>n/a</td>")
                continue
            mean = fmt(r["mean"], 1)
            tds.append(f'<td class="mushra" data-group="{esc(g)}" data-condition="{esc(c)}" data-mean="{esc(mean)}">'
                       f'{esc(mean)}<br><span class="ci">[{esc(fmt(r["ci_low"], 1))}, {esc(fmt(r["ci_high"], 1))}]'
                       f' n={esc(r["ratings"])}</span>{_speakers(g, r)}</td>')
        body.append(f"<tr><td>{esc(c)}</td>{''.join(tds)}</tr>")
    return (f'<div class="scroll"><table id="mushra"><thead><tr><th>condition</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _speakers(group: str, row: dict[str, str]) -> str:
    """For a language group: the mean of the listeners who speak it (all ratings count elsewhere)."""
    if not group.startswith("speech/"):
        return ""
    n = row.get("speakers_ratings") or "0"
    mean = fmt(row.get("speakers_mean"), 1) if n != "0" else "none"
    return (f'<br><span class="ci speakers" title="listeners who speak the language">speakers: {esc(mean)} '
            f"n={esc(n)}</span>")


def listening_section(data: dict[str, Any]) -> str:
    intro = (
        f'<p>A MUSHRA test (ITU-R BS.1534) of this study: <a href="{esc(data["page"])}">open the listening test</a> '
        f"({esc(data['trials'])} trials; conditions {esc(', '.join(data['conditions']))}; codecs at "
        f"{esc(data['n_q'])} codebooks; loudness matched by {esc(data['measure'])}). Send the folder "
        "<code>listen/</code> to listeners and bring their files back with <code>codecstudy listen import</code>.</p>"
    )
    if not data.get("scores"):
        return intro + "<p>No ratings imported yet.</p>"
    summary = data.get("summary", {})
    parts = [intro, f"<p>{esc(summary.get('kept'))} of {esc(summary.get('listeners'))} listeners kept after "
             "post-screening. Mean rating [95 % bootstrap CI, resampling listeners] per language/domain group; "
             "n = ratings; "
             "<i>speakers</i>: the mean of the listeners who speak the clip's language.</p>",
             _score_table(data["scores"])]
    excluded = [r for r in data.get("listeners", []) if r.get("excluded") == "True"]
    if excluded:
        items = "".join(f"<li><b>{esc(r['listener'])}</b>: {esc(r['reason'])}</li>" for r in excluded)
        parts.append('<div class="warn"><p><b>Excluded by post-screening</b> (BS.1534: hidden reference rated '
                     f"below 90 in more than 15 % of the trials):</p><ul id=\"excluded\">{items}</ul></div>")
    else:
        parts.append('<p class="ok">Post-screening excluded nobody.</p>')
    parts.append("<h3>Listeners</h3>" + simple_table(
        data.get("listeners", []), ["listener", "languages", "trials", "reference_below_90", "excluded"],
        "mushra-listeners"))
    pairs = [{**p, "pair": f"{p['condition_a']} vs {p['condition_b']}", "mean_diff": fmt(p["mean_diff"], 1),
              "p_holm": fmt(p["p_holm"], 4)} for p in data.get("pairs", [])]
    parts.append("<h3>Paired tests between codecs</h3>" + simple_table(
        pairs, ["set", "pair", "n", "mean_diff", "better", "p_holm", "significant"], "mushra-pairs"))
    corr = [{**c, "pearson": fmt(c["pearson"]), "spearman": fmt(c["spearman"])}
            for c in data.get("correlation", [])]
    parts.append("<h3>Objective metrics against the ratings</h3><p>Correlation over (clip, codec) pairs of the "
                 "metric with the mean rating; a good proxy has a large |r| with the sign of its direction.</p>"
                 + simple_table(corr, ["metric", "direction", "pairs", "pearson", "spearman"], "mushra-correlation"))
    return "\n".join(parts)
