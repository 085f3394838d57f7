"""A training launched as two gloo processes (torchrun, as a Slurm job on two GPUs runs it): ranks over clips of very
different lengths never wait on each other, and a stop request passed on by the watching process checkpoints every
rank after the same step; the resumed run ends with the uninterrupted run's weights."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.trainsetup import TINY, clip_record

from codecstudy.train import checkpoint as ckpt
from codecstudy.train import interrupt
from codecstudy.train.launch import STOP_NAME, run_launched, train_command

TORCHRUN = f"{sys.executable} -m torch.distributed.run --standalone --nnodes=1 --nproc_per_node=2"
# batch 4 = 2 crops per rank; 9 steps, a checkpoint every 4 and at the end
SCHEDULE = [*TINY, "train.batch_size=4", "train.steps=9", "train.checkpoint_interval=4", "train.valid_interval=9",
            "train.log_interval=3", "train.discriminator_start=3"]
# five clips (an odd number) from 0.3 s to 4 s: split by clip, the ranks would get unequal numbers of batches
DURATIONS = (0.3, 0.6, 1.0, 2.5, 4.0)


@pytest.fixture(autouse=True)
def _no_leftover_request():
    interrupt.clear()
    yield
    interrupt.clear()


def _clips(folder: Path, durations: tuple[float, ...], split: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(durations))
    records = []
    for i, seconds in enumerate(durations):
        t = np.arange(int(seconds * 16000)) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (110 + 30 * i) * t) + 0.02 * rng.standard_normal(t.size)
        path = folder / f"{split}-{i}.wav"
        sf.write(str(path), wave.astype(np.float32), 16000)
        records.append(clip_record(path, f"{split}/{i}", 16000, 0.0, seconds, split=split))
    manifest = folder / f"{split}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return manifest


def _command(tmp_path: Path, out: Path) -> list[str]:
    data = _clips(tmp_path / "train", DURATIONS, "train")
    valid = _clips(tmp_path / "valid", (0.5, 1.5, 3.0), "valid")  # three: one rank would get two, the other one
    return train_command(TORCHRUN, "soundstream-tiny", SCHEDULE, data, out, valid=valid)


def test_two_ranks_on_clips_of_unequal_length_finish_together_and_resume_after_a_stop(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    reference = run_launched(_command(tmp_path, tmp_path / "ref"), tmp_path / "ref")
    assert (reference.step, reference.world_size) == (9, 2)
    summary = json.loads((tmp_path / "ref" / "summary.json").read_text())
    assert len(set(summary["rank_weight_hashes"])) == 1  # both ranks trained the same 9 steps

    out = tmp_path / "run"
    interrupt.request_stop()  # as Slurm's USR2 to the job would: passed on to the ranks as a file
    with pytest.raises(interrupt.TrainingInterrupted) as stopped:
        run_launched(_command(tmp_path, out), out)
    first_stop = stopped.value.step
    assert 1 <= first_stop < 9
    assert [s for s, _ in ckpt.step_checkpoints(out / "checkpoints")][-1] == first_stop
    assert not (out / STOP_NAME).exists() and not (out / "codec.pt").exists()

    interrupt.clear()
    resumed = run_launched(_command(tmp_path, out), out)
    assert resumed.step == 9
    ours = json.loads((out / "summary.json").read_text())
    assert ours["resumed_from"] == first_stop and ours["world_size"] == 2
    assert ours["rank_weight_hashes"] == summary["rank_weight_hashes"]  # the uninterrupted run's weights
    log = (out / "train.log").read_text()
    assert log.count(f"resumed from {out / 'checkpoints' / ckpt.step_name(first_stop)}") == 1


def test_a_failing_launch_is_one_line_naming_the_training(tmp_path) -> None:
    command = [sys.executable, "-c", "raise SystemExit(5)"]
    with pytest.raises(Exception, match=r"training .*run: .* failed \(exit status 5\)"):
        run_launched(command, tmp_path / "run")
    assert not (tmp_path / "run" / STOP_NAME).exists()
