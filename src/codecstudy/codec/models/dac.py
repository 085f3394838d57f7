"""DAC-style codec (Descript Audio Codec): Snake activations, wide decoder, factorized L2-normalised codes.

Structure follows the same encoder/decoder skeleton: DAC's residual units are SEANet units with kernel 7,
dilations 1/3/9, no width compression and identity shortcuts; its decoder starts much wider than the encoder
(``seanet.decoder_channels``) and ends in tanh. The quantizer learns codes by gradient (codebook + commitment
losses) in an 8-d projected space with cosine lookup, and drops codebooks per batch item.
"""

from __future__ import annotations

from codecstudy.codec.config import CodecConfig
from codecstudy.codec.models.base import CodecModel
from codecstudy.errors import ConfigError


class DAC(CodecModel):
    """SEANet skeleton with Snake + factorized RVQ (``configs/codecs/dac-*``)."""

    architecture = "dac"

    def __init__(self, config: CodecConfig) -> None:
        if config.quantizer.kind != "factorized":
            raise ConfigError(
                f"{config.name}: dac needs quantizer.kind: factorized (DAC learns codes by gradient, not EMA)"
            )
        super().__init__(config)
