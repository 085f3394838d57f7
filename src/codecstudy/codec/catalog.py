"""Every name a codec goes by, resolved in one place.

:func:`open_codec` opens anything a study scores: an adapter kind (``opus:6kbps``, ``encodec:24khz``) or a
codecstudy model wrapped in :class:`codecstudy.codec.native.NativeCodec`. :func:`load_codec` gives the codecstudy
model itself (trainable, weight norm unfolded) from a checkpoint, a codec YAML, a preset or ``espnet:PATH``; it sits
here, above :mod:`codecstudy.codec.registry` (the checkpoint format) and :mod:`codecstudy.codec.espnet` (ESPnet's),
so that neither of those needs the other.
"""

from __future__ import annotations

import os
from pathlib import Path

from codecstudy.codec.config import load_codec_config
from codecstudy.codec.espnet import PREFIX as ESPNET_PREFIX
from codecstudy.codec.espnet import hub_models as espnet_hub_models
from codecstudy.codec.espnet import load_espnet_codec
from codecstudy.codec.external import KINDS, kind_class
from codecstudy.codec.interface import Codec
from codecstudy.codec.models.base import CodecModel
from codecstudy.codec.native import NativeCodec
from codecstudy.codec.presets import preset_names, preset_path
from codecstudy.codec.registry import build_codec, codec_from_preset, read_codec_checkpoint
from codecstudy.errors import CodecStudyError
from codecstudy.hub import HubModel

CONFIG_SUFFIXES = (".yaml", ".yml")


def load_codec(source: str | Path) -> CodecModel:
    """A codec from a checkpoint file, a codec YAML (random init), a preset name, or ``espnet:PATH`` (an ESPnet
    SoundStream model, see :mod:`codecstudy.codec.espnet`); returned in eval mode.

    Weight norm stays unfolded so that the model can be trained further; call ``prepare_for_inference()`` for
    fast inference.
    """
    if str(source).startswith(ESPNET_PREFIX):
        return load_espnet_codec(str(source))
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() in CONFIG_SUFFIXES:
            return build_codec(load_codec_config(path)).eval()
        return read_codec_checkpoint(path)
    name = str(source)
    if preset_path(name).is_file():
        return codec_from_preset(name).eval()
    if path.suffix or os.sep in name:
        raise CodecStudyError(f"{path}: codec checkpoint not found")
    raise CodecStudyError(
        f"{name}: neither a codec checkpoint nor a preset (presets: {', '.join(preset_names()) or 'none'})"
    )


def adapter_kind(name: str) -> str | None:
    """The registered kind a name starts with (``opus`` for ``opus:6kbps``), or None for codecstudy models."""
    kind = str(name).partition(":")[0].lower()
    if kind in KINDS and not Path(name).exists():
        return kind
    return None


def open_codec(name: str) -> Codec:
    """A ready-to-use codec (eval mode, weight norm folded for codecstudy models)."""
    name = str(name)
    kind = adapter_kind(name)
    if kind is not None:
        parts = name.split(":")[1:]
        if any(not part.strip() for part in parts):
            raise CodecStudyError(f"codec {name!r}: an empty setting between the colons (write {kind} for every "
                                  f"setting it offers, or {kind}:SETTING; codecstudy codec info {kind} lists them)")
        return kind_class(kind)(name, parts)
    return NativeCodec(name, load_codec(name).prepare_for_inference())


def hub_models(name: str) -> list[HubModel]:
    """What opening or loading the codec ``name`` downloads from a hub (an ESPnet hub name, an adapter's published
    weights), found without opening it; checkpoints, presets and local files download nothing."""
    name = str(name)
    if name.startswith(ESPNET_PREFIX):
        return espnet_hub_models(name)
    kind = adapter_kind(name)
    if kind is None:
        return []
    return kind_class(kind).hub_models(name, name.split(":")[1:])


def kind_lines() -> list[str]:
    """``codecstudy codec list``: one line per adapter kind, with what it needs installed."""
    return [f"{kind:12s} {entry.family:8s} {entry.summary}; needs {entry.install}" for kind, entry in KINDS.items()]


def info_lines(name: str) -> list[str]:
    """``codecstudy codec info`` for an adapter: rate, frame rate, settings with bitrates, delays, weights."""
    kind = adapter_kind(name)
    if kind is None:
        raise ValueError(f"{name} is not an adapter name")
    return [f"{key + ':':14s}{value}" for key, value in open_codec(name).info().items()]
