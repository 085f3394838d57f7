"""Build, save and read codecs: architecture name -> class, and the codec-alone checkpoint format.

A preset (:mod:`codecstudy.codec.presets`) builds an **untrained** model whose random weights are fixed by the
config's ``seed``, so two processes building the same preset get the same weights and the same identity hash
(useful for tests and for checking the plumbing, useless for listening). Opening a codec by any of its names (a
checkpoint path, a codec YAML, a preset, ``espnet:PATH``) is :func:`codecstudy.codec.catalog.load_codec`.

Checkpoint (``torch.save`` of a plain dict, loadable with ``weights_only=True``)::

    {"format": "codecstudy-codec", "format_version": 1, "codecstudy_version": "0.1.0",
     "config": {...CodecConfig...}, "state_dict": {...}, "weight_norm_folded": false, "identity": "<sha256>"}

The trainer nests this dict under a ``"codec"`` key beside its optimizer state; :func:`unwrap_codec_payload` finds
it in either, and every reader here accepts both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from codecstudy import __version__
from codecstudy.codec.config import CodecConfig, codec_config_from_dict
from codecstudy.codec.models.base import CodecModel
from codecstudy.codec.models.dac import DAC
from codecstudy.codec.models.encodec import EnCodec
from codecstudy.codec.models.soundstream import SoundStream
from codecstudy.codec.presets import preset_config
from codecstudy.codec.seanet import fold_weight_norm, has_weight_norm
from codecstudy.errors import CodecStudyError
from codecstudy.files import atomic_write

ARCHITECTURES: dict[str, type[CodecModel]] = {"soundstream": SoundStream, "encodec": EnCodec, "dac": DAC}
CHECKPOINT_FORMAT = "codecstudy-codec"
CHECKPOINT_VERSION = 1


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


def unwrap_codec_payload(payload: Any) -> Any:
    """The codec's own dict inside a loaded checkpoint: a training checkpoint nests it under ``"codec"``, a codec
    checkpoint is it. Anything else is returned unchanged, for the caller to reject."""
    if isinstance(payload, dict) and isinstance(payload.get("codec"), dict):
        return payload["codec"]
    return payload


def codec_from_payload(payload: dict[str, Any], where: str = "checkpoint") -> CodecModel:
    """Rebuild a model from :func:`codec_payload` output; damaged or foreign payloads raise CodecStudyError."""
    payload = unwrap_codec_payload(payload)
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
        model.keep_identity(stored)
    elif stored is not None and model.identity_hash() != stored:
        raise CodecStudyError(f"{where}: weights do not match the checkpoint's identity hash (damaged checkpoint)")
    return model.eval()


def save_codec(path: str | Path, model: CodecModel) -> Path:
    """Write a codec checkpoint atomically (a killed save never leaves a half-written file under ``path``)."""
    with atomic_write(path, "wb") as handle:
        torch.save(codec_payload(model), handle)
    return Path(path)


def load_plain_torch_file(path: Path, what: str) -> Any:
    """What ``torch.save`` wrote into ``path``, read as tensors and plain values only (``weights_only``).

    A file torch cannot read that way is not one of ours (codecstudy saves nothing else), so it is one line,
    ``PATH: not a codecstudy WHAT``, with torch's reason when it is short; torch's own advice to load with
    ``weights_only=False`` is left out: it is wrong for a file that is not a checkpoint, and unsafe for a foreign one.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and torch errors all mean "not a file we can read"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        reason = "" if "weights_only" in first else f": {first.split('. ')[0].rstrip('.')}"
        raise CodecStudyError(f"{path}: not a codecstudy {what} (torch cannot read it{reason})") from None


def read_codec_checkpoint(path: Path) -> CodecModel:
    """The model in a codec (or training) checkpoint file, in eval mode; an unreadable or foreign file raises
    CodecStudyError naming it."""
    payload = load_plain_torch_file(path, "codec checkpoint")
    if not isinstance(payload, dict):
        raise CodecStudyError(f"{path}: not a codecstudy codec checkpoint")
    return codec_from_payload(payload, where=str(path))
