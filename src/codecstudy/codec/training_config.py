"""The ``train:`` section of a codec config: schedule, optimizers, data crops, validation, checkpoints.

It lives inside the codec YAML (``configs/codecs/*.yaml``) so that one file is the whole recipe: the network, its
losses (``loss:``), its adversary (``discriminator:``) and how it is trained. :class:`codecstudy.codec.config.
CodecConfig` keeps the section as a plain mapping and validates it with :class:`TrainConfig` when the config is
loaded, so a typo in a preset fails at once rather than after the corpus cache is built. The schema lives here,
beside the codec config that holds it, so that reading a config never reaches up into the trainer
(:mod:`codecstudy.train` reads it from here).

Defaults are ESPnet-Codec's SoundStream recipe (``train_soundstream4_large_v1.1``): AdamW 2e-4, betas (0.5, 0.9),
eps 1e-9, no weight decay, ``ExponentialLR`` 0.999875 stepped once per 5000-iteration epoch, no gradient
clipping, batch 128 x 2 s, 360 x 5000 iterations, seed 777. The small presets override what a CPU needs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OptimizerConfig(_Strict):
    """AdamW and its learning-rate schedule, for the generator or the discriminator.

    ``scheduler: exponential`` multiplies the rate by ``gamma`` once every ``decay_every`` steps (ESPnet steps its
    ``ExponentialLR`` once per epoch of 5000 iterations; 1 is a per-step decay). ``grad_clip`` is the maximum
    global gradient norm (None: no clipping, as ESPnet's ``grad_clip: -1``).
    """

    lr: float = Field(2e-4, gt=0.0)
    betas: tuple[float, float] = (0.5, 0.9)
    eps: float = Field(1e-9, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    scheduler: Literal["exponential", "constant"] = "exponential"
    gamma: float = Field(0.999875, gt=0.0, le=1.0, description="lr factor applied every decay_every steps")
    decay_every: int = Field(5000, ge=1)
    grad_clip: float | None = Field(None, gt=0.0)

    @model_validator(mode="after")
    def _check(self) -> OptimizerConfig:
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must both be in [0, 1), got {list(self.betas)}")
        return self

    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` after ``step`` optimizer steps (a function of the step, so resuming is exact)."""
        if self.scheduler == "constant":
            return 1.0
        return self.gamma ** (step // self.decay_every)


class ValidConfig(_Strict):
    """Validation on the ``--valid`` manifest (whole clips, cut to ``max_seconds``).

    STOI and PESQ need the ``eval`` extra (``pystoi``, ``pesq``); when it is missing they are left out with one
    warning. ``audio_samples`` clips are written to TensorBoard at every validation.
    """

    max_clips: int | None = Field(200, ge=1, description="clips used (evenly spread over the sorted ids); None = all")
    max_seconds: float = Field(10.0, gt=0.0, description="longer clips are cut to their first max_seconds")
    batch_seconds: float = Field(60.0, gt=0.0, description="audio per forward pass")
    n_q: int | None = Field(None, ge=1, description="codebooks used for decoding; None = all")
    stoi: bool = True
    pesq: bool = False
    audio_samples: int = Field(2, ge=0)
    best_metric: Literal["mel_distance", "si_snr", "stoi", "pesq"] = "mel_distance"


class TrainConfig(_Strict):
    """How a codec is trained. ``batch_size`` is global: with N processes each one takes ``batch_size / N``."""

    steps: int = Field(1_800_000, ge=1, description="generator updates in total (ESPnet: 360 epochs x 5000)")
    batch_size: int = Field(128, ge=1, description="crops per step over all processes")
    segment_seconds: float = Field(2.0, gt=0.0, description="crop length; shorter clips are not used")
    seed: int = Field(777, description="seeds the crop sampler and the python/numpy/torch RNGs")
    generator: OptimizerConfig = Field(default_factory=OptimizerConfig)
    discriminator: OptimizerConfig = Field(default_factory=OptimizerConfig)
    discriminator_start: int = Field(
        0, ge=0, description="steps trained on reconstruction losses alone before the GAN terms start"
    )
    sampling: Literal["uniform", "balanced"] = Field(
        "uniform",
        description="uniform: every second of audio equally likely; balanced: each language x domain group equally",
    )
    log_interval: int = Field(50, ge=1)
    valid_interval: int = Field(5000, ge=1)
    checkpoint_interval: int = Field(5000, ge=1)
    keep_last: int = Field(3, ge=1, description="step checkpoints kept (best.pt is kept apart)")
    num_workers: int = Field(0, ge=0, description="data-loading processes per trainer process (0 = in-process)")
    threads: int | None = Field(None, ge=1, description="torch CPU threads per process; None = torch's default")
    bf16: bool = Field(False, description="bfloat16 autocast of the networks on CUDA; ignored on CPU")
    tf32: bool = Field(True, description="TF32 matmuls and convolutions on CUDA (ESPnet use_tf32); ignored on CPU")
    nan_guard_max_skips: int = Field(
        20, ge=0, description="steps with a non-finite loss or gradient are skipped; stop after this many"
    )
    valid: ValidConfig = Field(default_factory=ValidConfig)

    def gan_active(self, step: int) -> bool:
        """Whether the step with this 0-based index trains with the discriminator."""
        return step >= self.discriminator_start
