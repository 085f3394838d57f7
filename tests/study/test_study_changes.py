"""One rule for a changed study: a change that the run folder's evaluations were not made with is refused before
anything runs, naming the key, and ``study.yaml`` is rewritten only once stages have run under the study it
describes."""

from __future__ import annotations

from pathlib import Path

import yaml

from codecstudy.cli import main
from codecstudy.jsonl import read_jsonl
from codecstudy.study.layout import RunLayout

CODECS = ["english-soundstream", "multilingual_audio-soundstream"]
SETS = ["en", "other_languages", "music"]


def _study_run(study: Path, run: Path, *sets: str, dry_run: bool = False) -> int:
    overrides = [arg for item in sets for arg in ("--set", item)]
    return main(["study", "run", str(study), "--out", str(run), "--no-parallel", *overrides,
                 *(["--dry-run"] if dry_run else [])])


REFUSED = [
    ("evaluate.metrics=[mel_distance,si_snr,stoi]",
     "evaluate.metrics: 6 evaluations in {eval} (first en of english-soundstream) were scored with mel_distance, "
     "si_snr, not mel_distance, si_snr, stoi; a finished evaluation is not rescored with other settings: put "
     "evaluate.metrics back, or remove {eval} (or run into another --out) to score again"),
    ("evaluate.mode=parity",
     "evaluate.mode: 6 evaluations in {eval} (first en of english-soundstream) were scored in fast mode, not "
     "parity; a finished evaluation is not rescored with other settings: put evaluate.mode back, or remove {eval} "
     "(or run into another --out) to score again"),
    ("evaluate.metric_settings.mel_distance.n_mels=64",
     "evaluate.metric_settings: 6 evaluations in {eval} (first en of english-soundstream) were scored with other "
     "metric settings; a finished evaluation is not rescored with other settings: put evaluate.metric_settings "
     "back, or remove {eval} (or run into another --out) to score again"),
    ("evaluate.validity.si_snr.domains=[speech]",
     "evaluate.validity: 6 evaluations in {eval} (first en of english-soundstream) were scored with other "
     "validity overrides; a finished evaluation is not rescored with other settings: put evaluate.validity back, "
     "or remove {eval} (or run into another --out) to score again"),
]


def test_a_changed_scoring_setting_is_refused_before_anything_runs(run_copy: tuple[Path, Path], capsys) -> None:
    """Each change on the same finished run (a refusal changes nothing, so one copy serves them all)."""
    study, run = run_copy
    layout = RunLayout(run)
    record, log = layout.study_file.read_bytes(), layout.stages_log.read_bytes()
    for change, line in REFUSED:
        expected = f"codecstudy: error: {study}: {line.format(eval=layout.eval_root)}\n"
        assert _study_run(study, run, change, dry_run=True) == 2, change
        assert capsys.readouterr().err == expected  # the dry run catches it too
        assert _study_run(study, run, change) == 2, change
        assert capsys.readouterr().err == expected
        assert layout.study_file.read_bytes() == record and layout.stages_log.read_bytes() == log


def test_a_run_that_made_nothing_keeps_the_record(run_copy: tuple[Path, Path]) -> None:
    """report.n_boot is read only when the tables are written, which they are not (complete): study.yaml goes on
    saying what the tables were made with."""
    study, run = run_copy
    layout = RunLayout(run)
    record = layout.study_file.read_bytes()
    assert _study_run(study, run, "report.n_boot=60") == 0
    assert {r["action"] for r in list(read_jsonl(layout.stages_log))[-11:]} == {"skipped"}
    assert layout.study_file.read_bytes() == record


def test_the_record_is_rewritten_once_the_stages_it_describes_have_run(run_copy: tuple[Path, Path]) -> None:
    study, run = run_copy
    layout = RunLayout(run)
    layout.tables_done.unlink()  # the tables are made again, now with report.n_boot 60
    assert _study_run(study, run, "report.n_boot=60") == 0
    resolved = yaml.safe_load(layout.study_file.read_text(encoding="utf-8"))
    assert resolved["report"]["n_boot"] == 60
    assert resolved["evaluate"]["metrics"] == ["mel_distance", "si_snr"]
