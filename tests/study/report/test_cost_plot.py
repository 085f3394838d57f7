"""The quality-against-cost figure: points from plain rows (strings as read from a CSV), bitrate labels, a PNG."""

from __future__ import annotations

from pathlib import Path

from codecstudy.study.report.cost_plot import bitrate_label, cost_points, quality_vs_cost

ROWS = [
    {"codec": "soundstream-tiny", "setting": "4", "nominal_bps": "1600", "macs_encode_per_s": "6.0e7",
     "macs_decode_per_s": "5.0e7", "latency_ms": "170", "pesq": "1.8"},
    {"codec": "soundstream-tiny", "setting": "8", "nominal_bps": 3200.0, "macs_encode_per_s": 6.4e7,
     "macs_decode_per_s": 5.0e7, "latency_ms": 170.0, "pesq": 2.1},
    {"codec": "opus:6kbps", "setting": "6kbps", "nominal_bps": "6000", "macs_encode_per_s": "",
     "macs_decode_per_s": "", "latency_ms": "26.5", "pesq": "2.9"},
    {"codec": "codec2", "setting": "3200", "nominal_bps": "3200", "latency_ms": None, "pesq": "nan"},
]


def test_cost_points_sum_encode_and_decode_and_keep_unknown_costs_unknown() -> None:
    points = cost_points(ROWS, "pesq")
    assert [p.codec for p in points] == ["soundstream-tiny", "soundstream-tiny", "opus:6kbps"]  # codec2: no value
    assert points[0].macs_per_s == 110 and points[0].latency_ms == 170 and points[0].label == "1.6 kbps"
    assert points[2].macs_per_s is None and points[2].latency_ms == 26.5 and points[2].quality == 2.9
    assert bitrate_label(None, "0.98kbps") == "0.98kbps"


def test_quality_vs_cost_writes_a_png(tmp_path: Path) -> None:
    path = quality_vs_cost(ROWS, "pesq", tmp_path / "plots" / "cost.png", metric_label="PESQ")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
