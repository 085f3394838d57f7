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
