"""One interface for every codec a study scores: the ones codecstudy trains and the ones it does not.

Evaluation, the study runner and the report only talk to :class:`Codec`, so they never ask where a codec came
from. A codec offers named *settings* (a number of codebooks ``"4"`` for a residual-VQ model, ``"6kbps"`` for
Opus, ``"3200"`` for Codec2), each with its nominal bitrate. Every codec can do a plain :meth:`Codec.roundtrip`
(audio in, decoded audio and the number of bytes produced out), which is all classic codecs offer through their
libraries; codecs with tokens also :meth:`Codec.encode` and :meth:`Codec.decode`.

Audio is a 1-D float32 NumPy array at :attr:`Codec.sample_rate`. A round trip returns the decoded stream *as the
codec produced it*: its algorithmic delay is not removed (:meth:`Codec.delay_samples` says how large it is, when
the codec or its library knows), and it is at least as long as the input, so that nothing of the input is lost
to the delay.

The measured bitrate is ``bytes produced * 8 / seconds of input``; :attr:`Codec.bitrate_counts` says what the
bytes are (raw codec packets, packed token bits, or a whole file with its container headers).
"""

from __future__ import annotations

import importlib
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from codecstudy.errors import CodecStudyError


class MissingPackageError(CodecStudyError):
    """A codec's library is not installed; the message names the extra or package that provides it."""


def require(module: str, install: str, codec: str) -> Any:
    """``import module`` or fail with one line naming what to install (``install``: an extra or a pip line)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingPackageError(
            f"codec {codec} needs the Python module {module!r} ({exc.__class__.__name__}: {exc}); install {install}"
        ) from None


@dataclass(frozen=True)
class Setting:
    """One operating point of a codec: its name, nominal bitrate and (for token codecs) number of codebooks."""

    name: str
    nominal_bps: float | None
    n_q: int | None = None

    @property
    def label(self) -> str:
        """Human text: ``6 kbps``, ``4 codebooks (2 kbps)``."""
        rate = "" if self.nominal_bps is None else f"{self.nominal_bps / 1000:g} kbps"
        if self.n_q is not None:
            return f"{self.n_q} codebooks" + (f" ({rate})" if rate else "")
        return rate or self.name


@dataclass(frozen=True)
class Streaming:
    """Whether audio can be encoded and decoded as it arrives (chunk by chunk), and why or why not: what a codec
    card shows beside the latency, declared by the codec or its adapter."""

    encode: bool
    decode: bool
    reason: str


@dataclass(frozen=True)
class Latency:
    """A codec's algorithmic latency at its sample rate: the frame it must gather before coding it plus the
    look-ahead it reads past that frame (None: not stated), and where these numbers come from."""

    frame: int
    lookahead: int | None
    source: str


@dataclass
class RoundTrip:
    """A clip through a codec: decoded audio (delay kept), the bytes the codec produced, its codes if any."""

    audio: np.ndarray
    n_bytes: int
    codes: np.ndarray | None = None  # [n_q, frames] for token codecs

    def measured_bps(self, n_input_samples: int, sample_rate: int) -> float:
        return self.n_bytes * 8.0 * sample_rate / max(1, n_input_samples)


_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)\s*(k|kbps|kb/s|bps|b/s)?$")


def parse_rate(text: str) -> float | None:
    """``"6kbps"``, ``"6k"``, ``"6000"``, ``"3.2kbps"`` -> bits per second; other text -> None."""
    match = _NUMBER.match(text.strip().lower())
    if not match:
        return None
    value = float(match.group(1))
    return value * 1000 if match.group(2) in ("k", "kbps", "kb/s") else value


def packed_bytes(n_codes: int, codebook_size: int) -> int:
    """Bytes of ``n_codes`` indices packed at ``ceil(log2(codebook_size))`` bits each (no entropy coding)."""
    return math.ceil(n_codes * max(1, math.ceil(math.log2(codebook_size))) / 8)


class Codec(ABC):
    """What a study scores. Subclasses fill the class attributes and implement :meth:`settings` and
    :meth:`roundtrip` (token codecs also :meth:`encode`/:meth:`decode`)."""

    kind: ClassVar[str] = ""
    #: what the measured bitrate counts (recorded beside it in every result's meta.json)
    bitrate_counts: ClassVar[str] = "codec payload bytes, no container"
    has_tokens: ClassVar[bool] = False
    #: codes at n codebooks are the first n rows of the codes at more (residual VQ), so one encoding serves all
    nested_codes: ClassVar[bool] = False

    def __init__(self, source: str, selected: Sequence[str] = ()) -> None:
        self.source = source
        self._selected = list(selected)

    # ------------------------------------------------------------------------------------------- description
    @property
    @abstractmethod
    def sample_rate(self) -> int: ...

    @property
    def frame_rate(self) -> float | None:
        """Frames (tokens or packets) per second, when the codec works in frames."""
        return None

    @property
    def codebook_size(self) -> int | None:
        return None

    @property
    def name(self) -> str:
        """Short display name: the source without folders."""
        return self.source.rsplit("/", 1)[-1]

    def weights(self) -> str:
        """Where the weights come from (classic codecs: the library)."""
        return "none: a classic codec (its library)"

    @abstractmethod
    def settings(self) -> list[Setting]:
        """Every setting the codec offers, lowest bitrate first."""

    def default_settings(self) -> list[str]:
        """The settings named in the codec's name (``opus:6kbps``), else every one it offers."""
        return list(self._selected) or [s.name for s in self.settings()]

    def setting(self, name: str | int) -> Setting:
        """The setting called ``name`` (also by its bitrate: ``6000``, ``6k``); else one line listing them."""
        text = str(name).strip()
        offered = self.settings()
        for s in offered:
            if s.name.lower() == text.lower():
                return s
        rate = parse_rate(text)
        if rate is not None:
            for s in offered:
                if s.nominal_bps is not None and math.isclose(s.nominal_bps, rate, rel_tol=1e-6):
                    return s
        raise CodecStudyError(
            f"codec {self.source} has no setting {text!r}; it offers: {', '.join(s.name for s in offered)}"
        )

    def delay_samples(self, setting: str) -> int | None:
        """Algorithmic delay at :attr:`sample_rate` for one setting when the codec's structure or library states
        it exactly; None when unknown (the scorer then estimates it over many clips)."""
        return None

    def streaming(self) -> Streaming:
        """Whether this codec codes audio chunk by chunk (codecs and adapters that know say so)."""
        return Streaming(False, False, "not declared by this codec")

    def declared_latency(self, setting: str) -> Latency | None:
        """Frame and look-ahead as the codec's documentation or library states them; None when it states none
        (codecstudy models compute theirs from their layers: :mod:`codecstudy.codec.cost`)."""
        return None

    def identity(self) -> str:
        """A string that changes when the decoded audio would (results of another identity are not mixed)."""
        return f"{self.kind}:{self.source}"

    def info(self) -> dict[str, Any]:
        """What ``codecstudy codec info`` prints."""
        return {
            "codec": f"{self.source} ({self.kind})",
            "sample rate": f"{self.sample_rate} Hz",
            "frame rate": "n/a" if self.frame_rate is None else f"{self.frame_rate:g} frames/s",
            "tokens": (f"yes, codebooks of {self.codebook_size}" if self.codebook_size else "yes")
            if self.has_tokens else "no (round trip only)",
            "settings": ", ".join(f"{s.name} = {s.label}" for s in self.settings()),
            "delay": ", ".join(
                f"{s.name}: {'calibrated by the scorer' if d is None else f'{d} samples'}"
                for s in self.settings()
                for d in [self.delay_samples(s.name)]
            ),
            "bitrate counts": self.bitrate_counts,
            "weights": self.weights(),
        }

    # ------------------------------------------------------------------------------------------------ coding
    @abstractmethod
    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        """Encode and decode one clip at ``setting``; ``wave`` 1-D float at :attr:`sample_rate`."""

    def roundtrip_many(self, wave: np.ndarray, settings: Sequence[str]) -> dict[str, RoundTrip]:
        """One clip at several settings (codecs with nested codes encode once)."""
        return {s: self.roundtrip(wave, s) for s in settings}

    def encode(self, wave: np.ndarray, setting: str) -> np.ndarray:
        """Codes ``[n_q, frames]`` of one clip (token codecs only)."""
        raise CodecStudyError(f"codec {self.source} has no token access; only a round trip")

    def decode(self, codes: np.ndarray, setting: str, length: int | None = None) -> np.ndarray:
        """Audio from codes ``[n_q, frames]`` (token codecs only), cut to ``length`` samples when given."""
        raise CodecStudyError(f"codec {self.source} has no token access; only a round trip")

    def encode_batch(self, waves: Sequence[np.ndarray], setting: str) -> list[np.ndarray]:
        """Codes of several clips; token codecs that batch override this (it must equal clip-by-clip codes)."""
        return [self.encode(w, setting) for w in waves]


def as_mono_float(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"audio must be 1-D (mono), got shape {wave.shape}")
    return wave


def to_int16(wave: np.ndarray) -> np.ndarray:
    """Float [-1, 1] -> int16 PCM (clipped), what most classic codec libraries take."""
    return (np.clip(wave, -1.0, 32767 / 32768) * 32768.0).round().astype(np.int16)


def from_int16(pcm: np.ndarray | bytes) -> np.ndarray:
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        pcm = np.frombuffer(pcm, dtype=np.int16)
    return np.asarray(pcm, dtype=np.float32) / 32768.0


def fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad to ``length`` samples."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.size >= length:
        return wave[:length]
    return np.concatenate([wave, np.zeros(length - wave.size, dtype=np.float32)])
