"""One tiny study run shared by the runner and report tests (about 20 s on 2 cores); tests work on copies."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers.studysetup import tiny_study, write_study


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    """(study YAML, run folder, stage records of the first run)."""
    from codecstudy.study.runner import StudyRunner
    from codecstudy.study.spec import load_study

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    root = tmp_path_factory.mktemp("study")
    study = write_study(root / "tiny.yaml", tiny_study(root, root / "synth"))
    runner = StudyRunner(load_study(study), root / "run", progress=False, echo=lambda _: None)
    records = runner.run()
    return study, root / "run", records


@pytest.fixture
def run_copy(tiny_run: tuple[Path, Path, list], tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the finished run (mtimes kept), so a test may delete or damage parts of it."""
    study, run, _ = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return study, copy
