"""Baselines in a study: codecs it does not train (Opus, Codec2) scored on the same sets, shown in every table,
plot, player and the report with their measured kbps, and kept out of the best/worst counts unless asked."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from codecstudy.cli import main
from codecstudy.errors import ConfigError
from codecstudy.jsonl import read_jsonl
from codecstudy.study.layout import RunLayout
from codecstudy.study.runner import StudyRunner
from codecstudy.study.spec import load_study

BASELINES = {"codecs": ["opus:6kbps", {"codec": "codec2:3200", "name": "codec2-3k2"}]}
SETS = ["en", "other_languages", "music"]


def _with_baselines(study: Path, **extra) -> Path:
    data = yaml.safe_load(study.read_text())
    data["baselines"] = {**BASELINES, **extra}
    path = study.with_name("with-baselines.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_baselines_join_a_finished_study_and_every_table(run_copy) -> None:
    study, run = run_copy
    spec = load_study(_with_baselines(study))
    records = StudyRunner(spec, run, progress=False, echo=lambda _: None).run()
    actions = {(r.stage, r.item): r.action for r in records}
    for name in ("opus-6kbps", "codec2-3k2"):
        for eval_set in SETS:
            assert actions[("evaluate", f"{name}/{eval_set}")] == "ran"
    assert actions[("train", "english-soundstream")] == "skipped"
    assert actions[("aggregate", "")] != "skipped" and actions[("report", "")] != "skipped"

    layout = RunLayout(run)
    lines = list(read_jsonl(layout.eval_dir("opus-6kbps", "en") / "6kbps" / "results.jsonl"))
    assert len(lines) == 3 and all(r["sample_rate"] == 16000 and r["setting"] == "6kbps" for r in lines)
    lines = list(read_jsonl(layout.eval_dir("codec2-3k2", "music") / "3200" / "results.jsonl"))
    assert all(r["codec_sample_rate"] == 8000 and r["sample_rate"] == 16000 for r in lines)

    rows = {r["condition"]: r for r in _csv(layout.tables / "baselines.csv")}
    assert float(rows["opus-6kbps"]["measured_kbps"]) == pytest.approx(6.0, rel=0.10)
    assert float(rows["codec2-3k2"]["measured_kbps"]) == pytest.approx(3.2, rel=0.10)
    assert rows["opus-6kbps"]["delay_samples"] == "104" and rows["codec2-3k2"]["delay_samples"] != ""

    summary = _csv(layout.tables / "summary.csv")
    assert {r["n_q"] for r in summary if r["condition"] == "opus-6kbps"} == {"6kbps"}
    paper = _csv(layout.tables / "paper.csv")
    base = [c for c in paper if c["condition"] in ("opus-6kbps", "codec2-3k2")]
    assert len(base) == 2 * len({(c["metric"], c["group"]) for c in paper})  # a row in every paper table
    assert all(c["best"] == "False" and c["worst"] == "False" for c in base)
    trained = [c for c in paper if c["condition"] not in ("opus-6kbps", "codec2-3k2")]
    assert any(c["best"] == "True" for c in trained)  # the conditions still compete with each other
    counts = {r["condition"]: r for r in _csv(layout.tables / "paper_counts.csv")}
    assert counts["opus-6kbps"]["best"] == "0" and counts["opus-6kbps"]["worst"] == "0"
    assert "opus-6kbps (baseline, 6." in (layout.tables / "paper.md").read_text()

    page = layout.report_file.read_text()
    assert "opus-6kbps (baseline, 6." in page and 'id="baselines"' in page
    assert "codec2-3k2 (baseline, 3." in page
    assert list((layout.report_dir / "audio").rglob("*-opus-6kbps.wav"))
    assert list((layout.report_dir / "audio").rglob("*-codec2-3k2.wav"))

    # complete: a re-run skips the baselines too
    again = StudyRunner(spec, run, progress=False, echo=lambda _: None).run()
    assert {r.action for r in again} == {"skipped"}


def test_counted_baselines_can_win_cells(run_copy) -> None:
    study, run = run_copy
    spec = load_study(_with_baselines(study, count_in_best_worst=True))
    StudyRunner(spec, run, progress=False, echo=lambda _: None).run()
    paper = _csv(RunLayout(run).tables / "paper.csv")
    base = [c for c in paper if c["condition"] in ("opus-6kbps", "codec2-3k2")]
    # the untrained 6-step codecs are noise: Opus wins cells once it may
    assert any(c["best"] == "True" for c in base)


def test_bad_baselines_are_one_line_errors(tiny_run, tmp_path: Path, capsys) -> None:
    study, _, _ = tiny_run
    out = str(tmp_path / "x")
    path = _with_baselines(study)
    data = yaml.safe_load(path.read_text())
    data["baselines"]["codecs"][0] = "opus:5kbps"
    path.write_text(yaml.safe_dump(data))
    assert main(["study", "run", str(path), "--out", out, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert "baselines.codecs[0] (opus:5kbps)" in err and "offers: 6kbps" in err and "\n" not in err
    data["baselines"]["codecs"] = ["opus:6kbps", "opus:6kbps"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="baselines.codecs.1.: the row name 'opus-6kbps' is already used"):
        load_study(path)


def test_dry_run_lists_the_baseline_evaluations(tiny_run, capsys) -> None:
    study, run, _ = tiny_run
    assert main(["study", "run", str(_with_baselines(study)), "--out", str(run), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "baseline opus-6kbps: opus:6kbps at 6 kbps, 16000 Hz" in out
    assert "run    evaluate codec2-3k2/music" in out


def test_baselines_are_scheduled_items_that_wait_for_no_training(tiny_run) -> None:
    """So that with two processes they are scored beside the last codec's training, not after it."""
    from codecstudy.study.schedule import count_items, study_items

    study, run, _ = tiny_run
    spec = load_study(_with_baselines(study))
    runs = spec.codec_runs()
    items = study_items(spec, RunLayout(run), runs, progress=False, baselines=True)
    baselines = [i for i in items if i.stage == "baseline"]
    assert [i.item for i in baselines] == [f"{b}/{s}" for s in SETS for b in ("opus-6kbps", "codec2-3k2")]
    assert all(i.after == () for i in baselines)
    assert items[-len(baselines):] == baselines  # after the trained codecs' evaluations in the study order
    assert count_items(spec, runs, baselines=True) == len(items) == len(runs) * (1 + len(SETS)) + 2 * len(SETS)
    assert not [i for i in study_items(spec, RunLayout(run), runs, progress=False) if i.stage == "baseline"]
    # the item's state is the baseline's evaluation state (missing here: the tiny run has no baselines yet)
    state = baselines[0].state()
    assert (state.stage, state.item, state.status) == ("evaluate", "opus-6kbps/en", "missing")
