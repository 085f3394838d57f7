"""benchmarks/train_budget.py: the budget, not train.steps, ends a run, and the run ends like a finished one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers.trainsetup import TINY, write_corpus

from codecstudy.codec.presets import resolve_codec_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def budget_module():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import train_budget

        yield train_budget
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_budget_trainer_stops_when_the_budget_is_spent(tmp_path: Path, budget_module) -> None:
    data = write_corpus(tmp_path / "corpus", clips=3)
    config = resolve_codec_config("soundstream-tiny", [*TINY, "train.steps=100000", "train.valid_interval=100000",
                                                       "train.checkpoint_interval=100000"])
    trainer = budget_module.BudgetTrainer(config, data, tmp_path / "run", show_progress=False, budget=1.0, cpu=False)
    result = trainer.run()
    assert 0 < result.step == trainer.steps_done < 100000
    assert trainer.spent >= 1.0 and result.codec_path.is_file()


def test_try_option_parses_names_and_overrides(budget_module) -> None:
    assert budget_module.parse_try("base=") == ("base", [])
    assert budget_module.parse_try("wide=seanet.channels=12,train.batch_size=8") == (
        "wide", ["seanet.channels=12", "train.batch_size=8"])
    with pytest.raises(Exception, match="NAME=KEY=VALUE"):
        budget_module.parse_try("nothing")
