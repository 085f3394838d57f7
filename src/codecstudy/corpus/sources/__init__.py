"""Registry of corpus sources: ``kind`` name -> Source class, imported on first use.

Imports are lazy so that ``codecstudy --help`` stays fast and a source with an optional dependency only
fails when it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from codecstudy.config import format_validation_error
from codecstudy.corpus.sources.base import Source
from codecstudy.errors import ConfigError

SOURCE_CLASSES: dict[str, str] = {
    "embedded": "codecstudy.corpus.sources.embedded:EmbeddedSource",
    "synthetic": "codecstudy.corpus.sources.synthetic:SyntheticSource",
    "ljspeech": "codecstudy.corpus.sources.ljspeech:LJSpeechSource",
    "libritts": "codecstudy.corpus.sources.libritts:LibriTTSSource",
    "librispeech": "codecstudy.corpus.sources.libritts:LibriSpeechSource",
    "mls": "codecstudy.corpus.sources.mls:MLSSource",
    "css10": "codecstudy.corpus.sources.css10:CSS10Source",
    "commonvoice": "codecstudy.corpus.sources.commonvoice:CommonVoiceSource",
    "vctk": "codecstudy.corpus.sources.vctk:VCTKSource",
    "audioset": "codecstudy.corpus.sources.audioset:AudioSetSource",
    "esc50": "codecstudy.corpus.sources.esc50:ESC50Source",
    "folder": "codecstudy.corpus.sources.folder:FolderSource",
}


def source_class(kind: str) -> type[Source]:
    """The Source class registered as ``kind``; a clear error lists the known kinds."""
    target = SOURCE_CLASSES.get(kind)
    if target is None:
        raise ConfigError(f"unknown source kind {kind!r}; known: {', '.join(sorted(SOURCE_CLASSES))}")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_source(spec: dict[str, Any], where: str = "source", file: str | None = None) -> Source:
    """Build a Source from a config mapping with a ``kind`` key; errors name ``file: where.key``."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if not kind:
        raise ConfigError(
            f"{file + ': ' if file else ''}{where}.kind: missing; known: {', '.join(sorted(SOURCE_CLASSES))}"
        )
    try:
        cls = source_class(str(kind))
    except ConfigError as exc:
        raise ConfigError(f"{file + ': ' if file else ''}{where}.kind: {exc}") from None
    try:
        return cls.model_validate(spec)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where, file)) from None
