"""The study's codec cards: measured once per codec version into cards/, tabled in tables/codecs.csv and shown in
the report beside a quality-against-cost plot."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from codecstudy.study.report.build import codec_table, with_quality


def test_quality_is_pooled_over_sets_by_clip_count() -> None:
    cards = [{"condition": "a", "setting": "8"}, {"condition": "opus-6kbps", "setting": "6kbps"},
             {"condition": "b", "setting": "8"}]
    summary = [
        {"set": "en", "n_q": "8", "condition": "a", "metric": "stoi", "n": "3", "mean": "0.9"},
        {"set": "fr", "n_q": "8", "condition": "a", "metric": "stoi", "n": "1", "mean": "0.5"},
        {"set": "en", "n_q": "4", "condition": "a", "metric": "stoi", "n": "3", "mean": "0.1"},
        {"set": "en", "n_q": "6kbps", "condition": "opus-6kbps", "metric": "stoi", "n": "2", "mean": "0.7"},
        {"set": "en", "n_q": "8", "condition": "a", "metric": "pesq", "n": "3", "mean": "3.0"},
    ]
    rows = with_quality(cards, summary, "stoi")
    assert rows[0]["stoi"] == pytest.approx((3 * 0.9 + 0.5) / 4)
    assert rows[1]["stoi"] == pytest.approx(0.7) and rows[2]["stoi"] is None


def test_the_codecs_table_shows_kbps_and_millions_of_macs() -> None:
    (row,) = codec_table([{"condition": "opus-6kbps", "setting": "6kbps", "nominal_bps": "6000.0",
                           "measured_bps": "6050.0", "latency_ms": "26.5", "macs_encode_per_s": "",
                           "macs_decode_per_s": "", "macs_note": "not counted: a classic codec", "params_total": "",
                           "tokens_per_s": "", "rtf_roundtrip_10s": "0.012", "streaming_encode": "True",
                           "streaming_decode": "True"}])
    assert row["kbps nominal"] == "6.00" and row["kbps measured"] == "6.05" and row["latency ms"] == "26.5"
    assert row["MMACs/s enc"] == "not counted: a classic codec" and row["params M"] == "n/a"
    assert row["streaming"] == "encode yes/decode yes"


def test_cards_reach_the_tables_and_the_report(run_copy: tuple[Path, Path]) -> None:
    from codecstudy.study.layout import RunLayout
    from codecstudy.study.report.build import build_report
    from codecstudy.study.runner import write_tables_stage
    from codecstudy.study.spec import load_study

    study, run = run_copy
    spec, layout = load_study(study), RunLayout(run)
    write_tables_stage(spec, layout)
    with layout.table("codecs.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["condition"], r["setting"]) for r in rows] == [
        (c, n) for c in ("english-soundstream", "multilingual_audio-soundstream") for n in ("1", "2")]
    assert all(float(r["macs_encode_per_s"]) > 0 and float(r["latency_ms"]) > 0 for r in rows)
    assert float(rows[1]["nominal_bps"]) == 2 * float(rows[0]["nominal_bps"])
    card = layout.card_file("english-soundstream")
    before = card.stat().st_mtime_ns
    write_tables_stage(spec, layout)  # the same codecs: their cards are not measured again
    assert card.stat().st_mtime_ns == before
    page = build_report(spec, layout, audio=False).read_text(encoding="utf-8")
    assert 'id="codec-cards"' in page and "Codecs: what each costs" in page
    assert (layout.report_dir / "cost.png").is_file()
