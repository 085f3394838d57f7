"""The study's baselines: codecs it does not train, scored on the same evaluation sets at their own bitrates.

A baseline is any name ``codecstudy evaluate --codec`` takes (``opus:6kbps``, ``codec2:3200``,
``encodec:24khz:6kbps``, a checkpoint). Its results live beside the trained codecs' (``eval/<name>/<set>/<setting>``)
and are scored at the trained codecs' sample rate, so that every row of a table is measured the same way (a
Codec2 decoding is upsampled back from 8 kHz and keeps its empty upper band). In the tables a baseline is a row
like any condition, at its own setting instead of a number of codebooks, and by default it is kept out of the best
and worst cells (``baselines.count_in_best_worst``): the counts compare the coverage conditions.
"""

from __future__ import annotations

import json
import math
from typing import Any

from codecstudy.errors import CodecStudyError, ConfigError
from codecstudy.study import state as S
from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import Baseline, StudySpec


def scoring_rate(spec: StudySpec) -> int:
    """The sample rate the trained codecs are scored at (their config's), which the baselines are scored at too."""
    from codecstudy.codec.presets import resolve_codec_config

    return int(resolve_codec_config(spec.codec_source(spec.architectures[0]), list(spec.codec.overrides)).sample_rate)


def check_baselines(spec: StudySpec) -> list[str]:
    """Open every baseline (library present, settings offered); a problem names ``baselines.codecs[i]``."""
    from codecstudy.codec.catalog import open_codec

    notes = []
    where = f"{spec.path}: " if spec.path else ""
    for index, baseline in enumerate(spec.baseline_runs()):
        try:
            codec = open_codec(baseline.codec)
        except CodecStudyError as exc:
            raise ConfigError(f"{where}baselines.codecs[{index}] ({baseline.codec}): {exc}") from None
        settings = ", ".join(codec.setting(s).label for s in codec.default_settings())
        notes.append(f"baseline {baseline.name}: {baseline.codec} at {settings}, {codec.sample_rate} Hz")
    return notes


def baseline_state(
    baseline: Baseline, eval_set: str, layout: RunLayout, clip_ids: list[str], alignment: dict[str, Any] | None = None
) -> S.StageState:
    """Complete when every clip has a line at every setting the last run chose (from its meta.json)."""
    from codecstudy.evaluate.scorer import done_clips

    folder = layout.eval_dir(baseline.name, eval_set)
    item = f"{baseline.name}/{eval_set}"
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return S.StageState("evaluate", item, S.MISSING, "baseline")
    if meta.get("codec_source") != baseline.codec:
        return S.StageState("evaluate", item, S.PARTIAL, f"scored as {meta.get('codec_source')}", stale=True)
    if S.alignment_stale(meta, alignment):
        return S.StageState("evaluate", item, S.PARTIAL, S.ALIGNMENT_STALE, stale=True)
    expected = set(clip_ids)
    settings = meta.get("settings") or []
    done = sum(len(done_clips(folder / s) & expected) for s in settings)
    detail = f"baseline, {done}/{len(expected) * len(settings)} clip x setting"
    complete = bool(expected) and bool(settings) and done == len(expected) * len(settings)
    return S.StageState("evaluate", item, S.COMPLETE if complete else S.PARTIAL, detail)


def evaluate_baseline(baseline: Baseline, eval_set: str, spec: StudySpec, layout: RunLayout, progress: bool,
                      force: bool = False, threads: int | None = None) -> str:
    from codecstudy.evaluate.scorer import evaluate_codec

    summary = evaluate_codec(
        baseline.codec,
        layout.eval_manifest(eval_set),
        layout.eval_dir(baseline.name, eval_set),
        None,
        S.eval_settings(spec, threads),
        set_name=eval_set,
        name=baseline.name,
        progress=progress,
        force=force,
        sample_rate=scoring_rate(spec),
    )
    failed = summary.failed_metrics.get("clip", 0)
    return f"{summary.scored} clips scored" + (f", {failed} failed in the codec (see results.jsonl)" if failed else "")


# ----------------------------------------------------------------------------------------------------- tables
def baseline_label(name: str, setting: str, n_settings: int) -> str:
    """A baseline's row label: its name, or ``name@setting`` when it was scored at several settings."""
    return name if n_settings == 1 else f"{name}@{setting}"


def scored_settings(
    baseline: Baseline, spec: StudySpec, layout: RunLayout
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """setting -> evaluation set -> result lines, for the settings (``eval_dir(baseline, set) / setting``) that have
    any: the one place that decides which settings a baseline was scored at, for its rows and its FAD rows."""
    from codecstudy.evaluate.scorer import read_results

    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for eval_set in spec.eval_set_names:
        folder = layout.eval_dir(baseline.name, eval_set)
        for sub in sorted(p for p in folder.glob("*") if p.is_dir()):
            records = read_results(sub)
            if records:
                found.setdefault(sub.name, {})[eval_set] = records
    return found


def baseline_records(spec: StudySpec, layout: RunLayout) -> list[dict[str, Any]]:
    """The baselines' result lines for the tables: ``condition`` is the row label (``name``, or ``name@setting``
    when a baseline has several settings), ``n_q`` None so that tables show the setting, ``baseline`` True."""
    out = []
    for baseline in spec.baseline_runs():
        per_setting = scored_settings(baseline, spec, layout)
        for setting, per_set in per_setting.items():
            label = baseline_label(baseline.name, setting, len(per_setting))
            out += [{**r, "condition": label, "n_q": None, "setting": setting, "baseline": True}
                    for records in per_set.values() for r in records]
    return out


def baseline_fad_rows(spec: StudySpec, layout: RunLayout) -> list[dict[str, Any]]:
    """The baselines' ``fad.json`` rows (``eval_dir(baseline, set) / setting / fad.json``), labelled as in
    :func:`baseline_records`, ``n_q`` None (their own bitrate)."""
    from codecstudy.study.validity_tables import fad_row

    rows = []
    for baseline in spec.baseline_runs():
        per_setting = scored_settings(baseline, spec, layout)
        for setting in sorted(per_setting):
            label = baseline_label(baseline.name, setting, len(per_setting))
            for eval_set in spec.eval_set_names:
                row = fad_row(layout.eval_dir(baseline.name, eval_set) / setting / "fad.json", label, eval_set, None,
                              setting=setting, baseline=True)
                if row is not None:
                    rows.append(row)
    return rows


def baseline_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``tables/baselines.csv``: per baseline row, its codec, nominal and measured kbps, delay, clips scored."""
    rows: dict[str, dict[str, Any]] = {}
    totals: dict[str, list[float]] = {}  # condition -> [bits, seconds]
    for r in records:
        row = rows.setdefault(r["condition"], {
            "condition": r["condition"], "setting": r.get("setting"),
            "nominal_kbps": None if r.get("bitrate_bps") is None else round(float(r["bitrate_bps"]) / 1000, 3),
            "measured_kbps": None, "codec_sample_rate": r.get("codec_sample_rate"),
            "delay_samples": (r.get("alignment") or {}).get("delay_samples"), "sample_rate": r.get("sample_rate"),
            "clips": 0, "failed": 0,
        })
        row["clips"] += 1
        row["failed"] += int(bool(r.get("error")))
        value, seconds = r.get("measured_bitrate_bps"), float(r.get("duration_s") or 0.0)
        if isinstance(value, (int, float)) and math.isfinite(value) and seconds > 0:
            total = totals.setdefault(r["condition"], [0.0, 0.0])
            total[0] += float(value) * seconds
            total[1] += seconds
    for name, row in rows.items():
        if name in totals and totals[name][1] > 0:
            row["measured_kbps"] = round(totals[name][0] / totals[name][1] / 1000, 3)  # all bytes / all seconds
    return list(rows.values())
