from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codecstudy.codec.catalog import load_codec
from codecstudy.codec.registry import (
    codec_from_preset,
    codec_payload,
    save_codec,
    unwrap_codec_payload,
)
from codecstudy.codec.seanet import has_weight_norm
from codecstudy.errors import CodecStudyError


def test_save_load_round_trip(tmp_path: Path, noise) -> None:
    model = codec_from_preset("encodec-tiny", ["seed=3"])
    path = save_codec(tmp_path / "codec.pt", model)
    loaded = load_codec(path)
    assert loaded.config == model.config and loaded.identity_hash() == model.identity_hash()
    assert has_weight_norm(loaded)  # kept trainable
    wave = noise(1, 3200)
    model.eval()
    assert torch.equal(loaded.encode(wave), model.encode(wave))
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "codecstudy-codec" and payload["codecstudy_version"]


def test_folded_checkpoint_and_trainer_nesting(tmp_path: Path, noise) -> None:
    model = codec_from_preset("dac-tiny")
    identity = model.identity_hash()
    model.prepare_for_inference()
    path = save_codec(tmp_path / "folded.pt", model)
    loaded = load_codec(path)
    assert not has_weight_norm(loaded) and loaded.identity_hash() == identity
    wave = noise(1, 1600)
    assert torch.equal(loaded.decode(loaded.encode(wave)), model.decode(model.encode(wave)))
    torch.save({"codec": codec_payload(model), "optimizer": {}, "step": 10}, tmp_path / "train.pt")
    assert load_codec(tmp_path / "train.pt").identity_hash() == identity


def test_unwrap_codec_payload_finds_the_codec_in_either_checkpoint() -> None:
    payload = codec_payload(codec_from_preset("soundstream-tiny"))
    assert unwrap_codec_payload(payload) is payload
    assert unwrap_codec_payload({"codec": payload, "step": 3, "optimizers": {}}) is payload
    assert unwrap_codec_payload({"codec": "codec.pt"}) == {"codec": "codec.pt"}  # not nested: left to the caller
    assert unwrap_codec_payload([payload]) == [payload]


def test_yaml_and_preset_sources(tmp_path: Path) -> None:
    preset = load_codec("soundstream-tiny")
    assert not preset.training
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("architecture: encodec\nname: mine\nseanet: {channels: 4, dimension: 8, lstm_layers: 0}\n")
    assert load_codec(yaml_file).config.name == "mine"


def test_bad_sources_raise_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(CodecStudyError, match="neither a codec checkpoint nor a preset"):
        load_codec("soundstream-huge")
    with pytest.raises(CodecStudyError, match="not found"):
        load_codec(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(CodecStudyError, match="garbage.pt: not a codecstudy codec checkpoint"):
        load_codec(garbage)
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CodecStudyError, match="not a codecstudy codec checkpoint"):
        load_codec(tmp_path / "foreign.pt")
    payload = codec_payload(codec_from_preset("soundstream-tiny"))
    payload["state_dict"]["encoder.layers.0.conv.bias"] += 1.0
    torch.save(payload, tmp_path / "tampered.pt")
    with pytest.raises(CodecStudyError, match="identity hash"):
        load_codec(tmp_path / "tampered.pt")


def test_random_bytes_are_not_a_checkpoint_without_torchs_advice(tmp_path: Path) -> None:
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises(CodecStudyError) as info:
        load_codec(noise)
    assert str(info.value) == f"{noise}: not a codecstudy codec checkpoint (torch cannot read it)"
    truncated = tmp_path / "truncated.pt"
    save_codec(tmp_path / "whole.pt", codec_from_preset("soundstream-tiny"))
    truncated.write_bytes((tmp_path / "whole.pt").read_bytes()[:500])
    with pytest.raises(CodecStudyError) as info:
        load_codec(truncated)
    assert str(info.value) == (f"{truncated}: not a codecstudy codec checkpoint (torch cannot read it: "
                               "PytorchStreamReader failed reading zip archive: failed finding central directory)")


def test_deepcopy_then_fold_leaves_the_original_intact(noise) -> None:
    import copy

    model = codec_from_preset("soundstream-tiny").eval()
    clone = copy.deepcopy(model)
    clone.prepare_for_inference()
    assert has_weight_norm(model) and model.identity_hash() == clone.identity_hash()
    wave = noise(1, 1600)
    assert torch.allclose(model.decode(model.encode(wave)), clone.decode(clone.encode(wave)), atol=1e-5)
