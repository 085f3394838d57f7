"""What every adapter shares: reading its name's parts (model vs settings) and the resampling-free frame loop."""

from __future__ import annotations

from collections.abc import Sequence

from codecstudy.codec.interface import Codec, parse_rate
from codecstudy.errors import CodecStudyError


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

    def load(self) -> None:
        """Import the codec's library (and build its model): a missing one fails here, before any work."""

    def configure(self, parts: list[str]) -> None:
        """Take the model parts of the name; classic codecs have none."""
        if parts:
            raise CodecStudyError(
                f"codec {self.source}: unexpected {parts[0]!r} (settings: {', '.join(s.name for s in self.settings())})"
            )
