"""Non-finite losses: the step is skipped (no update, codebooks restored), counted, and too many stop the run."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.trainsetup import TINY, write_corpus

from codecstudy.codec.catalog import load_codec
from codecstudy.codec.losses import GeneratorLoss
from codecstudy.codec.presets import resolve_codec_config
from codecstudy.errors import CodecStudyError
from codecstudy.train.trainer import train


def _poison(monkeypatch, bad_calls: set[int]) -> dict[str, int]:
    """Make GeneratorLoss return NaN on the given (0-based) calls."""
    original = GeneratorLoss.forward
    calls = {"n": 0}

    def forward(self, *args, **kwargs):
        total, terms = original(self, *args, **kwargs)
        index = calls["n"]
        calls["n"] += 1
        if index in bad_calls:
            total = total * float("nan")
            terms = {**terms, "total": float("nan")}
        return total, terms

    monkeypatch.setattr(GeneratorLoss, "forward", forward)
    return calls


def _config(*extra: str):
    return resolve_codec_config("soundstream-tiny", [*TINY, "train.log_interval=2", "train.checkpoint_interval=3",
                                                     "train.valid_interval=1000", *extra])


def test_nan_steps_are_skipped_without_changing_anything(tmp_path, monkeypatch):
    data = write_corpus(tmp_path / "corpus")
    # the codebooks are k-means-initialised in step 1; a NaN in step 2 must leave them as step 1 left them
    calls = _poison(monkeypatch, {1, 3})
    snapshots = {}
    from codecstudy.train import trainer as trainer_module

    original_step = trainer_module.Trainer.train_step

    def spy(self, wave, index):
        before = {k: v.clone() for k, v in self.gan.model.state_dict().items()}
        terms, skipped = original_step(self, wave, index)
        if skipped:
            after = self.gan.model.state_dict()
            snapshots[index] = all(torch.equal(before[k], after[k]) for k in before)
        return terms, skipped

    monkeypatch.setattr(trainer_module.Trainer, "train_step", spy)
    result = train(_config("train.steps=6", "train.nan_guard_max_skips=2"), data, tmp_path / "run",
                   show_progress=False)
    assert calls["n"] == 6
    assert result.skipped_steps == 2 and result.step == 6
    assert snapshots == {1: True, 3: True}  # weights and EMA codebooks untouched by the skipped steps
    log = (tmp_path / "run" / "train.log").read_text()
    assert "step 2: non-finite loss or gradient, step skipped (1 so far)" in log
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if r["kind"] == "train"]
    assert train_records[-1]["train/skipped_steps"] == 2
    assert all(v == v for r in train_records for k, v in r.items() if k.startswith("train/generator"))  # no NaN
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["skipped_steps"] == 2
    model = load_codec(tmp_path / "run" / "codec.pt")
    assert all(torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point())


def test_too_many_nan_steps_stop_with_a_clear_message(tmp_path, monkeypatch):
    data = write_corpus(tmp_path / "corpus")
    _poison(monkeypatch, set(range(3, 100)))
    with pytest.raises(CodecStudyError) as err:
        train(_config("train.steps=20", "train.nan_guard_max_skips=2"), data, tmp_path / "run", show_progress=False)
    message = str(err.value)
    assert message.startswith("training stopped at step 6: 3 steps had a non-finite loss or gradient")
    assert "train.nan_guard_max_skips=2" in message
    assert "step-00000003.pt" in message  # where to resume from
    assert "\n" not in message


def test_nan_stop_through_the_cli_is_one_line(tmp_path, monkeypatch, capsys):
    from codecstudy.cli import main

    data = write_corpus(tmp_path / "corpus")
    _poison(monkeypatch, set(range(100)))
    args = ["train", "--config", "soundstream-tiny", "--data", str(data), "--out", str(tmp_path / "run"), "--quiet"]
    for item in [*TINY, "train.steps=5", "train.nan_guard_max_skips=0"]:
        args += ["--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("codecstudy: error: training stopped at step 1: 1 steps had a non-finite")
