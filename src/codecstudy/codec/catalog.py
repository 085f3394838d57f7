"""Open any codec by name: an adapter kind (``opus:6kbps``, ``encodec:24khz``) or a codecstudy model (checkpoint,
codec YAML, preset, ``espnet:PATH``) wrapped in :class:`codecstudy.codec.native.NativeCodec`."""

from __future__ import annotations

from pathlib import Path

from codecstudy.codec.external import KINDS, kind_class
from codecstudy.codec.interface import Codec


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
        rest = name.partition(":")[2]
        return kind_class(kind)(name, rest.split(":") if rest else [])
    from codecstudy.codec.native import NativeCodec
    from codecstudy.codec.registry import load_codec

    return NativeCodec(name, load_codec(name).prepare_for_inference())


def kind_lines() -> list[str]:
    """``codecstudy codec list``: one line per adapter kind, with what it needs installed."""
    return [f"{kind:12s} {entry.family:8s} {entry.summary}; needs {entry.install}" for kind, entry in KINDS.items()]


def info_lines(name: str) -> list[str]:
    """``codecstudy codec info`` for an adapter: rate, frame rate, settings with bitrates, delays, weights."""
    kind = adapter_kind(name)
    if kind is None:
        raise ValueError(f"{name} is not an adapter name")
    return [f"{key + ':':14s}{value}" for key, value in open_codec(name).info().items()]
