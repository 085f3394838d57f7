"""The TTS config: network sizes, aligner, training schedule and data limits, with the ``tiny``/``small`` presets.

Presets live in ``configs/tts/<name>.yaml`` (one file is the whole recipe, like the codec presets) and any key can
be overridden on the command line (``--set train.steps=500``). Defaults are the ``tiny`` preset.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from codecstudy.config import apply_overrides, load_yaml, validate
from codecstudy.errors import ConfigError

PRESET_DIR = Path(__file__).resolve().parents[3] / "configs" / "tts"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    """FastSpeech2-style network (see :mod:`codecstudy.tts.model`)."""

    dim: int = Field(128, ge=8, description="width of encoder, decoder and variance adaptor")
    heads: int = Field(2, ge=1)
    encoder_layers: int = Field(2, ge=1)
    decoder_layers: int = Field(2, ge=1)
    ff_dim: int = Field(256, ge=8, description="hidden channels of the convolutional feed-forward")
    ff_kernel: int = Field(9, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    predictor_dim: int = Field(128, ge=8, description="channels of the duration/pitch/energy predictors")
    predictor_kernel: int = Field(3, ge=1)
    aligner_dim: int = Field(128, ge=8)
    n_q: int = Field(8, ge=1, description="codebook streams predicted (one classification head each)")


class TrainSettings(_Strict):
    """Schedule and losses. Batches hold up to ``batch_frames`` codec frames (so long clips make small batches)."""

    steps: int = Field(1500, ge=1)
    batch_frames: int = Field(3000, ge=50)
    lr: float = Field(2e-3, gt=0.0)
    warmup: int = Field(200, ge=0)
    weight_decay: float = Field(0.0, ge=0.0)
    grad_clip: float = Field(1.0, gt=0.0)
    seed: int = 0
    aligner_weight: float = Field(1.0, ge=0.0, description="forward-sum loss weight")
    prior_steps: int = Field(300, ge=0, description="steps during which a diagonal prior guides the aligner")
    variance_weight: float = Field(0.1, ge=0.0, description="weight of duration, pitch and energy losses")
    log_interval: int = Field(50, ge=1)
    checkpoint_interval: int = Field(500, ge=1)
    max_seconds: float = Field(12.0, gt=0.0, description="longer clips are left out of training")
    threads: int = Field(1, ge=1, description="torch intra-op threads")


class TTSConfig(_Strict):
    name: str = "tiny"
    model: ModelConfig = ModelConfig()
    train: TrainSettings = TrainSettings()
    n_mels: int = Field(80, ge=8, description="log-mel bands of the aligner's acoustic input")


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml")) if PRESET_DIR.is_dir() else []


def load_tts_config(source: str | Path = "tiny", overrides: list[str] | None = None) -> TTSConfig:
    """A preset name (``tiny``, ``small``) or a YAML file, with ``key.sub=value`` overrides applied."""
    path = Path(source)
    if not path.is_file():
        path = PRESET_DIR / f"{source}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown TTS preset {str(source)!r} (presets: {', '.join(preset_names()) or 'none'})")
    data = apply_overrides(load_yaml(path), overrides or [])
    return validate(TTSConfig, data, file=path)


def tts_config_from_dict(data: dict, where: str = "tts config") -> TTSConfig:
    return validate(TTSConfig, data, file=where)
