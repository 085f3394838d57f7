"""The listening test of the tiny study: `listen build` writes loudness-matched stimuli for stratified trials, and
`listen import` checks files, keeps what was imported, post-screens listeners and writes tables and report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from helpers.mushra import export, write

from codecstudy import audio
from codecstudy.cli import main
from codecstudy.listen.loudness import integrated_loudness
from codecstudy.study.layout import RunLayout


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def built(run_copy: tuple[Path, Path]) -> tuple[Path, Path, dict]:
    study, run = run_copy
    assert main(["listen", "build", str(study), "--out", str(run), "--set", "listen.trials=5",
                 "--set", "listen.min_seconds=0.5"]) == 0
    return study, run, json.loads((run / "listen" / "trials.json").read_text(encoding="utf-8"))


ARGS = ["--set", "listen.trials=5", "--set", "listen.min_seconds=0.5"]


def test_build_writes_stratified_loudness_matched_trials(built: tuple[Path, Path, dict]) -> None:
    _, run, test = built
    listen = run / "listen"
    trials = test["trials"]
    # the tiny study's eval sets hold speech in en, de, es and music + environment: 5 strata, one trial each
    assert sorted(t["group"] for t in trials) == ["environment", "music", "speech/de", "speech/en", "speech/es"]
    assert test["n_q"] == 2  # report.n_q 8, evaluated [1, 2]: the tables' bitrate
    codecs = ["english-soundstream", "multilingual_audio-soundstream"]
    assert sorted(test["codecs"]) == codecs
    for trial in trials:
        assert sorted(trial["stimuli"]) == sorted(["anchor_3k5", "anchor_7k", "reference", *codecs])
        files = [listen / p for p in [trial["reference"], *trial["stimuli"].values()]]
        assert len({f.name for f in files}) == len(files) and all(f.is_file() for f in files)
        assert not any(c in str(p) for p in trial["stimuli"].values() for c in ("soundstream", "anchor", "ref"))
        levels = []
        for condition, rel in trial["stimuli"].items():
            samples, rate = audio.read(listen / rel)
            assert rate == test["sample_rate"] and abs(samples.size - trial["seconds"] * rate) <= rate / 1000
            levels.append(integrated_loudness(samples, rate))
        # every stimulus of a trial at one loudness (16-bit rounding aside)
        assert max(levels) - min(levels) < 0.2, (trial["id"], levels)
        assert abs(levels[0] - test["loudness"]["per_trial"][trial["id"]]["level_lufs"]) < 0.2
    page = (listen / "index.html").read_text(encoding="utf-8")
    assert test["trials_hash"] in page and "http://" not in page and "https://" not in page
    report = (run / "report" / "index.html").read_text(encoding="utf-8")
    assert "../listen/index.html" not in report  # the report was built before the test


def test_import_checks_files_keeps_earlier_ones_and_screens(built: tuple[Path, Path, dict], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    study, run, test = built
    codec_score = {"english-soundstream": 60.0, "multilingual_audio-soundstream": 80.0}

    def score(trial: dict, condition: str) -> float:
        return {"reference": 100.0, "anchor_3k5": 20.0, "anchor_7k": 40.0}.get(condition) or codec_score[condition]

    anna = write(tmp_path / "anna.json", export(test, "Anna", score))
    bob = write(tmp_path / "bob.json", export(test, "Bob", lambda t, c: score(t, c) - 10 if c != "reference"
                                              else (95.0 if t["id"] == "t01" else 70.0), ("de",)))
    assert main(["listen", "import", str(anna), str(bob), "--study", str(study), "--out", str(run), *ARGS]) == 0
    tables = run / "tables"
    rows = {(r["group"], r["condition"]): r for r in _csv(tables / "mushra.csv")}
    # Bob rated the hidden reference below 90 in 4 of 5 trials: excluded, so the table is Anna's ratings
    assert float(rows[("all", "multilingual_audio-soundstream")]["mean"]) == 80.0
    assert float(rows[("speech/de", "english-soundstream")]["mean"]) == 60.0
    assert float(rows[("all", "anchor_3k5")]["mean"]) == 20.0 and rows[("all", "reference")]["listeners"] == "1"
    # Anna speaks English only: her English ratings count again as a speaker's, her German ones do not
    assert rows[("speech/en", "english-soundstream")]["speakers_ratings"] == "1"
    assert float(rows[("speech/en", "english-soundstream")]["speakers_mean"]) == 60.0
    assert rows[("speech/de", "english-soundstream")]["speakers_ratings"] == "0"
    assert rows[("music", "english-soundstream")]["speakers_ratings"] == "1"
    assert {r["group"] for r in rows.values()} == {"all", "environment", "music", "speech/de", "speech/en",
                                                   "speech/es"}
    listeners = {r["listener"]: r for r in _csv(tables / "mushra_listeners.csv")}
    assert listeners["Anna"]["excluded"] == "False" and listeners["Bob"]["excluded"] == "True"
    assert "4 of 5 trials" in listeners["Bob"]["reason"]
    pairs = _csv(tables / "mushra_pairwise.csv")
    assert pairs and all({p["condition_a"], p["condition_b"]} == set(codec_score) for p in pairs)
    corr = {r["metric"] for r in _csv(tables / "mushra_correlation.csv")}
    assert corr == {"mel_distance", "si_snr"}
    assert "| multilingual_audio-soundstream |" in (tables / "mushra.md").read_text(encoding="utf-8")
    report = (run / "report" / "index.html").read_text(encoding="utf-8")
    assert '<section id="listening">' in report and "../listen/index.html" in report
    assert "<b>Bob</b>: hidden reference rated below 90 in 4 of 5 trials" in report
    assert 'data-condition="multilingual_audio-soundstream" data-mean="80.0"' in report
    assert len(list((run / "listen" / "ratings").glob("*.json"))) == 2

    # bad files: one line each, naming the file; nothing imported before is lost
    capsys.readouterr()
    other = export(test, "Carol", score)
    other["study"]["name"] = "another"
    out_of_range = export(test, "Dan", score)
    out_of_range["ratings"][0]["scores"]["reference"] = 101
    bad = [write(tmp_path / "carol.json", other), write(tmp_path / "dan.json", out_of_range),
           write(tmp_path / "anna-again.json", export(test, " anna ", score))]
    assert main(["listen", "import", *map(str, bad), "--study", str(study), "--out", str(run), *ARGS,
                 "--no-report"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 3
    assert errors[0].startswith(f"rejected: {bad[0]}: ratings of study 'another'")
    assert errors[1].startswith(f"rejected: {bad[1]}: trial t01: rating 101")
    assert errors[2].startswith(f"rejected: {bad[2]}: listener 'anna' already imported")
    assert len(list((run / "listen" / "ratings").glob("*.json"))) == 2
    assert float(_csv(tables / "mushra.csv")[0]["mean"]) == 100.0  # reference of the first group, still there


def test_rebuilding_a_different_test_over_ratings_is_refused(built: tuple[Path, Path, dict], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    study, run, test = built
    anna = write(tmp_path / "anna.json", export(test, "Anna", lambda t, c: 100.0))
    assert main(["listen", "import", str(anna), "--study", str(study), "--out", str(run), *ARGS, "--no-report"]) == 0
    capsys.readouterr()
    assert main(["listen", "build", str(study), "--out", str(run), "--set", "listen.trials=3"]) == 2
    assert "holds 1 imported ratings file(s)" in capsys.readouterr().err
    assert (run / "listen" / "ratings").is_dir() and json.loads(
        (run / "listen" / "trials.json").read_text(encoding="utf-8"))["trials_hash"] == test["trials_hash"]


def test_study_run_builds_the_test_before_the_report_when_enabled(run_copy: tuple[Path, Path]) -> None:
    from codecstudy.study.runner import StudyRunner
    from codecstudy.study.spec import load_study
    from codecstudy.study.state import format_states, study_state

    study, run = run_copy
    spec = load_study(study, ["listen.enabled=true", "listen.trials=2", "listen.min_seconds=0.5"])
    assert "listen" not in [s.stage for s in study_state(load_study(study), RunLayout(run))]
    (run / "tables" / "tables.done.json").touch()  # tables newer than the report: the report is redone
    records = StudyRunner(spec, run, progress=False, echo=lambda _: None).run()
    actions = {r.stage: r.action for r in records}
    assert actions["listen"] == "ran" and actions["report"] == "resumed"  # older than the tables
    assert [r.stage for r in records][-3:] == ["listen", "aggregate", "report"]
    assert len(json.loads((run / "listen" / "trials.json").read_text(encoding="utf-8"))["trials"]) == 2
    assert "../listen/index.html" in (run / "report" / "index.html").read_text(encoding="utf-8")
    assert "listen" in format_states(study_state(spec, RunLayout(run)))
    again = StudyRunner(spec, run, progress=False, echo=lambda _: None).run()
    assert {r.stage: r.action for r in again}["listen"] == "skipped"
