"""What the dry run catches before any long stage: devices, conditions and sets against the built corpus, and a
plan drawn from the study as it is now."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from codecstudy.errors import ConfigError
from codecstudy.study.runner import StudyRunner
from codecstudy.study.spec import load_study


def _changed(study: Path, tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(study.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a GPU")
def test_a_gpu_asked_for_where_there_is_none_fails_the_dry_run(run_copy: tuple[Path, Path], tmp_path: Path) -> None:
    study, run = run_copy
    changed = _changed(study, tmp_path, lambda d: d["evaluate"].update(device="cuda"))
    with pytest.raises(ConfigError, match=r"changed\.yaml: evaluate\.device: device 'cuda': no CUDA GPU"):
        StudyRunner(load_study(changed), run, progress=False, echo=lambda _: None).dry_run()


def test_a_condition_and_a_set_that_select_nothing_are_named_with_the_manifest(
    run_copy: tuple[Path, Path], tmp_path: Path
) -> None:
    study, run = run_copy

    def change(data: dict) -> None:
        data["conditions"].append({"name": "klingon", "languages": ["tlh"], "domains": ["speech"]})
        data["eval_sets"].append({"name": "vulcan", "languages": ["vul"], "domains": ["speech"]})

    runner = StudyRunner(load_study(_changed(study, tmp_path, change)), run, progress=False, echo=lambda _: None)
    with pytest.raises(ConfigError) as caught:
        runner.dry_run()
    text = str(caught.value)
    assert "conditions[2] (klingon): matches no clips of the train split of" in text
    assert "eval_sets[3] (vulcan): matches no clips of" in text and str(run / "corpus" / "manifest.jsonl") in text
    assert "\n" not in text


def test_the_plan_shows_the_clips_the_study_asks_for_when_the_sets_are_rebuilt(
    run_copy: tuple[Path, Path], tmp_path: Path
) -> None:
    study, run = run_copy
    changed = _changed(study, tmp_path, lambda d: d["evaluate"].update(max_clips=2))
    text = StudyRunner(load_study(changed), run, progress=False, echo=lambda _: None).dry_run()
    assert "run    conditions" in text or "resume conditions" in text
    assert "eval set to be built: at most 2 clips x 2 n_q" in text
    assert "0/6 clip x n_q" not in text  # the old sets (3 clips x 2 n_q) are not what will be scored
