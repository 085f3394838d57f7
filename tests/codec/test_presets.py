"""Presets by name, and ``--config``'s two forms: a codec YAML file or a preset name."""

from __future__ import annotations

from pathlib import Path

import pytest

from codecstudy.codec.presets import PRESET_DIR, preset_names, preset_path, resolve_codec_config
from codecstudy.errors import CodecStudyError


def test_preset_path_is_the_yaml_of_that_name() -> None:
    assert preset_path("soundstream-tiny") == PRESET_DIR / "soundstream-tiny.yaml"
    assert all(preset_path(name).is_file() for name in preset_names())


def test_resolve_codec_config_takes_a_file_or_a_preset(tmp_path: Path) -> None:
    assert resolve_codec_config("soundstream-tiny", ["seed=4"]).seed == 4
    mine = tmp_path / "mine.yaml"
    mine.write_text("architecture: encodec\nname: mine\n")
    config = resolve_codec_config(str(mine), ["sample_rate=24000"])
    assert (config.name, config.architecture, config.sample_rate) == ("mine", "encodec", 24000)


def test_resolve_codec_config_names_what_it_could_not_find(tmp_path: Path) -> None:
    with pytest.raises(CodecStudyError, match="missing.yaml: codec config not found"):
        resolve_codec_config(str(tmp_path / "missing.yaml"))
    with pytest.raises(CodecStudyError, match="nope: neither a codec YAML nor a preset .*soundstream-tiny"):
        resolve_codec_config("nope")
