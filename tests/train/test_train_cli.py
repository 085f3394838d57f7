"""`codecstudy train`: the run folder it writes, resuming a finished run, and one-line errors for bad input."""

from __future__ import annotations

import json
import sys

import pytest
from helpers.trainsetup import TINY, clip_record, write_corpus

from codecstudy.cli import main
from codecstudy.codec.catalog import load_codec
from codecstudy.train.logging import read_metrics


def _args(data, out, *extra, valid=None):
    args = ["train", "--config", "soundstream-tiny", "--data", str(data), "--out", str(out), "--quiet"]
    if valid is not None:
        args += ["--valid", str(valid)]
    for item in [*TINY, *extra]:
        args += ["--set", item]
    return args


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_train_writes_the_run_folder_and_a_loadable_codec(tmp_path, capsys):
    data = write_corpus(tmp_path / "train")
    valid = write_corpus(tmp_path / "valid", clips=2, split="valid", domain="speech")
    music = json.loads(valid.read_text().splitlines()[0])
    music.update(id="valid/music", domain="music", language=None)
    with valid.open("a") as handle:
        handle.write(json.dumps(music) + "\n")
    out = tmp_path / "run"
    schedule = ("train.steps=8", "train.log_interval=4", "train.valid_interval=4", "train.checkpoint_interval=4",
                "train.discriminator_start=4", "train.keep_last=1")
    assert main(_args(data, out, *schedule, valid=valid)) == 0
    stdout = capsys.readouterr().out
    assert "trained to step 8" in stdout and "mel_distance" in stdout

    names = sorted(p.name for p in out.iterdir())
    assert names == ["cache", "checkpoints", "codec.pt", "config.yaml", "metrics.jsonl", "summary.json",
                     "tensorboard", "train.log"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["best.pt", "step-00000008.pt"]
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))

    log = (out / "train.log").read_text().splitlines()
    assert sum(" train | " in line for line in log) == 2  # one line per log interval
    assert any("discriminator/total" in line for line in log if "step 8/8 train" in line)
    train_records = read_metrics(out / "metrics.jsonl", "train")
    assert [r["step"] for r in train_records] == [4, 8]
    assert "train/discriminator/total" not in train_records[0]  # the GAN starts at step 4 (0-based)
    valid_records = read_metrics(out / "metrics.jsonl", "valid")
    assert [r["step"] for r in valid_records] == [4, 8]
    last = valid_records[-1]
    for key in ("valid/mel_distance", "valid/si_snr", "valid/speech/mel_distance", "valid/music/mel_distance",
                "valid/usage/perplexity/q0", "valid/usage/perplexity/q1", "valid/speech/usage/used/q1"):
        assert key in last, key

    model = load_codec(out / "codec.pt")
    assert model.n_codebooks == 2 and model.config.train["steps"] == 8
    assert load_codec(out / "checkpoints" / "best.pt").n_codebooks == 2

    # the same command again: nothing left to do
    assert main(_args(data, out, *schedule, valid=valid)) == 0
    assert "trained to step 8" in capsys.readouterr().out
    # more steps: resumes; another model: refused
    assert main(_args(data, out, *schedule[1:], "train.steps=10", valid=valid)) == 0
    assert "resumed from step 8" in capsys.readouterr().out
    assert main(_args(data, out, *schedule, "seanet.channels=8", valid=valid)) == 2
    line = _error_line(capsys)
    assert "holds a run with another config (seanet.channels: 4 in the run, 8 now)" in line


def test_tensorboard_missing_is_a_warning(tmp_path, monkeypatch):
    data = write_corpus(tmp_path / "train")
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.warns(UserWarning, match="tensorboard is not installed"):
        assert main(_args(data, tmp_path / "run", "train.steps=2")) == 0
    assert not (tmp_path / "run" / "tensorboard").exists()
    assert read_metrics(tmp_path / "run" / "metrics.jsonl", "train")


def test_config_errors_name_the_key_and_the_allowed_values(tmp_path, capsys):
    data = write_corpus(tmp_path / "train")
    assert main(_args(data, tmp_path / "run", "train.sampling=random")) == 2
    line = _error_line(capsys)
    assert line.startswith("codecstudy: error: ")
    assert "train.sampling: must be one of 'uniform' or 'balanced'" in line
    assert main(_args(data, tmp_path / "run", "train.generator.betas=[0.5]", "train.stepz=3")) == 2
    line = _error_line(capsys)
    assert "train.generator.betas" in line and "train.stepz: unknown key" in line
    assert main(_args(data, tmp_path / "run", "train.generator.scheduler=cosine")) == 2
    assert "train.generator.scheduler: must be one of 'exponential' or 'constant'" in _error_line(capsys)
    assert main(["train", "--config", "no-such-preset", "--data", str(data), "--out", str(tmp_path / "x")]) == 2
    assert "neither a codec YAML nor a preset" in _error_line(capsys)


def test_empty_and_short_manifests_are_one_line_errors(tmp_path, capsys, write_wav):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(_args(empty, tmp_path / "run1")) == 2
    assert _error_line(capsys) == f"codecstudy: error: {empty}: the training manifest has no clips"

    import numpy as np

    path = write_wav("short.wav", np.zeros(3200, dtype=np.float32) + 0.1)
    short = tmp_path / "short.jsonl"
    short.write_text(json.dumps(clip_record(path, "s/0", 16000, 0.0, 0.2)) + "\n")
    assert main(_args(short, tmp_path / "run2", "train.segment_seconds=0.5")) == 2
    line = _error_line(capsys)
    assert f"{short}: no clip is at least train.segment_seconds=0.5 s long (1 clips, the longest 0.20 s)" in line

    assert main(_args(tmp_path / "missing.jsonl", tmp_path / "run3")) == 2
    assert "manifest not found" in _error_line(capsys)
