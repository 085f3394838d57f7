"""The study's own tables, on top of ``codecstudy aggregate``'s: per language/domain, paper-style, usage, hours.

``codecstudy aggregate`` pools results per evaluation *set*. The paper reports per *language* (and per non-speech
domain), with the best condition in bold and the worst underlined, and counts bests and worsts per condition. So
here every speech result of a set that holds several languages is relabelled ``<set>/<language>`` ("group"), and
the aggregate functions run again on the relabelled lines. Everything is a pure function of result records and
stats files except :func:`write_study_tables`, which reads the run folder and writes ``tables/``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from codecstudy.csvtable import write_csv
from codecstudy.evaluate.aggregate import (
    PairRow,
    SummaryRow,
    load_results,
    metric_directions,
    paired_tests,
    summarize,
    write_tables,
)
from codecstudy.evaluate.applicability import MARK
from codecstudy.evaluate.applicability import parse_overrides as parse_validity
from codecstudy.files import read_json_or_none, write_json_atomic, write_text_atomic
from codecstudy.study.baselines import baseline_fad_rows, baseline_records, baseline_rows
from codecstudy.study.layout import RunLayout
from codecstudy.study.noise import (
    NOISE_MARK,
    FloorKey,
    apply_noise_floor,
    condition_pairs,
    condition_rows,
    floor_rows,
    noise_floors,
    noise_note,
)
from codecstudy.study.robust_tables import (
    cell_values,
    definition_line,
    outlier_rows,
    ranked_value,
    robust_rows,
    trust_rows,
)
from codecstudy.study.settings import frame_rules, table_n_q
from codecstudy.study.speakers import MARK as SPEAKER_MARK
from codecstudy.study.speakers import (
    SpeakerStatus,
    load_speaker_splits,
    speaker_labels,
    speaker_markdown,
    speaker_rows,
    split_by_speakers,
)
from codecstudy.study.spec import StudySpec
from codecstudy.study.validity_tables import (
    fad_rows,
    group_info,
    language_marks,
    nonspeech_markdown,
    nonspeech_rows,
    paper_notes,
    skip_rows,
)

_TIE = {"rel_tol": 1e-12, "abs_tol": 1e-12}
CLIPS_DIFFER_MARK = "§"


def multi_language_sets(records: list[dict[str, Any]]) -> set[str]:
    """Sets whose speech results span more than one language (those get one group per language)."""
    languages: dict[str, set[str]] = defaultdict(set)
    for record in records:
        if record.get("domain") == "speech" and record.get("language"):
            languages[str(record.get("set"))].add(str(record["language"]))
    return {name for name, langs in languages.items() if len(langs) > 1}


def group_label(record: dict[str, Any], split_sets: set[str]) -> str:
    set_name = str(record.get("set"))
    if set_name in split_sets and record.get("domain") == "speech" and record.get("language"):
        return f"{set_name}/{record['language']}"
    return set_name


def by_group(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records with ``set`` replaced by their language/domain group (``seen_languages/es``, ``music``); the
    evaluation set stays in ``eval_set``."""
    split_sets = multi_language_sets(records)
    return [{**record, "set": group_label(record, split_sets), "eval_set": record.get("eval_set", record.get("set"))}
            for record in records]


@dataclass
class PaperCell:
    """One cell of a paper-style table: a metric for one condition on one language/domain group."""

    metric: str
    direction: str
    group: str
    condition: str
    n: int
    mean: float
    ci_low: float
    ci_high: float
    best: bool
    worst: bool
    significant: bool
    median: float = math.nan
    trimmed_mean: float = math.nan
    clips_differ: bool = False  # the cell's conditions were scored on different clips
    speakers: str = ""  # seen-speaker label of this group for this condition (study/speakers.py)
    within_noise: bool = False  # best/worst dropped: the margin is below the training-noise floor (study/noise.py)


def paper_cells(rows: list[SummaryRow], pairs: list[PairRow], n_q: int,
                outside: frozenset[str] = frozenset(), robust: dict[tuple[str, str, str, str], dict[str, Any]]
                | None = None, statistic: str = "mean") -> list[PaperCell]:
    """Cells at ``n_q`` with best/worst flags (ties all count; an all-tied cell flags nobody) and significance.

    ``significant`` marks a best cell whose condition is better than *every* other condition by a paired test
    that survives the Holm correction. Conditions in ``outside`` (baselines) are shown but never best or worst and
    are not among the "others" a best cell must beat. ``robust`` gives each (group, n_q, condition, metric) row's
    ``median``, ``trimmed_mean``, ``clips_differ`` and ``speakers`` (:func:`robust_rows`); ``statistic``
    (``report.statistic``) is what best and worst compare: the mean (default) or one of those robust statistics.
    """
    robust = robust or {}

    def extra(row: SummaryRow) -> dict[str, Any]:
        return robust.get((row.set, row.n_q, row.condition, row.metric), {})

    def score(row: SummaryRow) -> float:
        found = extra(row)
        return row.mean if statistic == "mean" or statistic not in found else ranked_value(
            {"metric": row.metric, "mean": row.mean, **found}, statistic)

    wanted = [r for r in rows if r.n_q == str(n_q)]
    by_cell: dict[tuple[str, str], list[SummaryRow]] = defaultdict(list)
    for row in wanted:
        by_cell[(row.metric, row.set)].append(row)
    sig: dict[tuple[str, str, str, str], bool] = {}
    for pair in pairs:
        if pair.n_q != str(n_q):
            continue
        for a, b in ((pair.condition_a, pair.condition_b), (pair.condition_b, pair.condition_a)):
            sig[(pair.metric, pair.set, a, b)] = pair.significant and pair.better == a
    cells = []
    for (metric, group), members in by_cell.items():
        finite = [r for r in members if math.isfinite(score(r)) and r.condition not in outside]
        sign = 1.0 if members[0].direction == "higher" else -1.0
        top = max((sign * score(r) for r in finite), default=math.nan)
        bottom = min((sign * score(r) for r in finite), default=math.nan)
        compared = len({r.condition for r in finite}) > 1 and not math.isclose(top, bottom, **_TIE)
        for row in members:
            ok = compared and math.isfinite(score(row)) and row.condition not in outside
            best = ok and math.isclose(sign * score(row), top, **_TIE)
            worst = ok and math.isclose(sign * score(row), bottom, **_TIE)
            others = [r.condition for r in finite if r.condition != row.condition]
            significant = best and bool(others) and all(sig.get((metric, group, row.condition, o)) for o in others)
            found = extra(row)
            cells.append(
                PaperCell(metric, row.direction, group, row.condition, row.n, row.mean, row.ci_low, row.ci_high,
                          best, worst, significant, float(found.get("median", math.nan)),
                          float(found.get("trimmed_mean", math.nan)), bool(found.get("clips_differ", False)),
                          str(found.get("speakers", "")))
            )
    return cells


def paper_counts(cells: list[PaperCell]) -> dict[str, dict[str, int]]:
    """The paper's tally: per condition, bests and worsts over the language/domain x metric cells."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"best": 0, "worst": 0, "significant_best": 0})
    for cell in cells:
        entry = counts[cell.condition]
        entry["best"] += int(cell.best)
        entry["worst"] += int(cell.worst)
        entry["significant_best"] += int(cell.significant)
    return dict(sorted(counts.items()))


def format_cell(cell: PaperCell, markdown: bool = True) -> str:
    """``mean [low, high]`` with ``*`` for significance; bold best and underlined worst in Markdown."""
    if not math.isfinite(cell.mean):
        return "n/a"
    text = f"{cell.mean:.3f} [{cell.ci_low:.3f}, {cell.ci_high:.3f}]" + ("*" if cell.significant else "")
    text += (CLIPS_DIFFER_MARK if cell.clips_differ else "") + (SPEAKER_MARK if cell.speakers else "")
    text += NOISE_MARK if cell.within_noise else ""
    if markdown and cell.best:
        text = f"**{text}**"
    if markdown and cell.worst:
        text = f"<u>{text}</u>"
    return text


def baseline_kbps(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Row label -> ``baseline, 6.05 kbps`` (measured) for the paper tables."""
    return {r["condition"]: f"baseline, {r['measured_kbps']:.2f} kbps" if r.get("measured_kbps") is not None
            else "baseline" for r in rows}


def paper_markdown(cells: list[PaperCell], n_q: int, baselines: dict[str, str] | None = None,
                   counted: bool = False, marks: dict[tuple[str, str], str] | None = None,
                   definition: str = "") -> str:
    """One Markdown table per metric: conditions as rows, groups as columns; baselines marked with their kbps;
    a column whose clips share speakers with some condition's training data is marked ``‡``, as is each cell of
    a condition that heard them; ``§`` marks a cell whose conditions were scored on different clips."""
    baselines = baselines or {}
    out = [
        f"Paper-style tables at {n_q} codebooks: mean [95 % bootstrap CI]; **bold** = best, <u>underlined</u> = "
        "worst; * = better than every other condition (paired test, Holm-corrected)."
        + (f" Baselines run at their own (measured) bitrate and are {'' if counted else 'not '}counted in best/worst."
           if baselines else "") + (f" {definition}" if definition else "") + "\n"
    ]
    for metric in dict.fromkeys(c.metric for c in cells):
        mine = [c for c in cells if c.metric == metric]
        groups = list(dict.fromkeys(c.group for c in mine))
        conditions = list(dict.fromkeys(c.condition for c in mine))
        keyed = {(c.group, c.condition): c for c in mine}
        arrow = "higher is better" if mine[0].direction == "higher" else "lower is better"
        out.append(f"\n### {metric} ({arrow})\n")
        seen = {c.group for c in mine if c.speakers}
        out.append("| condition | " + " | ".join(g + (f" {SPEAKER_MARK}" if g in seen else "") for g in groups) + " |")
        out.append("|---|" + "|".join("---" for _ in groups) + "|")
        for condition in conditions:
            row = [
                format_cell(keyed[(g, condition)]) + (MARK if (metric, g) in (marks or {}) else "")
                if (g, condition) in keyed
                else "n/a"
                for g in groups
            ]
            label = f"{condition} ({baselines[condition]})" if condition in baselines else condition
            out.append(f"| {label} | " + " | ".join(row) + " |")
    if any(c.clips_differ for c in cells):
        out.append(f"\n{CLIPS_DIFFER_MARK} = the conditions of this cell were scored on different clips (a clip failed "
                   "or was not applicable in one of them): their means compare different clips; the paired tests use "
                   "the clips scored in both.")
    return "\n".join(out) + "\n"


def usage_rows(layout: RunLayout, codecs: list[str], sets: list[str], n_qs: list[int]) -> list[dict[str, Any]]:
    """Per codec x set x n_q x codebook: entropy, perplexity and used fraction (from each ``usage.json``)."""
    rows = []
    for codec in codecs:
        for eval_set in sets:
            for n_q in n_qs:
                usage = read_json_or_none(layout.eval_usage(codec, eval_set, n_q))
                if not isinstance(usage, dict):
                    continue
                for index, book in enumerate(usage.get("per_codebook", [])):
                    rows.append(
                        {
                            "condition": codec,
                            "set": eval_set,
                            "n_q": n_q,
                            "codebook": index + 1,
                            "entropy_bits": book["entropy_bits"],
                            "perplexity": book["perplexity"],
                            "used_fraction": book["used_fraction"],
                            "efficiency": usage.get("efficiency"),
                            "clips": usage.get("clips"),
                        }
                    )
    return rows


def delay_rows(layout: RunLayout, codecs: list[str], sets: list[str]) -> list[dict[str, Any]]:
    """Per codec x set x n_q: the delay applied to every clip, where it came from, and how the clips' own lags
    agree with it (from each ``delay.json``; :mod:`codecstudy.evaluate.delay`)."""
    rows = []
    for codec in codecs:
        for eval_set in sets:
            delays = read_json_or_none(layout.eval_delay(codec, eval_set))
            if not isinstance(delays, dict):
                continue
            for setting, entry in delays.get("settings", {}).items():
                delay, agree = entry.get("delay", {}), entry.get("agreement", {})
                rate = delay.get("sample_rate")
                rows.append(
                    {
                        "condition": codec,
                        "set": eval_set,
                        "n_q": setting,
                        "delay_samples": delay.get("samples"),
                        "delay_ms": round(1000.0 * delay["samples"] / rate, 2) if rate else None,
                        "source": delay.get("source"),
                        "method": delay.get("method"),
                        "confidence": delay.get("confidence"),
                        "calibration_clips": delay.get("clips"),
                        "clear_matches": agree.get("clear_matches"),
                        "disagreeing_share": agree.get("disagreeing_share"),
                        "flag": agree.get("flag"),
                    }
                )
    return rows


def hours_rows(layout: RunLayout, conditions: list[str]) -> list[dict[str, Any]]:
    """Training hours per condition x language x domain (from ``conditions/<name>.stats.json``)."""
    rows = []
    for condition in conditions:
        stats = read_json_or_none(layout.condition_stats(condition))
        if not isinstance(stats, dict):
            continue
        for language, domains in stats.get("hours_by_language_domain", {}).items():
            for domain, hours in domains.items():
                rows.append({"condition": condition, "language": language, "domain": domain, "hours": hours})
    return rows


def seed_rows(rows: list[SummaryRow], seed_of: dict[str, tuple[str, int]]) -> list[dict[str, Any]]:
    """Mean and spread over seeds: ``seed_of`` maps codec name -> (name without seed, seed)."""
    groups: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for row in rows:
        if row.condition in seed_of and math.isfinite(row.mean):
            groups[(row.set, row.n_q, seed_of[row.condition][0], row.metric)].append(row.mean)
    out = []
    for (set_name, n_q, condition, metric), values in sorted(groups.items()):
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        out.append(
            {"set": set_name, "n_q": n_q, "condition": condition, "metric": metric, "seeds": len(values),
             "mean": mean, "std": std, "min": min(values), "max": max(values)}
        )
    return out


def card_table_rows(layout: RunLayout, codecs: list[str]) -> list[dict[str, Any]]:
    """``tables/codecs.csv``: one row per codec and setting from each ``cards/<codec>.json``."""
    rows = []
    for codec in codecs:
        card = read_json_or_none(layout.card_file(codec))
        if isinstance(card, dict):
            rows += card.get("rows", [])
    return rows


def tts_rows(layout: RunLayout, codecs: list[str]) -> list[dict[str, Any]]:
    """Each codec's TTS evaluation (``tts/<codec>/eval/summary.json``), one row per codec x system x language."""
    rows = []
    for codec in codecs:
        summary = read_json_or_none(layout.tts_eval_summary(codec))
        if isinstance(summary, list):
            rows += [{"codec": codec, **row} for row in summary]
    return rows


def write_study_tables(spec: StudySpec, layout: RunLayout) -> dict[str, Path]:
    """``tables/``: aggregate's summary/counts/pairwise per set, then groups (with median, trimmed mean,
    ``clips_differ`` and the seen-speaker label), paper, outliers, trust, usage, hours, seeds. The
    caller marks the tables whole (:func:`mark_tables_done`) once every table, the MUSHRA ones included, is written."""
    runs = spec.compared_runs()
    codecs = [r.name for r in runs]
    records = _scored(spec, layout, codecs)
    base = baseline_records(spec, layout)  # at their own settings (n_q None): own rows in every per-n_q table
    out = layout.tables
    out.mkdir(parents=True, exist_ok=True)
    rep = spec.report
    written = write_tables(records + base, out, n_boot=rep.n_boot, test=rep.test, alpha=rep.alpha)

    status = SpeakerStatus(load_speaker_splits(spec, layout), {r.name: r.condition for r in runs})
    grouped = by_group(records + base)
    if spec.evaluate.split_seen_speakers:
        grouped = split_by_speakers(grouped, status)
    speakers = speaker_labels(grouped, status)
    directions = metric_directions(grouped)
    group_rows = summarize(grouped, directions, n_boot=rep.n_boot)
    values = cell_values(grouped, list(directions))
    group_table = [{**r, "speakers": speakers.get((r["set"], r["condition"]), "")}
                   for r in robust_rows(group_rows, values)]
    robust = {(r["set"], r["n_q"], r["condition"], r["metric"]): r for r in group_table}
    evaluated = sorted({int(r["n_q"]) for r in records})
    n_q = table_n_q(evaluated, rep.n_q) if evaluated else rep.n_q
    # the paper-style tables sit at one n_q; the baselines join them at their own bitrates
    labels = frozenset(r["condition"] for r in base)
    at_nq = [r for r in grouped if r.get("n_q") == n_q] + [{**r, "n_q": n_q} for r in grouped if r.get("baseline")]
    pairs = paired_tests(at_nq, directions, method=rep.test, alpha=rep.alpha, n_boot=rep.n_boot)
    paper_rows = [r for r in group_rows if r.condition not in labels]
    paper_rows += [replace(r, n_q=str(n_q)) for r in group_rows if r.condition in labels]
    outside = frozenset() if spec.baselines.count_in_best_worst else labels
    robust_at_nq = {**robust, **{(g, str(n_q), c, m): v for (g, _, c, m), v in robust.items() if c in labels}}
    cells = paper_cells(paper_rows, pairs, n_q, outside, robust_at_nq, rep.statistic)
    noise = training_noise(spec, layout, grouped, list(directions), directions)
    cells = apply_noise_floor(cells, noise.floors, n_q, outside)
    differ = {(c.metric, c.group) for c in cells if c.clips_differ}  # a cell, baselines included, says it once
    cells = [replace(c, clips_differ=(c.metric, c.group) in differ) for c in cells]
    eval_set_of = {str(r.get("clip")): str(r.get("eval_set")) for r in grouped}
    outlier_table = outlier_rows(values, n_q, eval_set_of)
    delays = delay_rows(layout, codecs + [b.name for b in spec.baseline_runs()], spec.eval_set_names)
    trust = trust_rows(records + base, n_q, outlier_table, speaker_labels(records + base, status), delays)
    info, skips = group_info(grouped), skip_rows(grouped)
    marks = language_marks(cells, info, parse_validity(spec.evaluate.validity))
    fads = fad_rows(layout.eval_fad, codecs, spec.eval_set_names, spec.evaluate.n_q) + baseline_fad_rows(spec, layout)
    nonspeech = nonspeech_rows(cells, info, fads, n_q, outside)
    files = {
        "groups.csv": group_table,
        "groups_pairwise.csv": [asdict(p) for p in pairs],
        "paper.csv": [{**asdict(c), "n_q": n_q, "note": marks.get((c.metric, c.group), "")} for c in cells],
        "skipped.csv": skips,
        "fad.csv": fads,
        "nonspeech.csv": nonspeech,
        "paper_counts.csv": [{"condition": k, **v} for k, v in paper_counts(cells).items()],
        "usage.csv": usage_rows(layout, codecs, spec.eval_set_names, spec.evaluate.n_q),
        "hours.csv": hours_rows(layout, spec.condition_names),
        "delays.csv": delays,
        "outliers.csv": outlier_table,
        "trust.csv": trust,
        "speakers.csv": speaker_rows(grouped, status, speakers),
    }
    files.update(noise.files)
    if base:
        files["baselines.csv"] = baseline_rows(base)
    cards = card_table_rows(layout, codecs + [b.name for b in spec.baseline_runs()])
    if cards:
        files["codecs.csv"] = cards
    if spec.tts.enabled:
        files["tts.csv"] = tts_rows(layout, codecs)
    if spec.train.seeds and len(spec.train.seeds) > 1:
        seed_of = {r.name: (r.name.rsplit("-s", 1)[0], int(r.seed or 0)) for r in runs}
        files["seeds.csv"] = seed_rows(group_rows, seed_of)
    for name, rows in files.items():
        written[name] = write_csv(out / name, rows)
    markdown = paper_markdown(cells, n_q, baseline_kbps(files.get("baselines.csv", [])),
                              spec.baselines.count_in_best_worst, marks,
                              definition_line(spec.evaluate.frames, rep.statistic, frame_rules(spec)))
    notes = paper_notes(marks, skips, n_q, list(dict.fromkeys(c.metric for c in cells)))
    notes += speaker_markdown(files["speakers.csv"]) + f"\n{noise.note}\n"
    written["noise.json"] = write_json_atomic(out / "noise.json", {"note": noise.note})
    written["paper.md"] = write_text_atomic(out / "paper.md", markdown + notes)
    written["nonspeech.md"] = write_text_atomic(out / "nonspeech.md", nonspeech_markdown(nonspeech, n_q))
    return written


def _scored(spec: StudySpec, layout: RunLayout, codecs: list[str]) -> list[dict[str, Any]]:
    """The result lines of ``codecs`` on the study's sets at its numbers of codebooks."""
    folders = [layout.eval_dir(c, s) for c in codecs for s in spec.eval_set_names if layout.eval_dir(c, s).is_dir()]
    return [r for r in load_results(folders) if r.get("n_q") in spec.evaluate.n_q] if folders else []


@dataclass
class TrainingNoise:
    """What the tables know of training noise: the probe's floors, the tables it adds and the note beside the marks."""

    floors: dict[FloorKey, float]
    files: dict[str, list[dict[str, Any]]]
    note: str


def training_noise(spec: StudySpec, layout: RunLayout, grouped: list[dict[str, Any]], metrics: list[str],
                   directions: dict[str, str]) -> TrainingNoise:
    """A single-seed study's noise floor from its probes, or a multi-seed study's run-level tables
    (:mod:`codecstudy.study.noise`)."""
    probes = {r.name: f"{r.condition}-{r.architecture}" for r in spec.probe_runs()}
    seeds = len(spec.train.seeds or [None])
    files: dict[str, list[dict[str, Any]]] = {}
    floors: dict[FloorKey, float] = {}
    if probes:
        probed = by_group(_scored(spec, layout, [*probes, *set(probes.values())]))
        floors = noise_floors(probed, probes, metrics)
        files["noise_floor.csv"] = floor_rows(floors, probes)
    if seeds > 1:
        condition_of = {r.name: f"{r.condition}-{r.architecture}" for r in spec.compared_runs()}
        trained = [r for r in grouped if r.get("condition") in condition_of]
        files["conditions.csv"] = condition_rows(trained, condition_of, metrics, directions)
        files["conditions_pairwise.csv"] = condition_pairs(trained, condition_of, metrics, directions,
                                                           spec.report.alpha)
    return TrainingNoise(floors, files, noise_note(floors, probes, seeds))


def mark_tables_done(layout: RunLayout, written: dict[str, Path]) -> None:
    """Last: the marker that the tables are whole (:func:`codecstudy.study.state.aggregate_state`); an aggregation
    that failed before it leaves none, so it is redone."""
    write_json_atomic(layout.tables_done, {"files": sorted(written)})
