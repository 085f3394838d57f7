"""Where the model-based metrics run: the ``device`` setting, its resolution and what reaches the metrics.

The GPU path itself is exercised by ``benchmarks/gpu_check.py`` on a CUDA machine (CPU and GPU scores of the same
random-weight models compared there); here the resolution rules, the errors and the plumbing are checked on the CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.evalsignals import RATE, speech, with_noise

from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.base import MetricError
from codecstudy.evaluate.metrics.runtime import torch_device
from codecstudy.evaluate.outputs import read_results
from codecstudy.evaluate.pair import PairScorer
from codecstudy.evaluate.pairs import evaluate_pairs
from codecstudy.evaluate.registry import METRICS
from codecstudy.evaluate.settings import EvalSettings


def _gpus(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_device_names_resolve_and_a_missing_gpu_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    _gpus(monkeypatch, 0)
    assert torch_device("cpu") == "cpu"
    assert torch_device(None) == "cpu"
    assert torch_device("auto") == "cpu"
    with pytest.raises(MetricError, match="no CUDA GPU visible"):
        torch_device("cuda")
    with pytest.raises(MetricError, match="expected cpu, cuda, cuda:N or auto"):
        torch_device("tpu")
    _gpus(monkeypatch, 2)
    assert torch_device("auto") == "cuda"
    assert torch_device("CUDA:1") == "cuda:1"
    with pytest.raises(MetricError, match="only 2 CUDA GPU"):
        torch_device("cuda:2")
    monkeypatch.setenv("LOCAL_RANK", "1")  # under torchrun: each rank's own GPU
    assert torch_device("auto") == "cuda:1"


def test_only_the_torch_model_metrics_take_the_device() -> None:
    takers = {name for name, spec in METRICS.items() if spec.uses_device}
    assert takers == {"spk_sim", "utmos", "sheet_ssqa", "speech_bert"}


def test_the_scorer_hands_its_device_to_model_metrics_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from codecstudy.evaluate import settings as eval_settings

    seen: dict[str, object] = {}

    def fake(name: str):
        def func(ref, est, sr, **kw):
            seen[name] = kw.get("device", "absent")
            return {name: 0.5}
        return func

    specs = [replace(METRICS["si_snr"], func=fake("si_snr"), outputs={"si_snr": "higher"}),
             replace(METRICS["utmos"], func=fake("utmos"), outputs={"utmos": "higher"}, defaults={})]
    monkeypatch.setattr(EvalSettings, "specs", lambda self: specs)
    monkeypatch.setattr(eval_settings, "torch_device", lambda name: "cuda:3" if name == "cuda" else "cpu")
    x = speech()
    PairScorer(EvalSettings(metrics=["si_snr", "utmos"], device="cuda")).score("c", x, with_noise(x, 20), RATE)
    assert seen == {"si_snr": "absent", "utmos": "cuda:3"}


def test_asking_for_a_gpu_that_is_not_there_fails_before_scoring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  ) -> None:
    pytest.importorskip("transformers", reason="transformers is in the eval extra")
    from helpers.randommodels import save_random_wavlm

    _gpus(monkeypatch, 0)
    ref_dir, dec_dir = tmp_path / "ref", tmp_path / "dec"
    ref_dir.mkdir()
    dec_dir.mkdir()
    x = speech()
    sf.write(ref_dir / "a.wav", x.astype(np.float32), RATE)
    sf.write(dec_dir / "a.wav", with_noise(x, 20).astype(np.float32), RATE)
    wavlm = str(save_random_wavlm(tmp_path / "wavlm"))
    overrides = {"speech_bert": {"model": wavlm, "layer": 3}}

    def settings(device: str) -> EvalSettings:
        return EvalSettings(metrics=["speech_bert"], overrides=overrides, device=device, ref_cache=None, threads=1)

    with pytest.raises(CodecStudyError, match="evaluate device: device 'cuda': no CUDA GPU visible"):
        evaluate_pairs(ref_dir, dec_dir, tmp_path / "gpu", settings("cuda"))
    assert not (tmp_path / "gpu" / "results.jsonl").exists()
    # auto falls back to the CPU and records where it ran; the score is the CPU run's
    evaluate_pairs(ref_dir, dec_dir, tmp_path / "auto", settings("auto"))
    evaluate_pairs(ref_dir, dec_dir, tmp_path / "cpu", settings("cpu"))
    meta = json.loads((tmp_path / "auto" / "meta.json").read_text())
    assert meta["device"] == {"setting": "auto", "device": "cpu"}
    auto = [r["metrics"] for r in read_results(tmp_path / "auto")]
    cpu = [r["metrics"] for r in read_results(tmp_path / "cpu")]
    assert auto == cpu and 0.0 < auto[0]["speech_bert"] < 1.0
