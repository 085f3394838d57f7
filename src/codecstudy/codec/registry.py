"""Build, save and load codecs: architecture name -> class, presets, and the codec-alone checkpoint format.

A codec is named on the command line by a checkpoint path, a codec YAML, or a preset name
(``soundstream-tiny``). A preset builds an **untrained** model whose random weights are fixed by the config's
``seed``, so two processes building the same preset get the same weights and the same identity hash (useful for
tests and for checking the plumbing, useless for listening).

Checkpoint (``torch.save`` of a plain dict, loadable with ``weights_only=True``)::

    {"format": "codecstudy-codec", "format_version": 1, "codecstudy_version": "0.1.0",
     "config": {...CodecConfig...}, "state_dict": {...}, "weight_norm_folded": false, "identity": "<sha256>"}

The trainer nests this dict under a ``"codec"`` key beside its optimizer state; :func:`load_codec` accepts both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from codecstudy import __version__
from codecstudy.codec.config import (
    CodecConfig,
    codec_config_from_dict,
    load_codec_config,
)
from codecstudy.codec.models.base import CodecModel
from codecstudy.codec.models.dac import DAC
from codecstudy.codec.models.encodec import EnCodec
from codecstudy.codec.models.soundstream import SoundStream
from codecstudy.codec.seanet import fold_weight_norm, has_weight_norm
from codecstudy.errors import CodecStudyError

ARCHITECTURES: dict[str, type[CodecModel]] = {"soundstream": SoundStream, "encodec": EnCodec, "dac": DAC}
PRESET_DIR = Path(__file__).resolve().parents[3] / "configs" / "codecs"
CHECKPOINT_FORMAT = "codecstudy-codec"
CHECKPOINT_VERSION = 1
_CONFIG_SUFFIXES = (".yaml", ".yml")


def preset_names() -> list[str]:
    """Names of the YAML presets in ``configs/codecs``."""
    if not PRESET_DIR.is_dir():
        return []
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_config(name: str, overrides: list[str] | None = None) -> CodecConfig:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(preset_names()) or f"none found in {PRESET_DIR}"
        raise CodecStudyError(f"unknown codec preset {name!r} (presets: {known})")
    return load_codec_config(path, overrides)


def build_codec(config: CodecConfig | dict[str, Any]) -> CodecModel:
    """A fresh model with the random weights fixed by ``config.seed`` (the global RNG is left untouched)."""
    if isinstance(config, dict):
        config = codec_config_from_dict(config)
    cls = ARCHITECTURES[config.architecture]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return cls(config)


def codec_from_preset(name: str, overrides: list[str] | None = None) -> CodecModel:
    """Untrained model of a preset, e.g. ``codec_from_preset("soundstream-tiny")``."""
    return build_codec(preset_config(name, overrides))


def codec_payload(model: CodecModel) -> dict[str, Any]:
    """The checkpoint dict for a codec alone (the trainer embeds it under ``"codec"``)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "codecstudy_version": __version__,
        "config": model.config.model_dump(mode="json"),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "weight_norm_folded": not has_weight_norm(model),
        "identity": model.identity_hash(),
    }


def codec_from_payload(payload: dict[str, Any], where: str = "checkpoint") -> CodecModel:
    """Rebuild a model from :func:`codec_payload` output; damaged or foreign payloads raise CodecStudyError."""
    if "codec" in payload and isinstance(payload["codec"], dict):
        payload = payload["codec"]
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise CodecStudyError(f"{where}: not a codecstudy codec checkpoint (no format {CHECKPOINT_FORMAT!r})")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CodecStudyError(
            f"{where}: checkpoint format version {version} is newer than this codecstudy reads ({CHECKPOINT_VERSION})"
        )
    config = codec_config_from_dict(payload["config"], file=where, prefix="config")
    model = build_codec(config)
    if payload.get("weight_norm_folded"):
        fold_weight_norm(model)
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CodecStudyError(f"{where}: weights do not fit the stored config ({first})") from None
    stored = payload.get("identity")
    if payload.get("weight_norm_folded"):
        model._identity = stored
    elif stored is not None and model.identity_hash() != stored:
        raise CodecStudyError(f"{where}: weights do not match the checkpoint's identity hash (damaged checkpoint)")
    return model.eval()


def save_codec(path: str | Path, model: CodecModel) -> Path:
    """Write a codec checkpoint atomically (a killed save never leaves a half-written file under ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(codec_payload(model), tmp)
    os.replace(tmp, path)
    return path


def load_codec(source: str | Path) -> CodecModel:
    """A codec from a checkpoint file, a codec YAML (random init), a preset name, or ``espnet:PATH`` (an ESPnet
    SoundStream model, see :mod:`codecstudy.codec.espnet`); returned in eval mode.

    Weight norm stays unfolded so that the model can be trained further; call ``prepare_for_inference()`` for
    fast inference.
    """
    if str(source).startswith("espnet:"):
        from codecstudy.codec.espnet import load_espnet_codec

        return load_espnet_codec(str(source))
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() in _CONFIG_SUFFIXES:
            return build_codec(load_codec_config(path)).eval()
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle, zip and torch errors all mean "not a checkpoint we can read"
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CodecStudyError(f"{path}: cannot read codec checkpoint ({first})") from None
        if not isinstance(payload, dict):
            raise CodecStudyError(f"{path}: not a codecstudy codec checkpoint")
        return codec_from_payload(payload, where=str(path))
    name = str(source)
    if (PRESET_DIR / f"{name}.yaml").is_file():
        return codec_from_preset(name).eval()
    if path.suffix or os.sep in name:
        raise CodecStudyError(f"{path}: codec checkpoint not found")
    raise CodecStudyError(
        f"{name}: neither a codec checkpoint nor a preset (presets: {', '.join(preset_names()) or 'none'})"
    )
