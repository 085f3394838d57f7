"""Meta's EnCodec through the ``encodec`` package (24 kHz mono model, 75 frames/s, codebooks of 1024).

Settings are its bandwidths 1.5/3/6/12/24 kbps (2/4/8/16/32 codebooks). Weights: ``encodec:24khz`` downloads the
published checkpoint through the package; ``encodec:24khz:/path/encodec_24khz-d7cc33bc.th`` loads a local copy;
``encodec:24khz:random`` builds it untrained. Install: ``make codecs`` (``pip install --no-deps encodec==0.1.1
einops``: its torchaudio requirement has no build for torch 2.13, see :func:`neural.stub_torchaudio`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from codecstudy.codec.external.neural import RANDOM, NeuralCodec, stub_torchaudio
from codecstudy.codec.interface import Latency, Setting, Streaming, require
from codecstudy.hub import TORCH_HUB, HubModel

BANDWIDTHS = (1.5, 3.0, 6.0, 12.0, 24.0)
#: encodec 0.1.1's published 24 kHz checkpoint, which it fetches with torch.hub.load_state_dict_from_url into
#: torch.hub's checkpoints folder ($TORCH_HOME/hub/checkpoints).
CHECKPOINT = "encodec_24khz-d7cc33bc.th"
CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/encodec/v0/" + CHECKPOINT


def _checkpoints() -> Path:
    import torch  # torch.hub's folder follows $TORCH_HOME; torch is loaded whenever a neural codec is

    return Path(torch.hub.get_dir()) / "checkpoints"


class EnCodec(NeuralCodec):
    kind = "encodec"
    package = "encodec"
    variants = ("24khz",)
    nested_codes = True

    @property
    def sample_rate(self) -> int:
        return 24000

    @property
    def frame_rate(self) -> float:
        return 75.0

    @property
    def codebook_size(self) -> int:
        return 1024

    def settings(self) -> list[Setting]:
        return [Setting(f"{bw:g}kbps", bw * 1000, int(bw * 1000 / 750)) for bw in BANDWIDTHS]

    def declared_latency(self, setting: str) -> Latency:
        self.setting(setting)
        return Latency(320, 0, "EnCodec's 24 kHz model is causal (encodec_model_24khz builds it with causal=True): "
                       "one 320-sample frame, no look-ahead")

    def streaming(self) -> Streaming:
        return Streaming(False, False, "causal, so streamable by design, but the encodec package codes whole clips")

    @classmethod
    def published(cls, source: str, variant: str, weights: str | None,
                  fetch: Callable[[], object]) -> list[HubModel]:
        """The published checkpoint in torch.hub's folder; none for a local file."""
        if weights is not None:
            return []
        return [HubModel(f"EnCodec {variant}", CHECKPOINT_URL, TORCH_HUB, str(_checkpoints()), fetch,
                         lambda: (_checkpoints() / CHECKPOINT).is_file())]

    def build(self) -> Any:
        stub_torchaudio()
        encodec = require("encodec", "make codecs (pip install --no-deps encodec==0.1.1 einops)", self.source)
        if self.weights_from is None:
            return encodec.EncodecModel.encodec_model_24khz(pretrained=True)
        model = encodec.EncodecModel.encodec_model_24khz(pretrained=False)
        if self.weights_from != RANDOM:
            path = Path(self.weights_from)
            if not path.is_file():
                raise self._bad_part(self.weights_from)
            model.load_state_dict(self.torch().load(path, map_location="cpu", weights_only=True))
        return model

    def _encode(self, batch: Any, setting: Setting) -> Any:
        self.model.set_target_bandwidth(float(setting.nominal_bps or 0) / 1000)
        frames = self.model.encode(batch)
        return self.torch().cat([codes for codes, _ in frames], dim=-1)

    def _decode(self, codes: Any, setting: Setting) -> Any:
        return self.model.decode([(codes, None)])
