from __future__ import annotations

import pytest

from codecstudy.codec.config import CodecConfig, codec_config_from_dict
from codecstudy.codec.presets import preset_config, preset_names
from codecstudy.errors import CodecStudyError, ConfigError

EXPECTED_PRESETS = {
    "soundstream-tiny", "soundstream-small", "soundstream-paper",
    "encodec-tiny", "encodec-small", "dac-tiny", "dac-small",
}


def test_all_presets_exist_and_validate() -> None:
    assert EXPECTED_PRESETS <= set(preset_names())
    for name in EXPECTED_PRESETS:
        cfg = preset_config(name)
        assert cfg.name == name
        assert cfg.sample_rate == 16000 and cfg.hop_length == 320 and cfg.frame_rate == 50


def test_paper_preset_is_the_espnet_recipe() -> None:
    cfg = preset_config("soundstream-paper")
    assert cfg.seanet.ratios == [8, 5, 4, 2] and cfg.seanet.dimension == 512 and cfg.seanet.channels == 32
    assert cfg.seanet.n_residual_layers == 3 and cfg.seanet.lstm_layers == 2 and not cfg.seanet.causal
    assert (cfg.quantizer.n_codebooks, cfg.quantizer.codebook_size) == (32, 1024)
    assert cfg.quantizer.dropout_choices == [4, 8, 16, 32, 32]
    weights = cfg.generator_loss().weights
    assert (weights.mel, weights.feature_matching, weights.quantization) == (45.0, 2.0, 1.0)
    assert [d.type for d in cfg.discriminator_config().discriminators] == ["msd", "stft"]


def test_training_sections_use_the_architecture_defaults_and_are_validated() -> None:
    dac = preset_config("dac-tiny")
    assert dac.generator_loss().weights.commitment == 0.25
    with pytest.raises(ConfigError, match=r"loss\.weights\.mell: unknown key"):
        codec_config_from_dict({"architecture": "soundstream", "loss": {"weights": {"mell": 1.0}}})
    with pytest.raises(ConfigError, match="discriminator"):
        codec_config_from_dict({"architecture": "soundstream", "discriminator": {"type": "nonsense"}})


def test_unknown_key_and_bad_values_name_the_key() -> None:
    base = preset_config("soundstream-tiny").model_dump()
    base["seanet"]["chanels"] = 3
    with pytest.raises(ConfigError, match=r"seanet\.chanels: unknown key"):
        codec_config_from_dict(base)
    with pytest.raises(ConfigError, match="dropout_choices"):
        codec_config_from_dict({"architecture": "soundstream", "quantizer": {"n_codebooks": 4, "dropout_choices": [5]}})
    with pytest.raises(ConfigError, match="codebook_dim is required"):
        codec_config_from_dict({"architecture": "dac", "quantizer": {"kind": "factorized"}})
    with pytest.raises(ConfigError, match="architecture"):
        codec_config_from_dict({"architecture": "mp3"})


def test_overrides_and_unknown_preset() -> None:
    cfg = preset_config("encodec-tiny", ["quantizer.n_codebooks=4", "seanet.causal=false"])
    assert cfg.quantizer.n_codebooks == 4 and not cfg.seanet.causal
    with pytest.raises(CodecStudyError, match="unknown codec preset 'nope'.*soundstream-tiny"):
        preset_config("nope")


def test_defaults_round_trip_through_dump() -> None:
    cfg = CodecConfig(architecture="encodec")
    assert codec_config_from_dict(cfg.model_dump(mode="json")) == cfg
