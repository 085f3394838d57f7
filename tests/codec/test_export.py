from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codecstudy.codec.export import (
    export_onnx,
    export_torchscript,
    load_torchscript,
    verify_export,
)
from codecstudy.codec.registry import codec_from_preset
from codecstudy.codec.seanet import has_weight_norm


@pytest.fixture(scope="module")
def model():
    return codec_from_preset("encodec-tiny")


def test_torchscript_matches_the_model(tmp_path: Path, model, noise) -> None:
    result = export_torchscript(model, tmp_path, n_q=4)
    assert has_weight_norm(model)  # the original is untouched (the export folds a rebuilt copy)
    check = verify_export(model, result)
    assert check["max_abs_error"] < 1e-5 and check["code_mismatch"] == 0.0
    encoder = load_torchscript(result.encoder)
    assert not any("weight_g" in n or "original0" in n for n, _ in encoder.named_parameters())
    wave = noise(3, 11 * 320)  # batch and length differ from the trace
    model.eval()
    assert torch.equal(encoder(wave), model.encode(wave, n_q=4))


def test_onnx_matches_the_model(tmp_path: Path, model) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    result = export_onnx(model, tmp_path, n_q=4)
    check = verify_export(model, result)
    assert check["max_abs_error"] < 1e-4 and check["code_mismatch"] <= 0.01
