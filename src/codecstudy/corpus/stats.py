"""Corpus statistics: minutes per language x domain x split, as a text table and a PNG plot."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from codecstudy.corpus.conditions import NO_LANGUAGE
from codecstudy.corpus.records import DOMAINS, SPLITS, Clip

Table = dict[tuple[str, str], dict[str, float]]


def minutes_table(clips: list[Clip]) -> Table:
    """``{(language, domain): {split: minutes}}``; clips without a split count as ``unsplit``."""
    table: Table = defaultdict(lambda: defaultdict(float))
    for clip in clips:
        table[(clip.language or NO_LANGUAGE, clip.domain)][clip.split or "unsplit"] += clip.duration / 60
    return {
        key: dict(value) for key, value in sorted(table.items(), key=lambda kv: (DOMAINS.index(kv[0][1]), kv[0][0]))
    }


def format_minutes_table(table: Table) -> str:
    """Rows language/domain, columns train/valid/test/total, in minutes."""
    columns = [s for s in SPLITS if any(s in row for row in table.values())]
    columns += sorted({s for row in table.values() for s in row} - set(SPLITS))
    header = f"{'language':<10}{'domain':<13}" + "".join(f"{c:>9}" for c in columns) + f"{'total':>9}"
    lines = [header, "-" * len(header)]
    totals: dict[str, float] = defaultdict(float)
    for (language, domain), row in table.items():
        cells = "".join(f"{row.get(c, 0.0):>9.1f}" for c in columns)
        lines.append(f"{language:<10}{domain:<13}{cells}{sum(row.values()):>9.1f}")
        for column in columns:
            totals[column] += row.get(column, 0.0)
    lines.append("-" * len(header))
    cells = "".join(f"{totals[c]:>9.1f}" for c in columns)
    lines.append(f"{'all':<10}{'':<13}{cells}{sum(totals.values()):>9.1f}")
    lines.append("(minutes)")
    return "\n".join(lines)


def _fold_small_rows(table: Table, min_minutes: float) -> Table:
    """Merge rows under ``min_minutes`` into one ``other`` row per domain, so a plot is not mostly empty rows."""
    folded: Table = {}
    others: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[str, int] = defaultdict(int)
    for (language, domain), row in table.items():
        if sum(row.values()) >= min_minutes:
            folded[(language, domain)] = row
            continue
        counts[domain] += 1
        for split, minutes in row.items():
            others[domain][split] += minutes
    for domain, row in others.items():
        folded[(f"{counts[domain]} others", domain)] = dict(row)
    return folded


def plot_minutes(table: Table, path: str | Path, title: str = "corpus", min_minutes: float = 1.0) -> Path:
    """Horizontal stacked bars, one per language/domain (rows under ``min_minutes`` merged), stacked by split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = _fold_small_rows(table, min_minutes)
    labels = [f"{language} · {domain}" for language, domain in table]
    splits = [s for s in SPLITS if any(s in row for row in table.values())] or ["unsplit"]
    colours = {"train": "#4C72B0", "valid": "#DD8452", "test": "#55A868", "unsplit": "#8C8C8C"}
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(labels) + 1.5))
    left = [0.0] * len(labels)
    for split in splits:
        values = [row.get(split, 0.0) for row in table.values()]
        ax.barh(labels, values, left=left, label=split, color=colours.get(split))
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()
    ax.set_xlabel("minutes")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def format_condition_minutes(groups: dict[str, list[Clip]]) -> str:
    """Rows language/domain, one column per condition (or evaluation set), in minutes."""
    rows: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for name, clips in groups.items():
        for clip in clips:
            rows[(clip.language or NO_LANGUAGE, clip.domain)][name] += clip.duration / 60
    names = list(groups)
    width = max([12, *(len(n) + 2 for n in names)])
    header = f"{'language':<10}{'domain':<13}" + "".join(f"{n:>{width}}" for n in names)
    lines = [header, "-" * len(header)]
    for key in sorted(rows, key=lambda k: (DOMAINS.index(k[1]), k[0])):
        lines.append(f"{key[0]:<10}{key[1]:<13}" + "".join(f"{rows[key].get(n, 0.0):>{width}.1f}" for n in names))
    lines.append("-" * len(header))
    totals = [sum(c.duration for c in groups[n]) / 60 for n in names]
    lines.append(f"{'all':<10}{'':<13}" + "".join(f"{t:>{width}.1f}" for t in totals))
    return "\n".join(lines)
