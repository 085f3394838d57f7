"""Atomic checkpoint writes, pruning, RNG capture; a failed write keeps the previous checkpoint."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from codecstudy.errors import CodecStudyError
from codecstudy.train import checkpoint as ckpt


def _payload(step: int) -> dict:
    return {"format": ckpt.FORMAT, "format_version": ckpt.FORMAT_VERSION, "step": step,
            "weights": torch.full((4,), float(step))}


def test_atomic_save_round_trip_and_no_temporaries(tmp_path):
    path = ckpt.atomic_save(_payload(3), tmp_path / ckpt.step_name(3))
    assert path.name == "step-00000003.pt"
    assert ckpt.load_checkpoint(path)["step"] == 3
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("failing", ["os.replace", "torch.save"])
def test_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch, failing):
    target = tmp_path / "step-00000001.pt"
    ckpt.atomic_save(_payload(1), target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if failing == "os.replace":
        monkeypatch.setattr(ckpt.os, "replace", boom)
    else:
        monkeypatch.setattr(ckpt.torch, "save", boom)
    with pytest.raises(CodecStudyError) as err:
        ckpt.atomic_save(_payload(2), target)  # overwriting the same name: the worst case
    assert "No space left on device" in str(err.value) and "intact" in str(err.value)
    assert target.read_bytes() == before
    assert ckpt.load_checkpoint(target)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # the temporary file is gone


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    ckpt.atomic_save(_payload(1), folder / "step-00000001.pt")
    folder.chmod(0o500)
    try:
        with pytest.raises(CodecStudyError, match="cannot write checkpoint"):
            ckpt.atomic_save(_payload(2), folder / "step-00000002.pt")
    finally:
        folder.chmod(0o700)
    assert ckpt.load_checkpoint(folder / "step-00000001.pt")["step"] == 1


def test_prune_keeps_the_newest_and_best(tmp_path):
    for step in (5, 10, 15, 20):
        ckpt.atomic_save(_payload(step), tmp_path / ckpt.step_name(step))
    ckpt.atomic_save(_payload(10), tmp_path / ckpt.BEST_NAME)
    ckpt.prune(tmp_path, keep_last=2)
    assert [s for s, _ in ckpt.step_checkpoints(tmp_path)] == [15, 20]
    assert (tmp_path / ckpt.BEST_NAME).is_file()


def test_latest_skips_an_unreadable_checkpoint(tmp_path, capsys):
    ckpt.atomic_save(_payload(5), tmp_path / ckpt.step_name(5))
    (tmp_path / ckpt.step_name(9)).write_bytes(b"not a zip")
    path, payload = ckpt.latest_checkpoint(tmp_path)
    assert payload["step"] == 5
    assert "not a codecstudy training checkpoint (torch cannot read it" in capsys.readouterr().out


def test_foreign_file_is_refused(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "x.pt")
    with pytest.raises(CodecStudyError, match="not a codecstudy training checkpoint"):
        ckpt.load_checkpoint(tmp_path / "x.pt")


def test_rng_capture_restores_every_generator_through_a_weights_only_file(tmp_path):
    ckpt.seed_everything(11)
    state = ckpt.capture_rng()
    ckpt.atomic_save({"format": ckpt.FORMAT, "rng": state}, tmp_path / "r.pt")
    expected = (random.random(), np.random.rand(), torch.rand(3))
    random.random(), np.random.rand(), torch.rand(3)  # move every generator on
    ckpt.restore_rng(ckpt.load_checkpoint(tmp_path / "r.pt")["rng"])
    again = (random.random(), np.random.rand(), torch.rand(3))
    assert again[0] == expected[0] and again[1] == expected[1] and torch.equal(again[2], expected[2])
