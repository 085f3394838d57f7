"""Quality against cost: a chosen metric against compute (MACs per second of audio) and against algorithmic latency,
one point per codec and setting, each labelled with its bitrate.

Inputs are plain rows, e.g. :func:`codecstudy.codec.card.card_rows` joined with a metric's mean per codec and
setting (strings, as read back from a CSV, are accepted), so the figure shows what the tables say. Rows without a
cost (a classic codec's MACs are not counted, a latency not stated) cannot be placed on that axis; they are named
under the panel instead of being dropped silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

DPI = 90


@dataclass(frozen=True)
class CostPoint:
    """One codec at one setting: its quality value, costs (None when unknown) and a bitrate label."""

    codec: str
    setting: str
    quality: float
    macs_per_s: float | None  # millions: encode + decode
    latency_ms: float | None
    label: str


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def bitrate_label(nominal_bps: Any, setting: str) -> str:
    """``6 kbps`` from a nominal bitrate in bits/s; the setting's name when there is none."""
    bps = _number(nominal_bps)
    return setting if bps is None else f"{bps / 1000:g} kbps"


def cost_points(rows: list[dict[str, Any]], metric: str) -> list[CostPoint]:
    """Points of the rows that have a value for ``metric``; MACs/s is encode + decode (None unless both counted)."""
    points = []
    for row in rows:
        quality = _number(row.get(metric))
        if quality is None:
            continue
        encode, decode = _number(row.get("macs_encode_per_s")), _number(row.get("macs_decode_per_s"))
        setting = str(row.get("setting", ""))
        points.append(CostPoint(
            codec=str(row.get("codec", "")), setting=setting, quality=quality,
            macs_per_s=None if encode is None or decode is None else (encode + decode) / 1e6,
            latency_ms=_number(row.get("latency_ms")), label=bitrate_label(row.get("nominal_bps"), setting),
        ))
    return points


def _two_and_five(x: float, _pos: int) -> str:
    """Minor tick labels at 2 and 5 times a power of ten only (the others would crowd the axis)."""
    if x <= 0:
        return ""
    lead = round(x / 10 ** math.floor(math.log10(x)))
    return f"{x:.3g}" if lead in (2, 5) else ""


def _panel(ax: Any, points: list[CostPoint], cost: str, xlabel: str, ylabel: str, colors: dict[str, Any]) -> None:
    placed = [p for p in points if getattr(p, cost) is not None and getattr(p, cost) > 0]
    for codec, color in colors.items():
        mine = sorted((p for p in placed if p.codec == codec), key=lambda p: getattr(p, cost))
        if not mine:
            continue
        xs, ys = [getattr(p, cost) for p in mine], [p.quality for p in mine]
        ax.plot(xs, ys, marker="o", linestyle="-" if len(mine) > 1 else "none", color=color, label=codec)
        for p, x, y in zip(mine, xs, ys):
            ax.annotate(p.label, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7, color=color)
    if placed:
        ax.set_xscale("log")
        values = [getattr(p, cost) for p in placed]
        short = FuncFormatter(lambda x, _pos: f"{x:.3g}")
        ax.xaxis.set_major_formatter(short)
        # Within one decade there may be no major tick: label the minor ones then (few, short labels).
        no_decade = math.floor(math.log10(max(values))) == math.floor(math.log10(min(values)))
        ax.xaxis.set_minor_formatter(short if no_decade else FuncFormatter(_two_and_five))
        ax.margins(x=0.15, y=0.1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    missing = sorted({p.codec for p in points if p not in placed})
    if missing:
        ax.text(0.0, -0.28, "not placed (no value): " + ", ".join(missing), transform=ax.transAxes, fontsize=7,
                va="top", wrap=True)


def quality_vs_cost(rows: list[dict[str, Any]], metric: str, path: Path, *, metric_label: str | None = None) -> Path:
    """Write a two-panel PNG: ``metric`` against MACs/s (encode + decode, log) and against latency (ms, log)."""
    points = cost_points(rows, metric)
    codecs = list(dict.fromkeys(p.codec for p in points))
    cmap = plt.get_cmap("tab10")
    colors = {codec: cmap(i % 10) for i, codec in enumerate(codecs)}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), squeeze=True)
    ylabel = metric_label or metric
    _panel(left, points, "macs_per_s", "million multiply-accumulates per second of audio (encode + decode)", ylabel,
           colors)
    _panel(right, points, "latency_ms", "algorithmic latency, ms (frame + look-ahead)", ylabel, colors)
    if codecs:
        right.legend(fontsize=7, loc="best")
    fig.suptitle(f"{ylabel} against cost (labels: bitrate)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
