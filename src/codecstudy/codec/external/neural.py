"""What the pretrained neural codec adapters share: the torchaudio stub, seeded random weights, batching.

Weights come from a local file or folder, a hub name (downloaded by the package's own code, for users with
internet), or ``random`` (untrained, seeded: what the tests use offline). Every adapter keeps the package's own
model class, so the codes are the package's codes.
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from codecstudy.codec.external.base import ExternalCodec
from codecstudy.codec.interface import RoundTrip, Setting, Streaming, fit_length, packed_bytes, parse_rate, require
from codecstudy.errors import CodecStudyError
from codecstudy.hub import HubModel

RANDOM = "random"
SEED = 0


def stub_torchaudio() -> None:
    """Make ``import torchaudio`` succeed with an empty module when the real one cannot be imported.

    encodec and descript-audio-codec import torchaudio at module level but use it only for file I/O and
    resampling helpers that codecstudy never calls (it passes tensors at the model's rate). PyPI's torchaudio has no
    build for torch 2.13 CPU (the 2.11 wheel fails to import), so installing it is not an option. The stub is
    placed only when the real import fails, and only when one of these adapters is opened.
    """
    try:
        import torchaudio  # noqa: F401 - optional package, only tried here (see above)
    except Exception:  # noqa: BLE001 - a broken CUDA build fails with OSError, a missing one with ImportError
        for name in [n for n in sys.modules if n == "torchaudio" or n.startswith("torchaudio.")]:
            del sys.modules[name]
        stub = types.ModuleType("torchaudio")
        stub.__doc__ = "empty stand-in placed by codecstudy.codec.external.neural.stub_torchaudio"
        sys.modules["torchaudio"] = stub


class NeuralCodec(ExternalCodec):
    """A token codec from another package; subclasses build ``self.model`` and implement ``_encode/_decode``."""

    has_tokens = True
    bitrate_counts = "codes packed at ceil(log2(codebook size)) bits (no entropy coding, no container)"
    package = ""  # the pip name, for errors
    install = ""
    variants: tuple[str, ...] = ()

    def configure(self, parts: list[str]) -> None:
        self.variant, self.weights_from = self.model_parts(self.source, parts)

    @classmethod
    def model_parts(cls, source: str, parts: Sequence[str]) -> tuple[str, str | None]:
        """``(variant, weights)`` from a name's model parts; weights None means the variant's published ones."""
        variant, weights = cls.variants[0], None
        for part in parts:
            if part.lower() in cls.variants:
                variant = part.lower()
            elif weights is None:
                weights = part
            else:
                raise cls._part_error(source, part)
        return variant, weights

    @classmethod
    def hub_models(cls, source: str, parts: Sequence[str]) -> list[HubModel]:
        """The weights opening ``source`` downloads (none for random or local weights): fetched by opening the
        codec, the same download its :meth:`build` makes."""
        variant, weights = cls.model_parts(source, [p for p in parts if parse_rate(p) is None])
        if weights == RANDOM:
            return []
        return cls.published(source, variant, weights, lambda: cls(source, parts))

    @classmethod
    def published(cls, source: str, variant: str, weights: str | None,
                  fetch: Callable[[], object]) -> list[HubModel]:
        """The hub download of ``variant`` (``weights`` None) or of the hub name ``weights``; adapters whose package
        downloads something declare it here."""
        return []

    @classmethod
    def _part_error(cls, source: str, part: str, settings: str = "") -> CodecStudyError:
        return CodecStudyError(
            f"codec {source}: unexpected {part!r} (model variants: {', '.join(cls.variants)}; weights: a path, a "
            f"hub name or {RANDOM!r}{settings})"
        )

    def _bad_part(self, part: str) -> Exception:
        settings = f"; settings: {', '.join(s.name for s in self.settings())}" if hasattr(self, "model") else ""
        return self._part_error(self.source, part, settings)

    def codebook_settings(self, n_codebooks: int) -> list[Setting]:
        """One setting per number of residual codebooks (``"1"`` .. ``"N"``), each codebook costing
        ceil(log2(codebook size)) bits per frame, as :attr:`bitrate_counts` says the codes are packed."""
        bits = math.ceil(math.log2(self.codebook_size)) * self.frame_rate
        return [Setting(str(n), n * bits, n) for n in range(1, n_codebooks + 1)]

    def torch(self) -> Any:
        return require("torch", "torch", self.source)

    def load(self) -> None:
        torch = self.torch()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            self.model = self.build().eval()

    def build(self) -> Any:
        """The package's model with the weights :attr:`weights_from` names."""
        raise NotImplementedError

    def weights(self) -> str:
        if self.weights_from == RANDOM:
            return f"random initialisation (seed {SEED}): untrained, for tests"
        if self.weights_from:
            return f"{self.weights_from} (a local path, else a hub name fetched by {self.package})"
        return f"the published {self.variant} weights, downloaded by {self.package} on first use"

    def streaming(self) -> Streaming:
        return Streaming(False, False, "this adapter codes whole clips; the package declares no streaming mode")

    def identity(self) -> str:
        return f"{self.kind}:{self.variant}:{self.weights_from or 'published'}"

    # ----------------------------------------------------------------------------------------------- coding
    def _encode(self, batch: Any, setting: Setting) -> Any:
        """``[B, 1, T]`` tensor -> codes tensor ``[B, n_q, F]`` (or the package's own structure)."""
        raise NotImplementedError

    def _decode(self, codes: Any, setting: Setting) -> Any:
        """Codes as :meth:`_encode` returns them -> ``[B, 1, T']`` tensor."""
        raise NotImplementedError

    def _to_array(self, codes: Any, index: int) -> np.ndarray:
        return codes[index].cpu().numpy()

    def _from_array(self, codes: np.ndarray) -> Any:
        return self.torch().from_numpy(np.asarray(codes, dtype=np.int64))[None]

    def encode_batch(self, waves: Sequence[np.ndarray], setting: str) -> list[np.ndarray]:
        """Clips of equal length go through the model together; others alone, since zero padding would change
        the codes near a shorter clip's end (these models are not length-aware). So batch codes equal clip codes."""
        torch = self.torch()
        s = self.setting(setting)
        out: list[np.ndarray | None] = [None] * len(waves)
        by_length: dict[int, list[int]] = {}
        for i, w in enumerate(waves):
            by_length.setdefault(int(np.asarray(w).size), []).append(i)
        for indices in by_length.values():
            batch = torch.from_numpy(np.stack([np.asarray(waves[i], dtype=np.float32) for i in indices]))[:, None]
            with torch.inference_mode():
                codes = self._encode(batch, s)
            for j, i in enumerate(indices):
                out[i] = self._to_array(codes, j)
        return [c for c in out if c is not None]

    def encode(self, wave: np.ndarray, setting: str) -> np.ndarray:
        return self.encode_batch([wave], setting)[0]

    def decode(self, codes: np.ndarray, setting: str, length: int | None = None) -> np.ndarray:
        torch = self.torch()
        with torch.inference_mode():
            wave = self._decode(self._from_array(codes), self.setting(setting))[0, 0].cpu().numpy()
        return wave if length is None else fit_length(wave, length)

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        codes = self.encode(wave, setting)
        n_codes = sum(np.asarray(c).size for c in codes) if isinstance(codes, list) else codes.size
        return RoundTrip(self.decode(codes, setting, wave.size), packed_bytes(n_codes, int(self.codebook_size or 2)),
                         codes if isinstance(codes, np.ndarray) else None)
