"""A run killed with SIGKILL after a checkpoint, then resumed, ends with the weights of an uninterrupted run."""

from __future__ import annotations

import signal
import subprocess
import time

import torch
from helpers.trainsetup import cli_env, run_train_cli, train_command, write_corpus

from codecstudy.train import checkpoint as ckpt

SCHEDULE = (
    "train.steps=40",
    "train.checkpoint_interval=5",
    "train.valid_interval=10",
    "train.log_interval=5",
    "train.discriminator_start=8",  # the GAN (and the discriminator's optimizer) is active after the kill
    "train.keep_last=2",
    "train.generator.decay_every=1",
    "train.generator.gamma=0.99",
)


def _assert_same_tensors(a, b, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    data = write_corpus(tmp_path / "train", clips=4)
    valid = write_corpus(tmp_path / "valid", clips=2, split="valid")

    reference = run_train_cli(data, tmp_path / "ref", *SCHEDULE, valid=valid)
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "killed"
    proc = subprocess.Popen(train_command(data, out, *SCHEDULE, valid=valid), env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not ckpt.step_checkpoints(out / "checkpoints"):
            assert proc.poll() is None, "the run ended before writing a checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "codec.pt").exists(), "the run finished before it was killed"
    killed_at = ckpt.step_checkpoints(out / "checkpoints")[-1][0]
    assert killed_at < 40

    resumed = run_train_cli(data, out, *SCHEDULE, valid=valid)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from step" in resumed.stdout

    final_ref = ckpt.load_checkpoint(tmp_path / "ref" / "checkpoints" / ckpt.step_name(40))
    final = ckpt.load_checkpoint(out / "checkpoints" / ckpt.step_name(40))
    _assert_same_tensors(final_ref["codec"]["state_dict"], final["codec"]["state_dict"], "codec")
    _assert_same_tensors(final_ref["discriminator"], final["discriminator"], "discriminator")
    _assert_same_tensors(final_ref["optimizers"], final["optimizers"], "optimizers")
    _assert_same_tensors(final_ref["rng"]["torch"], final["rng"]["torch"], "rng")
    assert final_ref["best"] == final["best"]
    assert final_ref["codec"]["identity"] == final["codec"]["identity"]
    # the resumed run logged a resume event and its metrics continue after the checkpoint
    from codecstudy.train.logging import read_metrics

    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl", "train")]
    assert steps == list(range(5, 41, 5))
