"""Training noise in the tables: the probe's floor greys differences below it; several seeds give run-level
intervals and marks that need both runs and clips."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from helpers.studysetup import tiny_study, write_study

from codecstudy.errors import ConfigError
from codecstudy.study.noise import apply_noise_floor, condition_pairs, condition_rows, noise_floors
from codecstudy.study.spec import load_study
from codecstudy.study.tables import PaperCell


def _cell(condition: str, mean: float, best: bool = False, worst: bool = False) -> PaperCell:
    return PaperCell("stoi", "higher", "en", condition, 10, mean, mean - 0.01, mean + 0.01, best, worst, best)


def _record(codec: str, clip: str, value: float, group: str = "en") -> dict:
    return {"condition": codec, "set": group, "n_q": 8, "clip": clip, "metrics": {"stoi": value}}


def test_a_best_or_worst_margin_below_the_floor_is_within_training_noise() -> None:
    cells = [_cell("a", 0.80, best=True), _cell("b", 0.79), _cell("c", 0.70, worst=True)]
    out = {c.condition: c for c in apply_noise_floor(cells, {("en", "8", "stoi"): 0.02}, 8)}
    assert not out["a"].best and not out["a"].significant and out["a"].within_noise  # 0.01 < 0.02
    assert out["c"].worst and not out["c"].within_noise  # 0.09 above the floor
    unchanged = apply_noise_floor(cells, {}, 8)
    assert unchanged == cells


def test_the_floor_is_the_probe_runs_difference_on_the_same_clips() -> None:
    records = [_record("english", c, v) for c, v in (("x", 0.8), ("y", 0.6))]
    records += [_record("english-probe", c, v) for c, v in (("x", 0.7), ("y", 0.6), ("z", 0.1))]
    floors = noise_floors(records, {"english-probe": "english"}, ["stoi"])
    assert floors == {("en", "8", "stoi"): pytest.approx(0.05)}  # clip z was not scored in the original run


def test_several_seeds_give_run_level_intervals_and_marks_that_need_runs_and_clips() -> None:
    clips = [f"c{i}" for i in range(12)]
    records = []
    for codec, offset in (("a-s0", 0.00), ("a-s1", 0.02), ("b-s0", 0.30), ("b-s1", 0.33)):
        records += [_record(codec, c, offset + 0.01 * i) for i, c in enumerate(clips)]
    condition_of = {"a-s0": "a", "a-s1": "a", "b-s0": "b", "b-s1": "b"}
    rows = {r["condition"]: r for r in condition_rows(records, condition_of, ["stoi"], {"stoi": "higher"})}
    assert rows["a"]["runs"] == 2 and rows["a"]["mean"] == pytest.approx(0.01 + 0.055)
    assert rows["a"]["ci_low"] < rows["a"]["mean"] < rows["a"]["ci_high"]
    (pair,) = condition_pairs(records, condition_of, ["stoi"], {"stoi": "higher"})
    assert pair["better"] == "b" and pair["mean_diff"] == pytest.approx(-0.305)
    assert pair["p_clips"] < 0.05 and not math.isnan(pair["p_runs"])
    assert pair["significant"] == (pair["p_runs_holm"] < 0.05)


def test_the_probe_is_a_single_seed_studys_and_names_a_trained_condition(tmp_path: Path) -> None:
    study = tiny_study(tmp_path, tmp_path / "synth")
    study["train"] = {"noise_probe": ["english"]}
    spec = load_study(write_study(tmp_path / "probe.yaml", study))
    probes = [r for r in spec.codec_runs() if r.probe]
    assert [(r.name, r.seed) for r in probes] == [("english-soundstream-probe", 1)]
    assert "seed=1" in probes[0].overrides and all(not r.probe for r in spec.compared_runs())
    study["train"] = {"noise_probe": ["klingon"]}
    with pytest.raises(ConfigError, match=r"train\.noise_probe\[0\]: 'klingon' is not a trained condition"):
        load_study(write_study(tmp_path / "bad.yaml", study))
    study["train"] = {"noise_probe": ["english"], "seeds": [0, 1]}
    with pytest.raises(ConfigError, match="a probe is for single-seed studies"):
        load_study(write_study(tmp_path / "seeds.yaml", study))


@pytest.mark.slow
def test_a_study_with_a_probe_writes_its_floor_and_says_so(tmp_path: Path) -> None:
    from codecstudy.study.runner import StudyRunner

    study = tiny_study(tmp_path, tmp_path / "synth")
    study["train"] = {"noise_probe": ["english"]}
    spec = load_study(write_study(tmp_path / "probe.yaml", study))
    StudyRunner(spec, tmp_path / "run", progress=False, echo=lambda _: None).run()
    tables = tmp_path / "run" / "tables"
    with (tables / "noise_floor.csv").open(encoding="utf-8", newline="") as handle:
        floors = list(csv.DictReader(handle))
    assert floors and all(float(r["floor"]) >= 0 and r["probed"] == "english-soundstream" for r in floors)
    assert "within training noise" in (tables / "paper.md").read_text(encoding="utf-8")
    paper = (tables / "paper.csv").read_text(encoding="utf-8")
    assert "english-soundstream-probe" not in paper  # the probe measures noise; it is not a compared codec
