"""Descript Audio Codec through ``descript-audio-codec`` (16 kHz: 50 frames/s, 12 codebooks of 1024; 24 kHz:
75 frames/s, 32 codebooks; 44 kHz: 86 frames/s, 9 codebooks).

Settings are numbers of codebooks (``dac:16khz:4``), residual so the codes nest. Weights: ``dac:16khz`` downloads
the published checkpoint through ``dac.utils.download``; ``dac:/path/weights.pth`` loads a local one (its own
config travels in the file); ``dac:16khz:random`` builds the variant untrained. Install: ``make codecs``
(descript-audio-codec and descript-audiotools with ``--no-deps`` plus their small deps: with their deps they pin
protobuf < 3.20 and torchaudio; see :func:`neural.stub_torchaudio`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from codecstudy.codec.external.neural import RANDOM, NeuralCodec, stub_torchaudio
from codecstudy.codec.interface import Setting, Streaming, require
from codecstudy.hub import GITHUB_RELEASE, HubModel

#: constructor arguments of the published models (DAC.load reads the same from a checkpoint's metadata)
VARIANTS: dict[str, dict[str, Any]] = {
    "16khz": dict(encoder_dim=64, encoder_rates=[2, 4, 5, 8], decoder_dim=1536, decoder_rates=[8, 5, 4, 2],
                  n_codebooks=12, codebook_size=1024, codebook_dim=8, sample_rate=16000),
    "24khz": dict(encoder_dim=64, encoder_rates=[2, 4, 5, 8], decoder_dim=1536, decoder_rates=[8, 5, 4, 2],
                  n_codebooks=32, codebook_size=1024, codebook_dim=8, sample_rate=24000),
    "44khz": dict(encoder_dim=64, encoder_rates=[2, 4, 8, 8], decoder_dim=1536, decoder_rates=[8, 8, 4, 2],
                  n_codebooks=9, codebook_size=1024, codebook_dim=8, sample_rate=44100),
}
#: descript-audio-codec 1.0.0's latest 8 kbps release per variant: ``dac.utils.download`` keeps it as
#: ~/.cache/descript/dac/weights_<variant>_8kbps_<tag>.pth (a fixed folder: no environment variable moves it).
RELEASE_TAGS = {"44khz": "0.0.1", "24khz": "0.0.4", "16khz": "0.0.5"}
INSTALL = "make codecs (pip install --no-deps descript-audio-codec==1.0.0 descript-audiotools==0.7.2 + small deps)"


class DAC(NeuralCodec):
    kind = "dac"
    package = "descript-audio-codec"
    variants = tuple(VARIANTS)
    nested_codes = True

    @property
    def sample_rate(self) -> int:
        return int(self.model.sample_rate)

    @property
    def frame_rate(self) -> float:
        return self.model.sample_rate / self.model.hop_length

    @property
    def codebook_size(self) -> int:
        return int(self.model.codebook_size)

    def settings(self) -> list[Setting]:
        return self.codebook_settings(int(self.model.n_codebooks))

    def streaming(self) -> Streaming:
        return Streaming(False, False, "non-causal convolutions (centred padding) read future samples; the package "
                         "has no streaming mode")

    @classmethod
    def published(cls, source: str, variant: str, weights: str | None,
                  fetch: Callable[[], object]) -> list[HubModel]:
        """The variant's published weights in descript's cache folder; none for a local file."""
        if weights is not None:
            return []
        path = Path.home() / ".cache" / "descript" / "dac" / f"weights_{variant}_8kbps_{RELEASE_TAGS[variant]}.pth"
        return [HubModel(f"DAC {variant}", f"descriptinc/descript-audio-codec:{RELEASE_TAGS[variant]}",
                         GITHUB_RELEASE, str(path.parent), fetch, path.is_file)]

    def build(self) -> Any:
        stub_torchaudio()
        dac = require("dac", INSTALL, self.source)
        if self.weights_from == RANDOM:
            return dac.DAC(**VARIANTS[self.variant])
        if self.weights_from is None:
            return dac.DAC.load(str(dac.utils.download(model_type=self.variant)))
        path = Path(self.weights_from)
        if not path.is_file():
            raise self._bad_part(self.weights_from)
        return dac.DAC.load(str(path))

    def _encode(self, batch: Any, setting: Setting) -> Any:
        z, codes, *_ = self.model.encode(self.model.preprocess(batch, self.sample_rate), n_quantizers=setting.n_q)
        return codes[:, : setting.n_q]

    def _decode(self, codes: Any, setting: Setting) -> Any:
        return self.model.decode(self.model.quantizer.from_codes(codes[:, : setting.n_q])[0])
