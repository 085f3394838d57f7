"""The study file: defaults, the new sections, and one-line errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.studysetup import tiny_study, write_study

from codecstudy.errors import ConfigError
from codecstudy.study.spec import PAPER_CONDITIONS, load_study

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, **changes) -> Path:
    return write_study(tmp_path / "s.yaml", tiny_study(tmp_path, tmp_path / "synth", **changes))


def test_defaults_are_the_papers_three_conditions_with_soundstream(tmp_path: Path) -> None:
    path = write_study(tmp_path / "s.yaml", {"corpus": {"sources": [{"kind": "embedded"}]}})
    spec = load_study(path)
    assert spec.condition_names == ["english", "multilingual", "multilingual_audio"]
    assert spec.conditions.match_volume is True
    assert [c.domains for c in spec.conditions.conditions] == [c["domains"] for c in PAPER_CONDITIONS]
    assert spec.architectures == ["soundstream"]
    assert spec.evaluate.n_q == [1, 2, 4, 8]
    assert [r.name for r in spec.codec_runs()] == [
        "english-soundstream", "multilingual-soundstream", "multilingual_audio-soundstream"]
    assert spec.codec_runs()[0].source == "soundstream-tiny" and spec.codec_runs()[0].overrides == ()


def test_seeds_architectures_and_only(tmp_path: Path) -> None:
    spec = load_study(_write(tmp_path, architectures=["soundstream", "encodec"], train={"seeds": [3, 4]}))
    runs = spec.codec_runs(only=["english"])
    assert [r.name for r in runs] == [
        "english-soundstream-s3", "english-soundstream-s4", "english-encodec-s3", "english-encodec-s4"]
    assert runs[3].source == "encodec-tiny"
    assert runs[3].overrides[-2:] == ("seed=4", "train.seed=4")


def test_max_clips_becomes_each_eval_sets_default(tmp_path: Path) -> None:
    study = tiny_study(tmp_path, tmp_path / "synth")
    study["eval_sets"][1]["max_clips"] = 7
    spec = load_study(write_study(tmp_path / "s.yaml", study))
    assert [s.max_clips for s in spec.conditions.eval_sets] == [3, 7, 3]
    assert spec.eval_set_names == ["en", "other_languages", "music"]


def test_codec_yaml_path_is_relative_to_the_study(tmp_path: Path) -> None:
    (tmp_path / "my.yaml").write_text("architecture: soundstream\n")
    spec = load_study(_write(tmp_path, codec={"preset": "my.yaml"}))
    assert spec.codec_source("soundstream") == str(tmp_path / "my.yaml")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"evaluate": {"n_q": [0, 2]}}, "evaluate.n_q: numbers of codebooks must be >= 1"),
        ({"evaluate": {"metric": ["si_snr"]}}, "evaluate.metric: unknown key"),
        ({"evaluate": {"sets": ["en", "fr"]}}, "evaluate.sets[1]: no eval set named 'fr'"),
        ({"train": {"seeds": [1, 1]}}, "train.seeds: seeds must be unique"),
        ({"codec": {"overrides": ["train.steps"]}}, "codec.overrides: expected key=value"),
        ({"architectures": ["wavenet"]}, "architectures[0]: must be one of"),
        ({"report": {"alpha": 2}}, "report.alpha: Input should be less than 1"),
        ({"evaluate": {"validity": {"visqol_audio": {"n_q": [16]}}}},
         "evaluate.validity: visqol_audio.n_q: [16] not among evaluate.n_q"),
        ({"evaluate": {"validity": {"pesq": {"domains": ["noise"]}}}},
         "evaluate.validity: pesq.domains: ['noise'] not in"),
        ({"parallel": 0}, "parallel: expected a number of processes >= 1 or auto, got 0"),
        ({"parallel": "many"}, "parallel: expected a number of processes >= 1 or auto, got 'many'"),
        ({"evaluate": {"metrics": ["si_snr", "mel_distance"], "validity": {"spk_sim": {"domains": ["speech"]}}}},
         "evaluate.validity: spk_sim: not a metric this study scores (evaluate.metrics: si_snr, mel_distance)"),
    ],
)
def test_errors_are_one_line_naming_the_key(tmp_path: Path, changes: dict, expected: str) -> None:
    path = _write(tmp_path, **changes)
    with pytest.raises(ConfigError) as info:
        load_study(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message
    if "parallel" in changes or "spk_sim" in expected:  # the whole line: only the key at fault, in our words
        assert message == f"{path}: {expected}"


def test_validity_of_a_metric_in_a_scored_group_is_accepted(tmp_path: Path) -> None:
    evaluate = {"metrics": ["default"], "validity": {"pesq": {"domains": ["speech"]}}}
    spec = load_study(_write(tmp_path, evaluate=evaluate))
    assert spec.evaluate.validity == {"pesq": {"domains": ["speech"]}}
    assert load_study(_write(tmp_path, parallel="auto")).parallel == "auto"


def test_the_shipped_studies_load() -> None:
    demo = load_study(REPO / "configs/studies/demo.yaml")
    assert demo.condition_names == ["english", "multilingual", "multilingual_audio"]
    assert {"en", "unseen_languages", "music", "environment"} <= set(demo.eval_set_names)
    assert [b.codec for b in demo.baseline_runs()] == ["opus:6kbps", "codec2:3200"]
    assert not demo.baselines.count_in_best_worst
    paper = load_study(REPO / "configs/studies/paper.yaml")
    assert paper.codec_runs()[0].source == "soundstream-paper"
    assert {s.kind for s in paper.corpus.sources} == {"mls", "ljspeech", "css10", "audioset"}
