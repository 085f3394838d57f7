"""Codec presets: the YAML recipes in ``configs/codecs`` named by their file stem (``soundstream-tiny``).

A preset is only a config; building the (untrained) model is :func:`codecstudy.codec.registry.codec_from_preset`.
:func:`resolve_codec_config` is what ``--config`` accepts everywhere (train, study, benchmarks): a codec YAML file
or a preset name, with ``key=value`` overrides.
"""

from __future__ import annotations

from pathlib import Path

from codecstudy.codec.config import CodecConfig, load_codec_config
from codecstudy.errors import CodecStudyError

PRESET_DIR = Path(__file__).resolve().parents[3] / "configs" / "codecs"


def preset_names() -> list[str]:
    """Names of the YAML presets in ``configs/codecs``."""
    if not PRESET_DIR.is_dir():
        return []
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    """Where preset ``name`` would be (it may not exist)."""
    return PRESET_DIR / f"{name}.yaml"


def preset_config(name: str, overrides: list[str] | None = None) -> CodecConfig:
    path = preset_path(name)
    if not path.is_file():
        known = ", ".join(preset_names()) or f"none found in {PRESET_DIR}"
        raise CodecStudyError(f"unknown codec preset {name!r} (presets: {known})")
    return load_codec_config(path, overrides)


def resolve_codec_config(source: str, overrides: list[str] | None = None) -> CodecConfig:
    """``--config``: a codec YAML file or a preset name, with ``key=value`` overrides."""
    path = Path(source)
    if path.is_file():
        return load_codec_config(path, overrides)
    if source in preset_names():
        return preset_config(source, overrides)
    if path.suffix or "/" in source:
        raise CodecStudyError(f"{source}: codec config not found")
    raise CodecStudyError(f"{source}: neither a codec YAML nor a preset (presets: {', '.join(preset_names())})")
