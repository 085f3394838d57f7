"""One clip through any codec and back, as a listener hears it: what the report's players and the listening test play.

The scorer keeps its own loop (codecstudy models encode once at the largest n_q and decode every bitrate from the
same codes, and sample-aligned metrics need the delay it calibrates). Here the codec's *stated* delay is removed so
that a listener switching between the reference and a codec hears the same moment; a delay the codec does not
state stays in (the study's calibrated one is in its ``eval/<codec>/<set>/delay.json``).
"""

from __future__ import annotations

import numpy as np

from codecstudy.codec.interface import Codec, fit_length


def report_setting(codec: Codec, n_q: int, override: str | None = None) -> str:
    """The setting a codec is heard at: ``override`` (a baseline's chosen setting), else codecstudy models at the
    report's number of codebooks (at most theirs), else the first setting the codec's name selects."""
    if override:
        return override
    if codec.kind == "native":
        return str(min(n_q, len(codec.settings())))
    return codec.default_settings()[0]


def roundtrip(codec: Codec, samples: np.ndarray, setting: str) -> np.ndarray:
    """Mono ``samples`` at the codec's rate through the codec at ``setting``, its stated delay removed, cut or
    padded to the input's length."""
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    decoded = codec.roundtrip(samples, setting).audio
    delay = codec.delay_samples(setting) or 0
    return fit_length(decoded[max(0, delay):], samples.size)
