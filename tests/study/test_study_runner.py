"""The runner: every stage runs once, a re-run skips what is complete and redoes only what was removed."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from codecstudy.cli import main
from codecstudy.errors import ConfigError
from codecstudy.jsonl import read_jsonl
from codecstudy.study.layout import RunLayout
from codecstudy.study.runner import StudyRunner
from codecstudy.study.spec import load_study
from codecstudy.study.state import study_state

REPO = Path(__file__).resolve().parents[2]
CODECS = ["english-soundstream", "multilingual_audio-soundstream"]
SETS = ["en", "other_languages", "music"]


def _run(study: Path, run: Path, only: list[str] | None = None) -> dict[tuple[str, str], str]:
    runner = StudyRunner(load_study(study), run, progress=False, echo=lambda _: None)
    return {(r.stage, r.item): r.action for r in runner.run(only)}


def _mtimes(run: Path, pattern: str) -> dict[str, int]:
    return {str(p.relative_to(run)): p.stat().st_mtime_ns for p in sorted(run.glob(pattern))}


def test_first_run_runs_every_stage_and_writes_the_layout(tiny_run) -> None:
    study, run, records = tiny_run
    actions = {(r.stage, r.item): r.action for r in records}
    expected = {("corpus", ""), ("conditions", ""), ("aggregate", ""), ("report", "")}
    expected |= {("train", c) for c in CODECS} | {("evaluate", f"{c}/{s}") for c in CODECS for s in SETS}
    assert set(actions) == expected
    assert set(actions.values()) == {"ran"}
    layout = RunLayout(run)
    resolved = json.loads(json.dumps(__import__("yaml").safe_load(layout.study_file.read_text())))
    assert resolved["evaluate"]["n_q"] == [1, 2] and resolved["provenance"]["packages"]["torch"]
    assert "git_commit" in resolved["provenance"]
    for codec in CODECS:
        assert json.loads((layout.codec_dir(codec) / "summary.json").read_text())["step"] == 6
        for eval_set in SETS:
            for n_q in (1, 2):
                lines = list(read_jsonl(layout.eval_dir(codec, eval_set) / str(n_q) / "results.jsonl"))
                assert len(lines) == 3 and {r["condition"] for r in lines} == {codec}
    assert (layout.tables / "paper.csv").is_file() and (layout.tables / "summary.tex").is_file()
    assert layout.report_file.is_file()
    logged = list(read_jsonl(layout.stages_log))
    assert len(logged) == len(expected) and all(r["action"] == "ran" for r in logged)


def test_rerun_skips_everything_and_touches_nothing(run_copy) -> None:
    study, run = run_copy
    before = _mtimes(run, "**/*.jsonl") | _mtimes(run, "codecs/*/codec.pt") | _mtimes(run, "report/index.html")
    actions = _run(study, run)
    assert set(actions.values()) == {"skipped"}
    after = _mtimes(run, "**/*.jsonl") | _mtimes(run, "codecs/*/codec.pt") | _mtimes(run, "report/index.html")
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed == {"stages.jsonl"}


def test_removed_results_are_redone_alone_and_the_tables_follow(run_copy) -> None:
    study, run = run_copy
    layout = RunLayout(run)
    target = layout.eval_dir("english-soundstream", "music")
    kept = target / "1" / "results.jsonl"
    kept_mtime = kept.stat().st_mtime_ns
    (target / "2" / "results.jsonl").unlink()
    others = {k: v for k, v in _mtimes(run, "eval/**/results.jsonl").items() if "english-soundstream/music" not in k}
    codec_mtimes = _mtimes(run, "codecs/*/codec.pt")

    states = {(s.stage, s.item): s.status for s in study_state(load_study(study), layout)}
    assert states[("evaluate", "english-soundstream/music")] == "partial"
    actions = _run(study, run)
    redone = {key: action for key, action in actions.items() if action != "skipped"}
    # tables and report existed but are older than the new results: redone ("resumed" = was partial)
    assert redone == {("evaluate", "english-soundstream/music"): "resumed", ("aggregate", ""): "resumed",
                      ("report", ""): "resumed"}
    assert len(list(read_jsonl(target / "2" / "results.jsonl"))) == 3
    assert kept.stat().st_mtime_ns == kept_mtime  # the n_q=1 lines were complete: not rewritten
    assert {k: v for k, v in _mtimes(run, "eval/**/results.jsonl").items() if k in others} == others
    assert _mtimes(run, "codecs/*/codec.pt") == codec_mtimes


def test_tables_left_unfinished_by_a_failure_are_redone(run_copy) -> None:
    """summary.csv is written first: without the completion marker (a crash in a later table) the tables stage is
    unfinished, not complete, and the next run writes them all and then the report."""
    study, run = run_copy
    layout = RunLayout(run)
    assert json.loads(layout.tables_done.read_text())["files"]
    layout.tables_done.unlink()
    states = {(s.stage, s.item): (s.status, s.detail) for s in study_state(load_study(study), layout)}
    assert states[("aggregate", "")] == ("partial", "unfinished")
    actions = _run(study, run)
    assert {k: a for k, a in actions.items() if a != "skipped"} == {("aggregate", ""): "resumed",
                                                                    ("report", ""): "resumed"}
    assert layout.tables_done.is_file()


def test_results_under_an_older_delay_rule_are_rescored_and_delays_reported(run_copy) -> None:
    study, run = run_copy
    layout = RunLayout(run)
    target = layout.eval_dir("english-soundstream", "en")
    meta = json.loads((target / "meta.json").read_text())
    assert meta["delay"]["1"] == {**meta["delay"]["1"], "samples": 0, "source": "structure"}
    meta["alignment"] = {**meta["alignment"], "rule": "per-clip cross-correlation (before codec-delay/1)"}
    (target / "meta.json").write_text(json.dumps(meta))
    states = {(s.stage, s.item): (s.status, s.detail) for s in study_state(load_study(study), layout)}
    assert states[("evaluate", "english-soundstream/en")] == ("partial", "scored under another delay rule or "
                                                               "alignment setting")
    actions = _run(study, run)
    assert actions[("evaluate", "english-soundstream/en")] == "resumed"
    assert json.loads((target / "meta.json").read_text())["alignment"]["rule"] == "codec-delay/1"
    rows = list(csv.DictReader((layout.tables / "delays.csv").open()))
    assert {(r["condition"], r["set"], r["n_q"]) for r in rows} == {(c, s, n) for c in CODECS for s in SETS
                                                                      for n in ("1", "2")}
    assert {r["delay_samples"] for r in rows} == {"0"} and {r["source"] for r in rows} == {"structure"}
    assert 'id="delays"' in layout.report_file.read_text()


def test_interrupted_training_resumes_from_its_checkpoint(run_copy) -> None:
    study, run = run_copy
    layout = RunLayout(run)
    folder = layout.codec_dir("multilingual_audio-soundstream")
    for name in ("summary.json", "codec.pt", "checkpoints/step-00000006.pt"):
        (folder / name).unlink()
    other = _mtimes(run, "codecs/english-soundstream/**/*")
    states = {(s.stage, s.item): (s.status, s.detail) for s in study_state(load_study(study), layout)}
    assert states[("train", "multilingual_audio-soundstream")] == ("partial", "checkpoint at step 3/6")

    actions = _run(study, run)
    assert actions[("train", "multilingual_audio-soundstream")] == "resumed"
    assert actions[("train", "english-soundstream")] == "skipped"
    events = [r for r in read_jsonl(folder / "metrics.jsonl") if r.get("kind") == "resume"]
    assert [e["step"] for e in events] == [3]
    assert json.loads((folder / "summary.json").read_text())["resumed_from"] == 3
    assert _mtimes(run, "codecs/english-soundstream/**/*") == other
    # exact resume gives the same weights, so the evaluations of that codec stay valid and are skipped
    assert {a for (stage, item), a in actions.items() if stage == "evaluate"} == {"skipped"}


def test_only_trains_and_scores_one_condition_and_leaves_the_report(run_copy) -> None:
    study, run = run_copy
    shutil.rmtree(run / "codecs" / "multilingual_audio-soundstream")
    shutil.rmtree(run / "eval" / "english-soundstream" / "en")
    actions = _run(study, run, only=["english"])
    assert not any(item.startswith("multilingual_audio") for _, item in actions)
    assert {(stage, item) for (stage, item), a in actions.items() if a != "skipped"} == {
        ("evaluate", "english-soundstream/en")}
    assert ("aggregate", "") not in actions and ("report", "") not in actions
    assert not (run / "codecs" / "multilingual_audio-soundstream").exists()


def test_dry_run_prints_the_plan_and_creates_nothing(tiny_run, tmp_path: Path, capsys) -> None:
    study, run, _ = tiny_run
    fresh = tmp_path / "fresh"
    assert main(["study", "run", str(study), "--out", str(fresh), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert not fresh.exists()
    assert "plan (nothing was run)" in out
    assert "run    train english-soundstream" in out and "run    report" in out
    assert "2 x 16 codebooks, 6 steps" in out and "mel_distance, si_snr" in out

    assert main(["study", "run", str(study), "--out", str(run), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "skip   evaluate multilingual_audio-soundstream/music" in out and "run    " not in out


def test_dry_run_rejects_bad_codec_overrides_and_bitrates(tiny_run, tmp_path: Path, capsys) -> None:
    study, _, _ = tiny_run
    out = str(tmp_path / "x")
    assert main(["study", "run", str(study), "--out", out, "--dry-run", "--set", "evaluate.n_q=[1,4]"]) == 2
    assert "evaluate.n_q: [4] exceed the 2 codebooks" in capsys.readouterr().err
    assert main(["study", "run", str(study), "--out", out, "--dry-run", "--set",
                 "codec.overrides=[seanet.nonsense=1]"]) == 2
    assert "seanet.nonsense: unknown key" in capsys.readouterr().err
    assert main(["study", "run", str(study), "--out", out, "--dry-run", "--set", "evaluate.metrics=[pesqq]"]) == 2
    assert "evaluate.metrics: unknown metric 'pesqq'" in capsys.readouterr().err
    assert main(["study", "run", str(study), "--out", out, "--dry-run", "--set",
                 "evaluate.validity={pesq: {domains: [noise]}}"]) == 2
    assert "evaluate.validity: pesq.domains: ['noise'] not in" in capsys.readouterr().err
    assert main(["study", "run", str(study), "--out", out, "--dry-run", "--only", "french"]) == 2
    assert "--only french: no such condition" in capsys.readouterr().err
    assert not Path(out).exists()


def test_paper_study_dry_run_names_the_missing_dataset() -> None:
    spec = load_study(REPO / "configs/studies/paper.yaml")
    with pytest.raises(ConfigError) as info:
        StudyRunner(spec, Path("/nonexistent/run")).dry_run()
    message = str(info.value)
    assert "corpus.sources[0] (mls): mls: root folder not found: /data/mls" in message
    assert "\n" not in message


def test_status_command_prints_the_table(run_copy, capsys) -> None:
    study, run = run_copy
    (run / "report" / "index.html").unlink()
    assert main(["study", "status", str(study), "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "train      english-soundstream" in out and "complete  step 6/6" in out
    assert "report     -" in out and "missing" in out
    assert "11 complete, 0 partial, 1 missing" in out


def test_tables_and_report_say_how_much_to_trust_the_numbers(tiny_run) -> None:
    """The robust frame rule reaches the result lines; the tables carry the robust columns, the trust and speaker
    tables; paper.md and the report say which definition they show."""
    _, run, _ = tiny_run
    layout = RunLayout(run)
    splits = json.loads(layout.speakers_json.read_text())
    assert {(s["condition"], s["eval_set"]) for s in splits} == {(c.split("-")[0], s) for c in CODECS for s in SETS}
    line = next(iter(read_jsonl(layout.eval_dir(CODECS[0], "en") / "1" / "results.jsonl")))
    assert "mel_distance_frames_dropped" in line["metrics"]  # the study's default: frames robust
    groups = list(csv.DictReader((layout.tables / "groups.csv").open()))
    assert {"median", "trimmed_mean", "clips_differ", "speakers"} <= set(groups[0])
    trust = list(csv.DictReader((layout.tables / "trust.csv").open()))
    assert {(r["set"], r["condition"]) for r in trust} == {(s, c) for c in CODECS for s in SETS}
    assert all(r["n_q"] == "2" and r["clips"] == "3" for r in trust)
    assert (layout.tables / "outliers.csv").is_file() and (layout.tables / "speakers.csv").is_file()
    paper = (layout.tables / "paper.md").read_text()
    assert "Frame rule: robust" in paper.splitlines()[0]
    labelled = list(csv.DictReader((layout.tables / "speakers.csv").open()))
    for row in labelled:  # every labelled group is marked in paper.md
        assert f"* {row['group']}: " in paper and f"{row['speakers']} for {row['condition']}" in paper
    page = layout.report_file.read_text()
    assert "How much to trust these numbers" in page and "Frame rule: robust" in page
