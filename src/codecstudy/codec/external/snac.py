"""SNAC (multi-scale neural audio codec) through the ``snac`` package.

Three (24 kHz) or four (32/44 kHz) codebooks of 4096 run at different frame rates (strides 4/2/1 or 8/4/2/1 of
the finest rate), so a clip's codes are a list of arrays and there is one setting: the model's bitrate
(24 kHz: 0.98 kbps). Weights: ``snac:24khz`` fetches ``hubertsiuzdak/snac_24khz`` through ``SNAC.from_pretrained``;
``snac:/path/or/hub-name`` loads that (a folder with config.json and pytorch_model.bin); ``snac:24khz:random``
builds it untrained. Its decoder's noise is seeded per clip (reproducible scores). Install: the ``snac`` extra
(``pip install snac``; it never imports torchaudio).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy.codec.external.neural import RANDOM, NeuralCodec
from codecstudy.codec.interface import Setting, Streaming, require
from codecstudy.hub import HubModel, huggingface_model

#: the published models' config.json (SNAC.from_pretrained reads the same from the hub or a folder)
VARIANTS: dict[str, dict[str, Any]] = {
    "24khz": dict(sampling_rate=24000, encoder_dim=48, encoder_rates=[2, 4, 8, 8], decoder_dim=1024,
                  decoder_rates=[8, 8, 4, 2], attn_window_size=None, codebook_size=4096, codebook_dim=8,
                  vq_strides=[4, 2, 1], noise=True, depthwise=True),
    "32khz": dict(sampling_rate=32000, encoder_dim=64, encoder_rates=[2, 3, 8, 8], decoder_dim=1536,
                  decoder_rates=[8, 8, 3, 2], attn_window_size=32, codebook_size=4096, codebook_dim=8,
                  vq_strides=[8, 4, 2, 1], noise=True, depthwise=True),
    "44khz": dict(sampling_rate=44100, encoder_dim=64, encoder_rates=[2, 3, 8, 8], decoder_dim=1536,
                  decoder_rates=[8, 8, 3, 2], attn_window_size=32, codebook_size=4096, codebook_dim=8,
                  vq_strides=[8, 4, 2, 1], noise=True, depthwise=True),
}
HUB = {"24khz": "hubertsiuzdak/snac_24khz", "32khz": "hubertsiuzdak/snac_32khz", "44khz": "hubertsiuzdak/snac_44khz"}


class SNAC(NeuralCodec):
    kind = "snac"
    package = "snac"
    variants = tuple(VARIANTS)

    @property
    def sample_rate(self) -> int:
        return int(self.model.sampling_rate)

    @property
    def frame_rate(self) -> float:
        """The finest codebook's frame rate."""
        return self.model.sampling_rate / self.model.hop_length

    @property
    def codebook_size(self) -> int:
        return int(self.model.codebook_size)

    def settings(self) -> list[Setting]:
        codes_per_s = sum(self.frame_rate / s for s in self.model.vq_strides)
        bps = codes_per_s * math.ceil(math.log2(self.codebook_size))
        return [Setting(f"{bps / 1000:.2f}kbps", bps)]

    def streaming(self) -> Streaming:
        return Streaming(False, False, "non-causal convolutions (and at 32/44 kHz windowed attention) read future "
                         "samples; the package has no streaming mode")

    @classmethod
    def published(cls, source: str, variant: str, weights: str | None,
                  fetch: Callable[[], object]) -> list[HubModel]:
        """The repository ``SNAC.from_pretrained`` reads (config.json + pytorch_model.bin); none for a folder."""
        if weights is not None and Path(weights).exists():
            return []
        return [huggingface_model(f"SNAC {variant}", weights or HUB[variant], fetch,
                                  [["config.json"], ["pytorch_model.bin"]])]

    def build(self) -> Any:
        snac = require("snac", "the 'snac' extra (pip install snac)", self.source)
        if self.weights_from == RANDOM:
            return snac.SNAC(**VARIANTS[self.variant])
        return snac.SNAC.from_pretrained(self.weights_from or HUB[self.variant])

    def _encode(self, batch: Any, setting: Setting) -> Any:
        return self.model.encode(batch)

    def _decode(self, codes: Any, setting: Setting) -> Any:
        """SNAC's decoder adds Gaussian noise (its NoiseBlocks, also in eval mode): seeded here, so that a clip
        decodes to the same audio every time and scores are reproducible."""
        torch = self.torch()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return self.model.decode(codes)

    def _to_array(self, codes: Any, index: int) -> list[np.ndarray]:
        return [level[index].cpu().numpy() for level in codes]

    def _from_array(self, codes: Any) -> Any:
        torch = self.torch()
        return [torch.from_numpy(np.asarray(level, dtype=np.int64))[None] for level in codes]
