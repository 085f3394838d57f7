"""A stop request (a cluster's USR2 before preemption or the time limit) ends training after the current step with
a checkpoint there; the resumed run ends with the weights of an uninterrupted one."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from helpers.trainsetup import TINY, write_corpus

from codecstudy.codec.presets import resolve_codec_config
from codecstudy.train import checkpoint as ckpt
from codecstudy.train import interrupt
from codecstudy.train.trainer import Trainer, train

SCHEDULE = [*TINY, "train.steps=12", "train.checkpoint_interval=5", "train.valid_interval=100",
            "train.log_interval=4"]


def test_usr2_stops_after_the_step_with_a_checkpoint_and_the_resume_matches(tmp_path, monkeypatch) -> None:
    data = write_corpus(tmp_path / "train", clips=4)
    config = resolve_codec_config("soundstream-tiny", SCHEDULE)
    reference = train(config, data, tmp_path / "ref", show_progress=False)

    step_of = Trainer.train_step

    def signalled_at_seven(self, wave, index):  # the signal arrives during step 7 (between two checkpoints)
        if index == 6:
            os.kill(os.getpid(), signal.SIGUSR2)
        return step_of(self, wave, index)

    previous = signal.getsignal(signal.SIGUSR2)
    interrupt.stop_on_signal(signal.SIGUSR2)
    monkeypatch.setattr(Trainer, "train_step", signalled_at_seven)
    try:
        with pytest.raises(interrupt.TrainingInterrupted) as stopped:
            train(config, data, tmp_path / "run", show_progress=False)
    finally:
        signal.signal(signal.SIGUSR2, previous)
        interrupt.clear()
    assert stopped.value.step == 7
    assert [s for s, _ in ckpt.step_checkpoints(tmp_path / "run" / "checkpoints")][-1] == 7
    assert not (tmp_path / "run" / "codec.pt").exists()

    monkeypatch.setattr(Trainer, "train_step", step_of)
    resumed = train(config, data, tmp_path / "run", show_progress=False)
    assert resumed.resumed_from == 7 and resumed.step == 12
    ours = torch.load(resumed.codec_path, map_location="cpu", weights_only=True)
    alone = torch.load(reference.codec_path, map_location="cpu", weights_only=True)
    assert all(torch.equal(ours["state_dict"][k], alone["state_dict"][k]) for k in alone["state_dict"])
