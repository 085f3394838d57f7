"""benchmarks/gpu_check.py on a machine without CUDA: one line, exit status 0 (what `make gpu-check` does here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is visible: the check would run for real")
def test_without_a_gpu_it_says_so_in_one_line_and_exits_0() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py")], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu-check: no CUDA GPU visible")


def test_generated_corpus_is_a_trainer_manifest(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from gpu_check import write_corpus
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    from codecstudy.corpus.manifest import load_manifest

    clips = load_manifest(write_corpus(tmp_path, clips=3, seconds=0.5))
    assert [c.id for c in clips] == ["gpu/0", "gpu/1", "gpu/2"] and all(Path(c.path).is_file() for c in clips)


def test_generated_pairs_match_by_name_and_sit_at_20_db_snr(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from gpu_check import write_pairs
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    ref_dir, dec_dir = write_pairs(tmp_path, clips=3, seconds=0.5)
    names = sorted(p.name for p in ref_dir.glob("*.wav"))
    assert names == sorted(p.name for p in dec_dir.glob("*.wav")) == ["000.wav", "001.wav", "002.wav"]
    for name in names:
        ref, _ = sf.read(str(ref_dir / name))
        dec, _ = sf.read(str(dec_dir / name))
        snr = 10 * np.log10(np.sum(ref**2) / np.sum((dec - ref) ** 2))
        assert abs(snr - 20.0) < 0.5
