"""Two CPU processes on gloo (torchrun): one checkpoint writer, and both processes end with identical weights."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers.trainsetup import TINY, cli_env, write_corpus

from codecstudy.codec.catalog import load_codec
from codecstudy.train import checkpoint as ckpt


def test_torchrun_two_processes_keep_identical_weights(tmp_path):
    data = write_corpus(tmp_path / "train", clips=4)
    valid = write_corpus(tmp_path / "valid", clips=2, split="valid")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "codecstudy", "train", "--config", "soundstream-tiny", "--data", str(data), "--valid", str(valid),
           "--out", str(out), "--quiet"]
    schedule = ["train.steps=6", "train.batch_size=4", "train.checkpoint_interval=3", "train.valid_interval=3",
                "train.log_interval=3", "train.discriminator_start=2"]
    for item in [*TINY, *schedule]:
        cmd += ["--set", item]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(), timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2
    hashes = summary["rank_weight_hashes"]
    assert len(hashes) == 2 and hashes[0] == hashes[1]  # rank 1's weights (codebooks included) equal rank 0's

    assert [s for s, _ in ckpt.step_checkpoints(out / "checkpoints")] == [3, 6]
    payload = ckpt.load_checkpoint(out / "checkpoints" / ckpt.step_name(6))
    assert payload["world_size"] == 2 and len(payload["rng_per_rank"]) == 2
    assert payload["sampler"]["global_batch"] == 4
    model = load_codec(out / "codec.pt")
    assert model.identity_hash() == payload["codec"]["identity"]
    # only rank 0 writes logs: one start line, one line per interval
    log = (out / "train.log").read_text()
    assert log.count("on 2 process(es)") == 1
    assert log.count("step 6/6 train") == 1
