"""Per-architecture discriminator sets in three sizes, and every form a ``discriminator:`` section may take."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter

from codecstudy.codec.discriminators.configs import (
    DISCRIMINATOR_TYPES,
    CombinedDiscriminatorConfig,
    SubDiscriminatorConfig,
)

_SUB_ADAPTER: TypeAdapter[Any] = TypeAdapter(SubDiscriminatorConfig)

DISCRIMINATOR_SIZES = ("tiny", "small", "paper")


def _preset_subs(architecture: str, size: str) -> list[dict[str, Any]]:
    if architecture == "soundstream":
        if size == "paper":  # ESPnet train_soundstream4_large_v1.1
            return [{"type": "msd"}, {"type": "stft"}]
        if size == "small":
            return [
                {"type": "msd", "channels": 32, "max_channels": 256, "downsample_scales": [2, 2, 4, 4, 1]},
                {"type": "stft", "channels": 16, "channel_mults": [1, 2, 4, 4], "strides": [(2, 1), (2, 2)] * 2},
            ]
        return [
            {
                "type": "msd",
                "scales": 2,
                "channels": 8,
                "max_channels": 32,
                "kernel_sizes": (15, 21, 5, 3),
                "downsample_scales": [4, 4, 4],
                "groups": 2,
                "max_groups": 8,
            },
            {
                "type": "stft",
                "n_fft": 256,
                "hop_length": 64,
                "channels": 4,
                "channel_mults": [1, 2, 2],
                "strides": [(2, 2), (1, 2), (2, 2)],
                "complex_convs": True,
            },
        ]
    if architecture == "encodec":
        if size == "paper":  # AudioCraft config/solver/compression/default.yaml: msstftd, filters 32, 5 scales
            return [{"type": "mstft"}]
        if size == "small":
            return [{"type": "mstft", "filters": 16, "n_ffts": [1024, 512, 256]}]
        return [{"type": "mstft", "filters": 4, "n_ffts": [512, 256, 128], "dilations": [1, 2]}]
    if architecture == "dac":
        if size == "paper":  # DAC conf/base.yml
            return [{"type": "mpd"}, {"type": "mrd"}]
        if size == "small":
            return [
                {"type": "mpd", "channels": [16, 32, 64, 128, 128]},
                {"type": "mrd", "channels": 16, "fft_sizes": [1024, 512, 256]},
            ]
        return [
            {"type": "mpd", "periods": [2, 3, 5], "channels": [4, 8, 16, 16]},
            {"type": "mrd", "channels": 4, "fft_sizes": [512, 256], "bands": [(0.0, 0.25), (0.25, 0.5), (0.5, 1.0)]},
        ]
    raise ValueError(f"unknown architecture {architecture!r}; expected soundstream, encodec or dac")


def default_discriminator_config(
    architecture: str, size: str = "paper", *, with_msd: bool = False
) -> CombinedDiscriminatorConfig:
    """The reference discriminator set of an architecture at a size (``tiny``, ``small``, ``paper``).

    ``with_msd`` adds a waveform multi-scale discriminator to DAC's (DAC's ``Discriminator(rates=[...])`` option;
    here the scales are average-pooled rather than resampled).
    """
    if size not in DISCRIMINATOR_SIZES:
        raise ValueError(f"unknown discriminator size {size!r}; expected one of {', '.join(DISCRIMINATOR_SIZES)}")
    subs = _preset_subs(architecture, size)
    if with_msd and architecture == "dac":
        msd = _preset_subs("soundstream", size)[0]
        subs.append(msd)
    return CombinedDiscriminatorConfig.model_validate(
        {"discriminators": subs, "peak_normalize": architecture == "dac"}
    )


def parse_discriminator_config(
    config: Any = None, *, architecture: str | None = None, size: str = "paper"
) -> CombinedDiscriminatorConfig:
    """Turn any accepted form into a :class:`CombinedDiscriminatorConfig`.

    Accepted: ``None`` or ``{}`` (the architecture's default at ``size``); a preset name ``"dac"`` or
    ``"dac-tiny"``; ``{"preset": "dac-tiny"}``; a mapping with ``discriminators`` (and ``peak_normalize``); a
    single sub-config mapping with ``type``; a list of those; or an already built config object.
    Invalid input raises pydantic's ``ValidationError`` (the codec config loader turns it into a readable error).
    """
    if isinstance(config, CombinedDiscriminatorConfig):
        return config
    if isinstance(config, BaseModel) and getattr(config, "type", None) in DISCRIMINATOR_TYPES:
        return CombinedDiscriminatorConfig(discriminators=[config])  # type: ignore[list-item]
    if config is None or (isinstance(config, Mapping) and not config):
        if architecture is None:
            raise ValueError("an empty discriminator config needs the architecture to pick its default")
        return default_discriminator_config(architecture, size)
    if isinstance(config, str):
        name, _, preset_size = config.partition("-")
        return default_discriminator_config(name, preset_size or size)
    if isinstance(config, Mapping):
        if "preset" in config:
            extra = set(config) - {"preset"}
            if extra:
                raise ValueError(f"a discriminator preset takes no other keys, got {sorted(extra)}")
            return parse_discriminator_config(str(config["preset"]), size=size)
        if "type" in config:
            return CombinedDiscriminatorConfig(discriminators=[_SUB_ADAPTER.validate_python(dict(config))])
        return CombinedDiscriminatorConfig.model_validate(dict(config))
    if isinstance(config, Sequence):
        return CombinedDiscriminatorConfig.model_validate({"discriminators": list(config)})
    raise TypeError(f"cannot build a discriminator from {type(config).__name__}")
