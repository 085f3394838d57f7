"""Skip notes, language marks and the paper's non-speech table (with FAD) built from result records."""

from __future__ import annotations

import json
import math
from pathlib import Path

from codecstudy.evaluate.aggregate import SummaryRow
from codecstudy.evaluate.applicability import Validity
from codecstudy.study.tables import by_group, paper_cells, paper_markdown
from codecstudy.study.validity_tables import (
    fad_rows,
    group_info,
    language_marks,
    nonspeech_markdown,
    nonspeech_rows,
    paper_notes,
    skip_rows,
)

SKIP = {"pesq": "not applicable to music (speech only)"}


def _records() -> list[dict]:
    out = []
    for condition in ("a", "b"):
        out += [
            {"set": "seen", "language": "de", "domain": "speech", "n_q": 8, "condition": condition},
            {"set": "seen", "language": "en", "domain": "speech", "n_q": 8, "condition": condition},
            {"set": "music", "language": None, "domain": "music", "n_q": 8, "condition": condition, "skipped": SKIP},
            {"set": "music", "language": None, "domain": "music", "n_q": 8, "condition": condition, "skipped": SKIP},
        ]
    return out


def _row(group: str, condition: str, metric: str, mean: float, direction: str) -> SummaryRow:
    return SummaryRow(group, "8", condition, metric, direction, 2, 0, mean, mean - 0.1, mean + 0.1)


def test_skips_marks_and_nonspeech_table(tmp_path: Path) -> None:
    grouped = by_group(_records())
    info = group_info(grouped)
    assert info["seen/de"]["languages"] == {"de"} and info["music"]["domains"] == {"music"}
    skips = skip_rows(grouped)
    assert skips == [{"group": "music", "n_q": "8", "metric": "pesq", "reason": SKIP["pesq"], "clips": 4}]
    rows = [
        _row("seen/de", "a", "utmos", 3.0, "higher"), _row("seen/de", "b", "utmos", 2.5, "higher"),
        _row("seen/en", "a", "utmos", 3.1, "higher"), _row("seen/de", "a", "pesq", 2.0, "higher"),
        _row("seen/de", "b", "pesq", 2.2, "higher"),
        _row("music", "a", "mcd", 5.0, "lower"), _row("music", "b", "mcd", 6.0, "lower"),
        _row("music", "a", "emb_dist", 0.2, "lower"), _row("music", "b", "emb_dist", 0.1, "lower"),
    ]
    cells = paper_cells(rows, [], 8)
    marks = language_marks(cells, info)
    assert set(marks) == {("utmos", "seen/de")}  # English-trained model on German; PESQ is language-independent
    assert language_marks(cells, info, {"utmos": Validity(("speech",), None)}) == {}  # a study's override
    text = paper_markdown(cells, 8, marks) + paper_notes(marks, skips, 8, ["utmos", "pesq", "mcd"])
    assert "†" in text and "pesq: music (speech only)" in text

    for condition, value in (("a", 12.0), ("b", 30.0)):
        folder = tmp_path / condition / "music" / "8"
        folder.mkdir(parents=True)
        (folder / "fad.json").write_text(json.dumps(
            {"fad": value, "clips": 2, "frames_ref": 4, "frames_est": 4, "warning": "only 4 embedding frames",
             "model": {"model": "BirdNET", "sha256": "ab" * 32}}))
    fads = fad_rows(lambda c, s, n: tmp_path / c / s / str(n) / "fad.json", ["a", "b"], ["music"], [8])
    assert [f["fad"] for f in fads] == [12.0, 30.0] and fads[0]["sha256"] == "ab" * 8
    table = nonspeech_rows(cells, info, fads, 8)
    keyed = {(r["metric"], r["condition"]): r for r in table}
    assert set(m for m, _ in keyed) == {"mcd", "emb_dist", "fad"}  # only music groups; speech cells stay out
    assert keyed[("mcd", "a")]["best"] and keyed[("emb_dist", "b")]["best"] and keyed[("fad", "a")]["best"]
    assert keyed[("fad", "b")]["worst"] and math.isnan(keyed[("fad", "a")]["ci_low"])
    assert all(set(r) == set(table[0]) for r in table)  # one CSV header fits every row
    md = nonspeech_markdown(table, 8)
    assert "| condition | music: mcd | music: emb_dist | music: fad |" in md
    assert "**12.000**" in md and "<u>30.000</u>" in md and "only 4 embedding frames" in md

    # A baseline's FAD (no n_q: its own bitrate) joins the table at 8 codebooks, shown but not ranked unless counted.
    opus = {**fads[0], "condition": "opus", "fad": 5.0, "n_q": None, "baseline": True}
    table = nonspeech_rows(cells, info, [*fads, opus], 8, outside=frozenset({"opus"}))
    keyed = {(r["metric"], r["condition"]): r for r in table}
    assert keyed[("fad", "opus")]["mean"] == 5.0 and not keyed[("fad", "opus")]["best"]
    assert keyed[("fad", "a")]["best"] and keyed[("fad", "b")]["worst"]
    counted = {(r["metric"], r["condition"]): r for r in nonspeech_rows(cells, info, [*fads, opus], 8)}
    assert counted[("fad", "opus")]["best"] and not counted[("fad", "a")]["best"]


def test_baseline_fad_rows_read_the_setting_folders(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from codecstudy.study.baselines import baseline_fad_rows
    from codecstudy.study.layout import RunLayout

    layout = RunLayout(tmp_path)
    for setting in ("6kbps", "12kbps"):
        folder = layout.eval_dir("opus", "music") / setting
        folder.mkdir(parents=True)
        (folder / "results.jsonl").write_text("{}\n")
        (folder / "fad.json").write_text(json.dumps({"fad": float(len(setting)), "clips": 3, "model": {}}))
    spec = SimpleNamespace(baseline_runs=lambda: [SimpleNamespace(name="opus")], eval_set_names=["music", "en"])
    rows = baseline_fad_rows(spec, layout)
    assert [(r["condition"], r["set"], r["n_q"], r["fad"]) for r in rows] == [
        ("opus@12kbps", "music", None, 6.0), ("opus@6kbps", "music", None, 5.0)]
    assert all(r["baseline"] for r in rows)
    trained = fad_rows(lambda c, s, n: layout.eval_fad("opus", s, n), ["x"], ["music"], [8])
    assert trained == []  # no 8/ folder
    (layout.eval_dir("opus", "music") / "8").mkdir()
    (layout.eval_dir("opus", "music") / "8" / "fad.json").write_text(json.dumps({"fad": 1.0, "model": {}}))
    trained = fad_rows(lambda c, s, n: layout.eval_fad("opus", s, n), ["x"], ["music"], [8])
    assert set(trained[0]) == set(rows[0]) and trained[0]["setting"] == "8" and not trained[0]["baseline"]
