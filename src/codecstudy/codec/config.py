"""Typed configs for the codec models, as stored in ``configs/codecs/*.yaml`` and inside checkpoints.

One :class:`CodecConfig` fully determines a model's architecture (with the seed, its initial weights too), so a
checkpoint stores the config beside the weights and nothing else is needed to rebuild it. Unknown keys are
rejected everywhere: a typo in a preset must fail loudly instead of silently training a different model.

Field names follow EnCodec's SEANet where a concept exists there (``ratios``, ``compress``, ``true_skip``,
``dilation_base``) so that reference configs translate one to one; ESPnet recipe values are quoted in the
presets' comments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codecstudy.codec.discriminators.configs import CombinedDiscriminatorConfig
from codecstudy.codec.discriminators.presets import parse_discriminator_config
from codecstudy.codec.losses.configs import GeneratorLossConfig, default_loss_config
from codecstudy.codec.training_config import TrainConfig
from codecstudy.config import apply_overrides, format_validation_error, load_yaml, validate

Architecture = Literal["soundstream", "encodec", "dac"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SEANetConfig(_Strict):
    """Encoder/decoder shape. ``ratios`` are in decoder (upsampling) order; the encoder applies them reversed."""

    channels: int = Field(32, ge=1, description="encoder filters after the input conv (doubled at each stride)")
    decoder_channels: int | None = Field(
        None, ge=1, description="decoder filters before the output conv; None = channels (DAC uses a wider decoder)"
    )
    dimension: int = Field(128, ge=1, description="latent size at the bottleneck (the codebook size for EMA RVQ)")
    ratios: list[int] = Field(default_factory=lambda: [8, 5, 4, 2], min_length=1)
    n_residual_layers: int = Field(1, ge=0, description="residual units per resolution, dilations base**j")
    kernel_size: int = Field(7, ge=1)
    last_kernel_size: int = Field(7, ge=1)
    residual_kernel_size: int = Field(3, ge=1)
    dilation_base: int = Field(2, ge=1)
    lstm_layers: int = Field(2, ge=0, description="unidirectional LSTM layers at the bottleneck (0 = none)")
    causal: bool = False
    norm: Literal["weight_norm", "none"] = "weight_norm"
    activation: Literal["elu", "snake"] = "elu"
    compress: int = Field(2, ge=1, description="residual unit hidden width = channels // compress")
    true_skip: bool = Field(False, description="identity shortcut in residual units (False = 1x1 conv shortcut)")
    pad_mode: Literal["reflect", "constant"] = "reflect"
    final_activation: Literal["none", "tanh"] = "none"
    init: Literal["torch", "unit"] = Field(
        "torch",
        description="torch: PyTorch's default init, as the reference implementations; unit: unit-norm filters and "
        "zero biases, which ELU SEANets train from at once (see codecstudy.codec.init)",
    )

    @model_validator(mode="after")
    def _check(self) -> SEANetConfig:
        if any(r < 1 for r in self.ratios):
            raise ValueError(f"ratios must all be >= 1, got {self.ratios}")
        return self

    @property
    def hop_length(self) -> int:
        hop = 1
        for r in self.ratios:
            hop *= r
        return hop


class QuantizerConfig(_Strict):
    """Residual vector quantizer.

    ``kind: ema`` is the EnCodec/SoundStream codebook (EMA updates, k-means init, dead-code replacement, codes in the
    latent space). ``kind: factorized`` is DAC's (codes learned by gradient in a low ``codebook_dim`` space, looked up
    by cosine similarity).

    Quantizer dropout (bandwidth sampling) decides how many codebooks a training step uses: ``batch`` draws one
    ``n_q`` per step (ESPnet/EnCodec), ``item`` one per batch item (DAC). With ``dropout_probability`` p the draw is
    used, otherwise all codebooks; draws come uniformly from ``dropout_choices`` or, when None, from 1..N inclusive.
    """

    kind: Literal["ema", "factorized"] = "ema"
    n_codebooks: int = Field(8, ge=1, le=1024)
    codebook_size: int = Field(1024, ge=2, le=2**31 - 1)
    codebook_dim: int | None = Field(None, ge=1, description="factorized: lookup dim (DAC: 8); ema: must be None")
    ema_decay: float = Field(0.99, gt=0.0, lt=1.0)
    epsilon: float = Field(1e-5, gt=0.0, description="Laplace smoothing of EMA cluster sizes")
    kmeans_init: bool = True
    kmeans_iters: int = Field(50, ge=0)
    dead_code_threshold: float = Field(
        2.0, ge=0.0, description="EMA usage below which a code is replaced by a batch vector (0 = never)"
    )
    dead_code_mode: Literal["count", "ratio"] = Field(
        "count",
        description="count: threshold is an EMA count (EnCodec: 2); ratio: a fraction of uniform usage (Mimi: 0.1)",
    )
    dropout: Literal["none", "batch", "item"] = "batch"
    dropout_probability: float = Field(1.0, ge=0.0, le=1.0)
    dropout_choices: list[int] | None = None

    @model_validator(mode="after")
    def _check(self) -> QuantizerConfig:
        if self.kind == "factorized" and self.codebook_dim is None:
            raise ValueError("codebook_dim is required for kind 'factorized' (DAC uses 8)")
        if self.kind == "ema" and self.codebook_dim is not None:
            raise ValueError("codebook_dim must be omitted for kind 'ema': EMA codes live in the latent space")
        if self.dropout_choices is not None:
            if not self.dropout_choices:
                raise ValueError("dropout_choices must not be empty (omit it to draw from 1..n_codebooks)")
            bad = [n for n in self.dropout_choices if not 1 <= n <= self.n_codebooks]
            if bad:
                raise ValueError(f"dropout_choices {bad} outside 1..n_codebooks ({self.n_codebooks})")
        return self


class CodecConfig(_Strict):
    """Everything needed to rebuild a codec: architecture, rate, network, quantizer, plus its training losses.

    ``loss``, ``discriminator`` and ``train`` belong to the trainer. They are kept here, as plain mappings, so one
    file describes a codec recipe; their schemas are owned by :mod:`codecstudy.codec.losses.configs`
    (``GeneratorLossConfig``), :mod:`codecstudy.codec.discriminators.presets` (``parse_discriminator_config``) and
    :mod:`codecstudy.codec.training_config` (``TrainConfig``), which validate them when the config is loaded. Empty
    means the architecture's reference setting (for ``train``: ESPnet's recipe).
    """

    architecture: Architecture
    name: str = Field("custom", description="preset name, for display and provenance")
    sample_rate: int = Field(16000, ge=1000)
    seed: int = Field(0, description="seed of the random initial weights (untrained presets)")
    seanet: SEANetConfig = Field(default_factory=SEANetConfig)
    quantizer: QuantizerConfig = Field(default_factory=QuantizerConfig)
    loss: dict[str, Any] = Field(
        default_factory=dict, description="GeneratorLossConfig fields (weights, mel, ...); {} = architecture default"
    )
    discriminator: dict[str, Any] = Field(
        default_factory=dict, description="discriminators config, e.g. {preset: soundstream-tiny}; {} = default"
    )
    train: dict[str, Any] = Field(
        default_factory=dict, description="TrainConfig fields (steps, batch_size, optimizers, ...); {} = ESPnet's"
    )

    @model_validator(mode="after")
    def _check_training_sections(self) -> CodecConfig:
        try:
            self.generator_loss()
        except ValidationError as exc:
            raise ValueError(format_validation_error(exc, prefix="loss")) from None
        try:
            self.discriminator_config()
        except ValidationError as exc:
            raise ValueError(format_validation_error(exc, prefix="discriminator")) from None
        except TypeError as exc:
            raise ValueError(f"discriminator: {exc}") from None
        try:
            self.train_config()
        except ValidationError as exc:
            raise ValueError(format_validation_error(exc, prefix="train")) from None
        return self

    def generator_loss(self) -> GeneratorLossConfig:
        """The ``loss`` section as a ``losses.GeneratorLossConfig`` (the architecture's default when empty)."""
        if not self.loss:
            return default_loss_config(self.architecture)[0]
        return GeneratorLossConfig.model_validate(self.loss)

    def discriminator_config(self, size: str = "paper") -> CombinedDiscriminatorConfig:
        """The ``discriminator`` section as a ``discriminators.CombinedDiscriminatorConfig``."""
        return parse_discriminator_config(self.discriminator or None, architecture=self.architecture, size=size)

    def train_config(self) -> TrainConfig:
        """The ``train`` section as a :class:`codecstudy.codec.training_config.TrainConfig`."""
        return TrainConfig.model_validate(self.train)

    @property
    def hop_length(self) -> int:
        return self.seanet.hop_length

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length


def codec_config_from_dict(data: dict[str, Any], file: str | Path | None = None, prefix: str = "") -> CodecConfig:
    """Validate a mapping; errors name the file and the dotted key (``seanet.ratios[0]: ...``)."""
    return validate(CodecConfig, data, prefix=prefix, file=file)


def load_codec_config(path: str | Path, overrides: list[str] | None = None) -> CodecConfig:
    """Read a codec YAML (a preset or a copy of one) with optional ``key.sub=value`` overrides."""
    data = apply_overrides(load_yaml(path), overrides or [])
    return codec_config_from_dict(data, file=path)
