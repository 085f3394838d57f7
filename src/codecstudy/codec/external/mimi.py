"""Kyutai's Mimi (the codec of Moshi) through the ``moshi`` package: 24 kHz, 12.5 frames/s, up to 32 codebooks
of 2048 (split RVQ: one semantic codebook, then acoustic ones).

Settings are numbers of codebooks (``mimi:8`` = 1.1 kbps, what Moshi uses). Weights: ``mimi`` fetches the
published file from ``kyutai/moshiko-pytorch-bf16`` through ``moshi.models.loaders``; ``mimi:/path/model.safetensors``
loads a local file; ``mimi:random`` builds it untrained. Install: ``make codecs`` (``pip install --no-deps moshi``
plus safetensors, huggingface_hub, einops, sentencepiece: moshi pins torch < 2.10 but runs on 2.13).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy.codec.external.neural import RANDOM, NeuralCodec
from codecstudy.codec.interface import Latency, Setting, Streaming, require
from codecstudy.hub import HubModel, huggingface_model

MAX_CODEBOOKS = 32
INSTALL = "make codecs (pip install --no-deps moshi==0.2.13 + safetensors huggingface_hub einops sentencepiece)"


class Mimi(NeuralCodec):
    kind = "mimi"
    package = "moshi"
    variants = ("24khz",)
    nested_codes = True

    @property
    def sample_rate(self) -> int:
        return int(self.model.sample_rate)

    @property
    def frame_rate(self) -> float:
        return float(self.model.frame_rate)

    @property
    def codebook_size(self) -> int:
        return int(self.model.cardinality)

    def settings(self) -> list[Setting]:
        return self.codebook_settings(MAX_CODEBOOKS)

    def declared_latency(self, setting: str) -> Latency:
        self.setting(setting)
        return Latency(self._frame(), 0, "Mimi is causal with 80 ms frames (Moshi report, Defossez et al. 2024: "
                       "80 ms latency)")

    def streaming(self) -> Streaming:
        return Streaming(True, True, "moshi's MimiModel.streaming() codes 80 ms frames as they come (this adapter's "
                         "round trip is offline)")

    @classmethod
    def published(cls, source: str, variant: str, weights: str | None,
                  fetch: Callable[[], object]) -> list[HubModel]:
        """moshi's published Mimi file (``loaders.DEFAULT_REPO``, ``loaders.MIMI_NAME``); none for a local file."""
        if weights is not None:
            return []
        loaders = require("moshi.models.loaders", INSTALL, source)
        return [huggingface_model("Mimi", loaders.DEFAULT_REPO, fetch, [[loaders.MIMI_NAME]])]

    def build(self) -> Any:
        loaders = require("moshi.models.loaders", INSTALL, self.source)
        if self.weights_from == RANDOM:
            return loaders.get_mimi(None, device="cpu", num_codebooks=MAX_CODEBOOKS)
        if self.weights_from is None:
            from huggingface_hub import hf_hub_download  # comes with moshi (optional), for the published weights

            path = hf_hub_download(loaders.DEFAULT_REPO, loaders.MIMI_NAME)
        else:
            path = Path(self.weights_from)
            if not path.is_file():
                raise self._bad_part(self.weights_from)
        return loaders.get_mimi(str(path), device="cpu", num_codebooks=MAX_CODEBOOKS)

    def _frame(self) -> int:
        return int(round(self.sample_rate / self.frame_rate))

    def _encode(self, batch: Any, setting: Setting) -> Any:
        torch = self.torch()
        pad = -batch.shape[-1] % self._frame()
        codes = self.model.encode(torch.nn.functional.pad(batch, (0, pad)))
        return codes[:, : setting.n_q]

    def _decode(self, codes: Any, setting: Setting) -> Any:
        return self.model.decode(codes)  # the split RVQ decodes however many codebooks it is given

    def _to_array(self, codes: Any, index: int) -> np.ndarray:
        return codes[index].cpu().numpy()
