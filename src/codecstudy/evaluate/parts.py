"""Metric parts: one evaluation's metrics scored by two runs (GPU metrics, DSP metrics), their lines joined again.

Why: on a cluster the metrics that run a neural evaluator on the evaluation's device (``uses_device``:
SpeechBERTScore, UTMOS, SHEET-SSQA, speaker similarity) belong on GPU nodes, and the DSP metrics (MCD, PESQ, STOI,
mel distance, ViSQOL, the CPU-only models such as DNSMOS and the ASR...) on CPU nodes, as VERSA splits them: a GPU
job that spends most of its hours in PESQ wastes the GPU, and a CPU job cannot run the models fast.

Each part scores every (clip, setting) with its own metrics only and writes files of its own
(``results.part-gpu.jsonl``, ``results.part-cpu.shard-K-of-N.jsonl``); each of its lines carries ``part``: its
name, the parts the evaluation has and every metric of the evaluation in order. Readers join the parts' lines of a
clip into the line one run scoring every metric writes (:func:`join_part_lines`): the same values, the metrics in
the same order, so that tables and counts are those of an unsplit run. A clip counts as scored only once every part
has scored it; a clip that also has a whole line (a local run scored it) is taken from that line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.registry import METRICS, MetricSpec

GPU, CPU = "gpu", "cpu"
PARTS = (GPU, CPU)  # a split evaluation's parts, in the order their lines are joined
PART_KEY = "part"  # the field of a part's result line that names the part (absent from whole lines)
#: The fields of a result line that the pair scorer writes (:class:`codecstudy.evaluate.pair.PairScorer`), in its
#: order, last in the line; the others (clip, n_q, bitrates, rates...) come from the round trip, which every part
#: shares.
SCORED_FIELDS = ("metrics", "errors", "alignment", "seconds", "asr_text", "skipped")


def metric_part(spec: MetricSpec) -> str:
    """The part a metric is scored in: ``gpu`` for the metrics that run a model on the evaluation's device."""
    return GPU if spec.uses_device else CPU


def parts_of(specs: Iterable[MetricSpec]) -> list[str]:
    """The parts that ``specs`` fill, in :data:`PARTS` order (one part: nothing to split)."""
    used = {metric_part(spec) for spec in specs}
    return [part for part in PARTS if part in used]


def part_specs(specs: list[MetricSpec], part: str) -> list[MetricSpec]:
    """The metrics of ``specs`` that ``part`` scores; a part that none of them belongs to is a one-line error."""
    if part not in PARTS:
        raise CodecStudyError(f"metrics part must be one of {', '.join(PARTS)}, got {part!r}")
    mine = [spec for spec in specs if metric_part(spec) == part]
    if not mine:
        names = ", ".join(spec.name for spec in specs)
        raise CodecStudyError(f"metrics part {part}: none of the requested metrics ({names}) is scored in it")
    return mine


def part_field(part: str, specs: list[MetricSpec]) -> dict[str, Any]:
    """What a part's line carries under :data:`PART_KEY`: its name, the evaluation's parts and every metric of the
    evaluation in order (the joined line orders its values by them)."""
    return {"name": part, "parts": parts_of(specs), "metrics": [spec.name for spec in specs]}


def line_part(line: dict[str, Any]) -> str | None:
    """The part a result line was scored in; None for a whole line (every metric)."""
    field = line.get(PART_KEY)
    return str(field.get("name")) if isinstance(field, dict) else None


def join_results(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines of one folder's result files, all shards and parts, as readers take them: whole lines as written,
    then the joined line of every clip without one that each part has scored."""
    whole = [line for line in lines if PART_KEY not in line]
    parted = [line for line in lines if PART_KEY in line]
    return whole + join_part_lines(parted, {line["clip"] for line in whole}) if parted else whole


def join_part_lines(lines: Iterable[dict[str, Any]], skip: set[str] | None = None) -> list[dict[str, Any]]:
    """The joined line of every clip that each of its evaluation's parts has scored, in the order the clips first
    appear; clips in ``skip`` (they have a whole line) and clips some part has not scored yet are left out. When a
    part has two lines of one clip (shards of another count both scored it), the first is kept."""
    by_clip: dict[str, dict[str, dict[str, Any]]] = {}
    for line in lines:
        name = line_part(line)
        if name is None or (skip and line["clip"] in skip):
            continue
        by_clip.setdefault(line["clip"], {}).setdefault(name, line)
    joined = []
    for parts in by_clip.values():
        field = next(iter(parts.values()))[PART_KEY]
        needed = [str(p) for p in field.get("parts") or PARTS]
        if all(p in parts for p in needed):
            joined.append(join_lines([parts[p] for p in needed], [str(m) for m in field.get("metrics") or []]))
    return joined


def join_lines(lines: list[dict[str, Any]], metrics: list[str]) -> dict[str, Any]:
    """One clip's lines from every part as the line one run scoring every metric writes: the round trip's fields
    (the same in every part), then values, errors and skip notes in the evaluation's metric order, the alignment
    that was measured (only parts with a sample-aligned metric measure the clip's lag), the scoring seconds added
    up. A clip the codec failed on in any part is that part's failure line."""
    failed = next((line for line in lines if line.get("error")), None)
    if failed is not None:
        return {k: v for k, v in failed.items() if k != PART_KEY}
    first = lines[0]
    record = {k: v for k, v in first.items() if k not in SCORED_FIELDS and k != PART_KEY}
    record["metrics"] = _ordered_values(lines, metrics)
    record["errors"] = _ordered_by_metric([line.get("errors") or {} for line in lines], metrics)
    alignments = [line["alignment"] for line in lines if isinstance(line.get("alignment"), dict)]
    if alignments:
        record["alignment"] = next((a for a in alignments if a.get("clip_lag_samples") is not None), alignments[0])
    if any("seconds" in line for line in lines):
        record["seconds"] = round(sum(float(line.get("seconds") or 0.0) for line in lines), 4)
    text = next((line["asr_text"] for line in lines if "asr_text" in line), None)
    if text is not None:
        record["asr_text"] = text
    skipped = _ordered_by_metric([line.get("skipped") or {} for line in lines], metrics)
    if skipped:
        record["skipped"] = skipped
    return record


def _ordered_by_metric(parts: list[dict[str, Any]], metrics: list[str]) -> dict[str, Any]:
    """Dicts keyed by metric name, merged, in the evaluation's metric order (other keys after them)."""
    merged = {k: v for part in parts for k, v in part.items()}
    ordered = {m: merged[m] for m in metrics if m in merged}
    return {**ordered, **{k: v for k, v in merged.items() if k not in ordered}}


def _ordered_values(lines: list[dict[str, Any]], metrics: list[str]) -> dict[str, Any]:
    """The parts' values merged as one run computes them: metric by metric in the evaluation's order, each metric's
    keys in the order it returned them (output keys no requested metric declares come last)."""
    merged = {k: v for line in lines for k, v in (line.get("metrics") or {}).items()}
    owner = {key: m for m in metrics if m in METRICS for key in METRICS[m].outputs}
    ordered = {k: v for m in metrics for k, v in merged.items() if owner.get(k) == m}
    return {**ordered, **{k: v for k, v in merged.items() if k not in ordered}}
