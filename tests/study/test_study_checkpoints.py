"""Studies whose codecs are given (``checkpoints:``), e.g. the paper's released ESPnet codecs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from helpers.espnet import espnet_state, small_model, write_exp
from helpers.studysetup import tiny_study, write_study

from codecstudy.cli import main
from codecstudy.errors import ConfigError
from codecstudy.study.runner import StudyRunner
from codecstudy.study.spec import load_study

REPO = Path(__file__).resolve().parents[2]
PAPER_RELEASED = REPO / "configs/studies/paper-released.yaml"


def test_paper_released_names_every_missing_dataset_folder_and_checkpoint() -> None:
    spec = load_study(PAPER_RELEASED)
    runs = spec.codec_runs()
    assert [(r.name, r.pretrained) for r in runs] == [
        ("english-soundstream", True), ("multilingual-soundstream", True), ("multilingual_audio-soundstream", True)]
    assert runs[0].source == "espnet:/models/mls-english_soundstream_16k"
    with pytest.raises(ConfigError) as info:
        StudyRunner(spec, Path("/nonexistent/run")).dry_run()
    message = str(info.value)
    assert "\n" not in message
    for missing in ("corpus.sources[0] (ljspeech): ljspeech: root folder not found: /data/LJSpeech-1.1",
                    "corpus.sources[1] (css10): css10: root folder not found: /data/css10",
                    "corpus.sources[2] (audioset): audioset: root folder not found: /data/audioset",
                    "checkpoints.english: /models/mls-english_soundstream_16k: ESPnet model not found",
                    "checkpoints.multilingual: /models/mls-multi_soundstream_16k: ESPnet model not found",
                    "checkpoints.multilingual_audio: /models/mls-audioset_soundstream_16k: ESPnet model not found"):
        assert missing in message


def test_paper_released_dry_run_with_everything_in_place(tmp_path: Path, capsys) -> None:
    for name in ("LJSpeech-1.1", "css10", "audioset"):
        (tmp_path / name).mkdir()
    model = small_model()
    sets = []
    for index, (condition, folder) in enumerate((("english", "en"), ("multilingual", "multi"),
                                                 ("multilingual_audio", "audio"))):
        write_exp(tmp_path / folder / "exp" / f"codec_{folder}", espnet_state(model))
        sets += [f"checkpoints.{condition}=espnet:{tmp_path / folder}"]
    sets += [f"corpus.sources.{i}.root={tmp_path / n}" for i, n in enumerate(("LJSpeech-1.1", "css10", "audioset"))]
    args = ["study", "run", str(PAPER_RELEASED), "--out", str(tmp_path / "run"), "--dry-run"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    out = capsys.readouterr().out
    assert f"checkpoint for english: ESPnet model {tmp_path / 'en/exp/codec_en/10epoch.pth'}" in out
    assert "run    import english-soundstream" in out and "train" not in out
    assert not (tmp_path / "run").exists()


def test_checkpoints_must_name_conditions(tmp_path: Path) -> None:
    study = tiny_study(tmp_path, tmp_path / "synth", checkpoints={"french": "x.pt"})
    with pytest.raises(ConfigError, match=r"checkpoints\.french: no such condition"):
        load_study(write_study(tmp_path / "s.yaml", study))
    study = tiny_study(tmp_path, tmp_path / "synth", checkpoints={"english": "x.pt"},
                       architectures=["soundstream", "encodec"])
    with pytest.raises(ConfigError, match="one architecture"):
        load_study(write_study(tmp_path / "s.yaml", study))


@pytest.mark.slow
def test_study_with_given_codecs_imports_evaluates_and_reports(tmp_path: Path) -> None:
    """Both conditions' codecs are ESPnet checkpoints: nothing is trained, everything else runs as usual."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    models = {"english": small_model(1), "multilingual_audio": small_model(2)}
    sources = {c: f"espnet:{write_exp(tmp_path / 'models' / f'codec_{c}', espnet_state(m))}"
               for c, m in models.items()}
    study = tiny_study(tmp_path, tmp_path / "synth", checkpoints=sources)
    study["evaluate"]["n_q"] = [1, 4]
    spec = load_study(write_study(tmp_path / "study.yaml", study))
    runner = StudyRunner(spec, tmp_path / "run", progress=False, echo=lambda _: None)
    records = runner.run()
    stages = {(r.stage, r.item): r.action for r in records}
    assert stages[("import", "english-soundstream")] == "ran"
    assert not any(stage == "train" for stage, _ in stages)
    for condition, model in models.items():
        payload = torch.load(runner.layout.codec_file(f"{condition}-soundstream"), weights_only=True)
        assert payload["identity"] == model.identity_hash()
        for eval_set in spec.eval_set_names:
            for n_q in (1, 4):
                assert (runner.layout.eval_dir(f"{condition}-soundstream", eval_set) / str(n_q) / "results.jsonl"
                        ).stat().st_size > 0
    assert not (runner.layout.corpus / "conditions" / "english.jsonl").exists()  # no training clips drawn
    assert (runner.layout.tables / "summary.csv").is_file() and runner.layout.report_file.is_file()
    again = StudyRunner(spec, tmp_path / "run", progress=False, echo=lambda _: None).run()
    assert {r.action for r in again} == {"skipped"}
