"""The report's figures, as PNG files next to ``index.html`` (matplotlib, Agg backend: no display needed).

Each function takes rows already loaded from ``tables/*.csv`` (strings, as in the CSV) or training curves, writes
one PNG and returns its path; none reads the run folder, so a figure always shows what the tables say.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 90


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _grid(count: int, columns: int = 4, size: tuple[float, float] = (3.4, 2.6)) -> tuple[Any, list[Any]]:
    cols = max(1, min(columns, count))
    rows = max(1, math.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[count:]:
        ax.axis("off")
    return fig, flat[:count]


def _group_title(rows: list[dict[str, str]], group: str, key: str) -> str:
    """A group's name with its seen-speaker mark (``‡ seen speakers``, ``‡ partly seen speakers``) when a
    condition trained on some of its speakers (the ``speakers`` column of groups.csv / paper.csv)."""
    labels = {r.get("speakers") for r in rows if r.get(key) == group and r.get("speakers")}
    if not labels:
        return group
    return f"{group} ‡ " + ("seen speakers" if labels == {"seen speakers"} else "partly seen speakers")


def quality_vs_bitrate(rows: list[dict[str, str]], metric: str, path: Path,
                       baselines: frozenset[str] = frozenset()) -> Path:
    """One panel per language/domain group: the metric's mean (and CI band) against n_q, one line per condition;
    rows at a named setting (baselines, ``baselines`` by row label: a setting such as Codec2's ``3200`` is a
    number but no number of codebooks) are dashed levels, labelled with their name."""

    def reference(r: dict[str, str]) -> bool:
        return r["condition"] in baselines or (not r["n_q"].isdigit() and r["n_q"] != "-")

    mine = [r for r in rows if r["metric"] == metric and r["n_q"].isdigit() and not reference(r)]
    references = [r for r in rows if r["metric"] == metric and reference(r)]
    groups = list(dict.fromkeys(r["set"] for r in mine))
    fig, axes = _grid(len(groups))
    direction = mine[0]["direction"] if mine else "higher"
    for ax, group in zip(axes, groups):
        lines: dict[str, list[tuple[int, float, float, float]]] = defaultdict(list)
        for r in mine:
            if r["set"] == group:
                lines[r["condition"]].append((int(r["n_q"]), _num(r["mean"]), _num(r["ci_low"]), _num(r["ci_high"])))
        for condition, points in lines.items():
            points.sort()
            xs = [p[0] for p in points]
            ax.plot(xs, [p[1] for p in points], marker="o", label=condition)
            ax.fill_between(xs, [p[2] for p in points], [p[3] for p in points], alpha=0.15)
        for r in references:  # baselines: one bitrate each, drawn as a dashed level across the panel
            if r["set"] == group and math.isfinite(_num(r["mean"])):
                ax.axhline(_num(r["mean"]), linestyle="--", linewidth=1, color="0.4")
                ax.annotate(r["condition"], (0.02, _num(r["mean"])), xycoords=("axes fraction", "data"), fontsize=6,
                            color="0.3", va="bottom")
        ax.set_title(_group_title(mine, group, "set"), fontsize=9)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("codebooks (n_q)", fontsize=8)
        ax.tick_params(labelsize=7)
    if axes:
        axes[0].set_ylabel(f"{metric} ({direction} is better)", fontsize=8)
        axes[0].legend(fontsize=7)
    fig.suptitle(f"{metric} against bitrate", fontsize=10)
    return _save(fig, path)


def group_bars(cells: list[dict[str, str]], metric: str, path: Path) -> Path:
    """Bars per language/domain group at the table's n_q, one bar per condition, with CI whiskers."""
    mine = [c for c in cells if c["metric"] == metric]
    groups = list(dict.fromkeys(c["group"] for c in mine))
    conditions = list(dict.fromkeys(c["condition"] for c in mine))
    keyed = {(c["group"], c["condition"]): c for c in mine}
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(groups) * max(1, len(conditions)) / 2 + 2), 3.2))
    width = 0.8 / max(1, len(conditions))
    for i, condition in enumerate(conditions):
        xs, means, errs = [], [], [[], []]
        for j, group in enumerate(groups):
            cell = keyed.get((group, condition))
            if cell is None or not math.isfinite(_num(cell["mean"])):
                continue
            mean = _num(cell["mean"])
            xs.append(j + (i - (len(conditions) - 1) / 2) * width)
            means.append(mean)
            errs[0].append(max(0.0, mean - _num(cell["ci_low"])))
            errs[1].append(max(0.0, _num(cell["ci_high"]) - mean))
        ax.bar(xs, means, width=width, yerr=errs, capsize=2, label=condition)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([_group_title(mine, g, "group") for g in groups], rotation=30, ha="right", fontsize=7)
    direction = mine[0]["direction"] if mine else "higher"
    ax.set_ylabel(f"{metric} ({direction} is better)", fontsize=8)
    ax.legend(fontsize=7)
    n_q = mine[0].get("n_q", "") if mine else ""
    ax.set_title(f"{metric} per language / domain at {n_q} codebooks", fontsize=10)
    return _save(fig, path)


def codebook_usage(rows: list[dict[str, str]], path: Path) -> Path:
    """Per set: perplexity of each codebook at the largest n_q, one line per condition (wider = more codes used)."""
    if not rows:
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.text(0.5, 0.5, "no codebook usage recorded", ha="center")
        ax.axis("off")
        return _save(fig, path)
    top = max(int(r["n_q"]) for r in rows)
    mine = [r for r in rows if int(r["n_q"]) == top]
    sets = list(dict.fromkeys(r["set"] for r in mine))
    fig, axes = _grid(len(sets), columns=5, size=(3.0, 2.5))
    for ax, set_name in zip(axes, sets):
        lines: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for r in mine:
            if r["set"] == set_name:
                lines[r["condition"]].append((int(r["codebook"]), _num(r["perplexity"])))
        for condition, points in lines.items():
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=condition)
        ax.set_title(set_name, fontsize=9)
        ax.set_xlabel("codebook", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("perplexity (codes)", fontsize=8)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"codebook usage per evaluation set ({top} codebooks)", fontsize=10)
    return _save(fig, path)


def training_curves(curves: dict[str, dict[str, list[tuple[int, float]]]], path: Path) -> Path:
    """Training mel loss and validation mel distance against step, one line per codec."""
    keys = [k for k in ("train/generator/mel", "valid/mel_distance") if any(k in c for c in curves.values())]
    fig, axes = _grid(max(1, len(keys)), columns=2, size=(4.5, 3.0))
    for ax, key in zip(axes, keys):
        for codec, series in curves.items():
            points = series.get(key, [])
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], label=codec)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    if not keys:
        axes[0].text(0.5, 0.5, "no training metrics found", ha="center")
    return _save(fig, path)


def corpus_hours(rows: list[dict[str, str]], path: Path) -> Path:
    """Training minutes per condition, stacked by language/domain (volume matching shows as equal bars)."""
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    strata = sorted({f"{r['language']}/{r['domain']}" for r in rows})
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(conditions) + 2.5), 3.2))
    bottoms = [0.0] * len(conditions)
    cmap = plt.get_cmap("tab20")
    for k, stratum in enumerate(strata):
        values = []
        for condition in conditions:
            values.append(
                sum(_num(r["hours"]) * 60 for r in rows
                    if r["condition"] == condition and f"{r['language']}/{r['domain']}" == stratum)
            )
        ax.bar(conditions, values, bottom=bottoms, label=stratum, color=cmap(k % 20))
        bottoms = [b + v for b, v in zip(bottoms, values)]
    ax.set_ylabel("minutes of training audio", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=6, ncol=2, bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.set_title("training data per condition", fontsize=10)
    return _save(fig, path)
