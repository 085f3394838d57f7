"""What every adapter shares: reading its name's parts (model vs settings) and the resampling-free frame loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from codecstudy.codec.interface import Codec, Setting, Streaming, parse_rate, require
from codecstudy.errors import CodecStudyError
from codecstudy.hub import HubModel


class ExternalCodec(Codec):
    """An adapter opened from ``KIND[:PART...]``: parts that read as a rate or count (``6kbps``, ``3200``, ``8``) are
    settings, the others describe the model (:meth:`configure`)."""

    def __init__(self, source: str, parts: Sequence[str] = ()) -> None:
        super().__init__(source)
        parts = [p for p in parts if p.strip()]
        model_parts = [p for p in parts if parse_rate(p) is None]
        self.configure(model_parts)
        self.load()
        self._selected = [self.setting(p).name for p in parts if parse_rate(p) is not None]

    @classmethod
    def hub_models(cls, source: str, parts: Sequence[str]) -> list[HubModel]:
        """What opening ``source`` (with these name parts) downloads from a hub, without opening it; classic codecs
        download nothing."""
        return []

    def load(self) -> None:
        """Import the codec's library (and build its model): a missing one fails here, before any work."""

    def configure(self, parts: list[str]) -> None:
        """Take the model parts of the name; classic codecs have none."""
        if parts:
            raise CodecStudyError(
                f"codec {self.source}: unexpected {parts[0]!r} (settings: {', '.join(s.name for s in self.settings())})"
            )


class ClassicCodec(ExternalCodec):
    """A classic codec: fixed sample rate and frame, settings that are bitrates, one library (imported when opened).

    Subclasses set :attr:`rate`, :attr:`frame` (samples, or None), :attr:`library` (module, what to install),
    :attr:`bitrates` (bits per second) and implement :meth:`roundtrip`."""

    rate: ClassVar[int] = 16000
    frame: ClassVar[int | None] = None
    library: ClassVar[tuple[str, str] | None] = None
    bitrates: ClassVar[tuple[int, ...]] = ()

    def _lib(self) -> Any:
        module, install = self.library or ("", "")
        return require(module, install, self.source) if module else None

    def load(self) -> None:
        self._lib()

    @property
    def sample_rate(self) -> int:
        return self.rate

    @property
    def frame_rate(self) -> float | None:
        return self.rate / self.frame if self.frame else None

    def streaming(self) -> Streaming:
        return Streaming(True, True, "the library codes one frame at a time, and the adapter feeds it frame by frame")

    def settings(self) -> list[Setting]:
        """``6kbps``-style names (``6.6kbps`` where the rate is not whole kbps)."""
        return [Setting(f"{b / 1000:g}kbps", float(b)) for b in self.bitrates]
