"""A codecstudy model (trained here, a preset, or anything :func:`catalog.load_codec` returns) as a :class:`Codec`.

Its settings are the numbers of codebooks ``"1"`` .. ``"N"``. Residual quantization is greedy, so the first ``n``
codebooks of an ``N``-codebook encoding *are* the ``n``-codebook encoding: :meth:`roundtrip_many` encodes once and
decodes each setting, exactly as the scorer always did. The measured bitrate counts the codes packed at
``ceil(log2(codebook_size))`` bits each, for the whole frames the clip occupies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from codecstudy.codec.interface import Codec, RoundTrip, Setting, Streaming, packed_bytes
from codecstudy.codec.models.base import CodecModel


class NativeCodec(Codec):
    kind = "native"
    bitrate_counts = "codes packed at ceil(log2(codebook size)) bits, whole frames, no container"
    has_tokens = True
    nested_codes = True

    def __init__(self, source: str, model: CodecModel) -> None:
        super().__init__(source)
        self.model = model

    @property
    def name(self) -> str:
        return self.model.config.name

    @property
    def sample_rate(self) -> int:
        return self.model.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.model.frame_rate

    @property
    def codebook_size(self) -> int:
        return self.model.codebook_size

    def weights(self) -> str:
        if Path(self.source).is_file() and not self.source.endswith((".yaml", ".yml")):
            return f"checkpoint {self.source}"
        return f"random initialisation (seed {self.model.config.seed}): an untrained preset or codec YAML"

    def settings(self) -> list[Setting]:
        return [Setting(str(n), float(self.model.bitrate(n)), n) for n in range(1, self.model.n_codebooks + 1)]

    def delay_samples(self, setting: str) -> int | None:
        """The model's own ``delay_samples(n_q)`` when it has one (added with the delay handling), else 0: the
        decoder is aligned with the encoder by construction (frames are padded at the end only)."""
        n_q = self.setting(setting).n_q
        own = getattr(self.model, "delay_samples", None)
        return int(own(n_q)) if callable(own) else 0

    def streaming(self) -> Streaming:
        if self.model.causal:
            return Streaming(False, True, "causal: model.streaming_decoder() decodes codes chunk by chunk exactly as "
                             "offline; no chunked encoder (its causal codes of a prefix equal the whole clip's)")
        return Streaming(False, False, "non-causal convolutions (seanet.causal: false) read future samples")

    def identity(self) -> str:
        return self.model.identity_hash()

    def _tensor(self, wave: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)).view(1, 1, -1)

    def encode(self, wave: np.ndarray, setting: str) -> np.ndarray:
        return self.model.encode(self._tensor(wave), n_q=self.setting(setting).n_q)[0].numpy()

    def encode_batch(self, waves: Sequence[np.ndarray], setting: str) -> list[np.ndarray]:
        lengths = [w.size for w in waves]
        batch = torch.zeros(len(waves), 1, max(lengths))
        for i, w in enumerate(waves):
            batch[i, 0, : w.size] = torch.from_numpy(np.asarray(w, dtype=np.float32))
        codes = self.model.encode(batch, lengths=torch.tensor(lengths), n_q=self.setting(setting).n_q)
        return [codes[i, :, : self.model.frames_for(n)].numpy() for i, n in enumerate(lengths)]

    def decode(self, codes: np.ndarray, setting: str, length: int | None = None) -> np.ndarray:
        n_q = self.setting(setting).n_q
        tensor = torch.from_numpy(np.asarray(codes[:n_q], dtype=np.int64))[None]
        wave = self.model.decode(tensor, lengths=None if length is None else [length])
        return wave[0, 0].numpy()

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        return self.roundtrip_many(wave, [setting])[setting]

    def roundtrip_many(self, wave: np.ndarray, settings: Sequence[str]) -> dict[str, RoundTrip]:
        chosen = {s: self.setting(s) for s in settings}
        codes = self.encode(wave, str(max(c.n_q or 1 for c in chosen.values())))
        out = {}
        for name, s in chosen.items():
            sub = codes[: s.n_q]
            out[name] = RoundTrip(self.decode(sub, name, wave.size), packed_bytes(sub.size, self.codebook_size), sub)
        return out
