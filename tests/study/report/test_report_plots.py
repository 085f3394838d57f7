"""The quality-against-bitrate plot: a baseline is a dashed level, even when its setting is a number (Codec2's 3200
is bits per second, not 3200 codebooks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codecstudy.study.report import plots


def _row(condition: str, n_q: str, mean: float) -> dict[str, str]:
    return {"set": "en", "n_q": n_q, "condition": condition, "metric": "stoi", "direction": "higher",
            "mean": str(mean), "ci_low": str(mean - 0.01), "ci_high": str(mean + 0.01)}


def test_a_numeric_baseline_setting_is_a_level_not_a_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    codec2 = "codec2-3200 (baseline, 3.25 kbps)"
    rows = [_row("a", "1", 0.6), _row("a", "8", 0.8), _row(codec2, "3200", 0.85), _row("opus (baseline)", "6kbps", 0.9)]
    plots.quality_vs_bitrate(rows, "stoi", tmp_path / "x.png", frozenset({codec2, "opus (baseline)"}))
    (ax,) = [a for a in figures[0].axes if a.get_lines()]
    plotted = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [list(line.get_xdata()) for line in plotted] == [[1, 8]]  # only the trained codec is a line over n_q
    levels = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
    assert levels == [0.85, 0.9]
