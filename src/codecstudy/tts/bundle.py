"""The saved TTS model: one self-contained file, ``MODEL_DIR/model.pt``.

It holds everything synthesis needs, so that a model folder can be copied alone: the TTS config, the symbol table,
speaker and language lists, the feature statistics, the network weights and the codec itself (its codec-alone
checkpoint payload, a few MB for the tiny presets), whose identity hash ties the tokens to their decoder.

::

    {"format": "codecstudy-tts", "format_version": 1, "config": {...}, "symbols": {...}, "speakers": [...],
     "languages": [...], "stats": {...}, "codebook_size": K, "state_dict": {...}, "codec": {...}, "step": N}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codecstudy.codec.registry import load_plain_torch_file
from codecstudy.errors import CodecStudyError
from codecstudy.tts.config import TTSConfig, tts_config_from_dict
from codecstudy.tts.data import FeatureStats
from codecstudy.tts.frontend import SymbolTable
from codecstudy.tts.model import FastSpeech2Tokens

if TYPE_CHECKING:
    from codecstudy.codec.models.base import CodecModel

FORMAT = "codecstudy-tts"
FORMAT_VERSION = 1
MODEL_FILE = "model.pt"


@dataclass
class TTSBundle:
    """A loaded TTS model with its frontend tables and its codec."""

    config: TTSConfig
    table: SymbolTable
    speakers: list[str]
    languages: list[str]
    stats: FeatureStats
    model: FastSpeech2Tokens
    codec: CodecModel
    step: int = 0

    def payload(self) -> dict[str, Any]:
        from codecstudy.codec.registry import codec_payload

        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": self.config.model_dump(mode="json"),
            "symbols": self.table.to_json(),
            "speakers": list(self.speakers),
            "languages": list(self.languages),
            "stats": self.stats.to_json(),
            "codebook_size": self.model.codebook_size,
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "codec": codec_payload(self.codec),
            "step": self.step,
        }


def build_model(
    config: TTSConfig, table: SymbolTable, speakers: list[str], languages: list[str], codebook_size: int
) -> FastSpeech2Tokens:
    return FastSpeech2Tokens(config.model, len(table), codebook_size, config.n_mels, len(speakers), len(languages))


def model_file(source: str | Path) -> Path:
    path = Path(source)
    return path / MODEL_FILE if path.is_dir() else path


def load_bundle(source: str | Path) -> TTSBundle:
    """A TTS model from its folder (or its ``model.pt``), in eval mode with the codec ready for inference."""
    from codecstudy.codec.registry import codec_from_payload

    path = model_file(source)
    if not path.is_file():
        raise CodecStudyError(f"{path}: TTS model not found (train one with `codecstudy tts train`)")
    data = load_plain_torch_file(path, "TTS model")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CodecStudyError(f"{path}: not a codecstudy TTS model")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise CodecStudyError(f"{path}: TTS model format {data['format_version']} is newer than this codecstudy")
    config = tts_config_from_dict(data["config"], where=f"{path}:config")
    table = SymbolTable.from_json(data["symbols"])
    model = build_model(config, table, data["speakers"], data["languages"], int(data["codebook_size"]))
    model.load_state_dict(data["state_dict"])
    codec = codec_from_payload(data["codec"], where=f"{path}:codec").prepare_for_inference()
    return TTSBundle(
        config=config,
        table=table,
        speakers=list(data["speakers"]),
        languages=list(data["languages"]),
        stats=FeatureStats(**data["stats"]),
        model=model.eval(),
        codec=codec,
        step=int(data.get("step", 0)),
    )
