"""The runner's optional ``tts`` stage: trains one TTS per codec, skips it once done, and reports it."""

from __future__ import annotations

import csv
import os

import pytest
import yaml
from helpers.studysetup import tiny_study, write_study

pytest.importorskip("espeakng_loader", reason="the TTS needs espeakng-loader (tts extra)")

# The TTS pipeline test's model size, a handful of steps; ASR only (the WER pipeline has its own test).
TTS_OVERRIDES = [
    "model.dim=32", "model.heads=2", "model.encoder_layers=1", "model.decoder_layers=1", "model.ff_dim=64",
    "model.ff_kernel=3", "model.predictor_dim=32", "model.aligner_dim=32", "model.n_q=2", "train.steps=4",
    "train.warmup=2", "train.log_interval=2", "train.checkpoint_interval=2", "train.batch_frames=400",
]
TTS = {"enabled": True, "overrides": TTS_OVERRIDES, "max_eval_clips": 2, "metrics": ["asr"],
       "systems": ["reference", "codec", "tts"]}


def test_tts_stage_runs_once_and_lands_in_tables_and_report(run_copy, tmp_path):
    from codecstudy.study.layout import RunLayout
    from codecstudy.study.runner import StudyRunner
    from codecstudy.study.spec import load_study
    from codecstudy.study.state import study_state

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    original, run = run_copy
    study = write_study(tmp_path / "tts.yaml", {**yaml.safe_load(original.read_text()), "tts": TTS})
    spec = load_study(study)
    records = StudyRunner(spec, run, progress=False, echo=lambda _: None).run()
    done = {(r.stage, r.item): r.action for r in records}
    # the codecs and their evaluations are reused; each codec gets its TTS; tables and report are redone
    assert {a for (stage, _), a in done.items() if stage in ("train", "evaluate")} == {"skipped"}
    assert [done[("tts", c)] for c in ("english-soundstream", "multilingual_audio-soundstream")] == ["ran", "ran"]
    assert done[("aggregate", "")] != "skipped" and done[("report", "")] != "skipped"  # redone: TTS results are newer

    train_clips = (run / "tts" / "train.jsonl").read_text().splitlines()
    assert train_clips and all('"split": "train"' in line and '"language": "en"' in line for line in train_clips)
    with open(run / "tables" / "tts.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["codec"], r["system"]) for r in rows} == {
        (c, s) for c in ("english-soundstream", "multilingual_audio-soundstream") for s in ("reference", "codec", "tts")
    }
    assert all(0.0 <= float(r["wer"]) for r in rows) and {r["clips"] for r in rows} == {"2"}
    page = (run / "report" / "index.html").read_text()
    assert 'id="tts"' in page and page.count("audio/tts/") >= 2
    assert all(s.status == "complete" for s in study_state(spec, RunLayout(run)) if s.stage == "tts")

    again = StudyRunner(spec, run, progress=False, echo=lambda _: None).run()
    assert {r.action for r in again} == {"skipped"}


def test_tts_eval_set_must_exist(tmp_path):
    from codecstudy.errors import ConfigError
    from codecstudy.study.spec import load_study

    study = write_study(tmp_path / "bad.yaml", tiny_study(tmp_path, tmp_path / "synth",
                                                          tts={"enabled": True, "eval_set": "nope"}))
    with pytest.raises(ConfigError, match=r"tts\.eval_set: no eval set named 'nope'"):
        load_study(study)
