"""Codecs that codecstudy does not train, one small module per codec, registered here by name.

A name on the command line or in a study's ``baselines:`` is ``KIND[:PART[:PART...]]``: the kind picks the module
below, and each part is either one of the codec's settings (``opus:6kbps``, ``codec2:3200``) or, for neural
codecs, the model (``encodec:24khz``, ``dac:16khz``, ``snac:/path/to/folder``, ``mimi:kyutai/moshiko-pytorch-bf16``).
Every module imports its library only when a codec is opened, and fails with one line naming the extra or package
to install (:func:`codecstudy.codec.interface.require`). Names of other kinds (``espnet:PATH``, checkpoints,
presets) are codecstudy models, loaded by :func:`codecstudy.codec.catalog.load_codec`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A registered codec kind: where its class lives and a line for ``codecstudy codec list``."""

    module: str
    cls: str
    family: str  # "classic" or "neural"
    summary: str
    install: str


KINDS: dict[str, Kind] = {
    "opus": Kind("opus", "Opus", "classic", "Opus (libopus, CBR, 20 ms frames, VoIP mode) 6-12 kbps at 16 kHz",
                 "the 'classic' extra (pip install opuslib-next-bundled)"),
    "codec2": Kind("codec2", "Codec2", "classic", "Codec2 700/1200/1600/2400/3200 bps at 8 kHz (libcodec2)",
                   "the 'classic' extra (pip install pycodec2)"),
    "mp3": Kind("mp3", "MP3", "classic", "MP3 (LAME via libsndfile) at its lowest rates, 16 kHz",
                "soundfile with libsndfile >= 1.1 (a core dependency)"),
    "lc3": Kind("lc3", "LC3", "classic", "LC3 (liblc3, 10 ms frames) 16-32 kbps at 16 kHz",
                "the 'classic' extra (pip install lc3py)"),
    "amrwb": Kind("amrwb", "AMRWB", "classic", "AMR-WB 6.6-23.85 kbps at 16 kHz (VisualOn encoder, opencore decoder)",
                  "the Debian packages libvo-amrwbenc0 and libopencore-amrwb0 (apt-get install)"),
    "g722": Kind("g722", "G722", "classic", "G.722 64 kbps at 16 kHz (ITU-T wide-band ADPCM)",
                 "the G722 package (a core dependency)"),
    "encodec": Kind("encodec", "EnCodec", "neural", "Meta's EnCodec 24 kHz (1.5-24 kbps) and 48 kHz",
                    "the 'encodec' package: make codecs (pip install --no-deps encodec einops)"),
    "dac": Kind("dac", "DAC", "neural", "Descript Audio Codec 16/24/44 kHz",
                "the 'dac' packages: make codecs (descript-audio-codec and descript-audiotools, --no-deps)"),
    "snac": Kind("snac", "SNAC", "neural", "SNAC multi-scale codec 24/32/44 kHz",
                 "the 'snac' extra (pip install snac)"),
    "mimi": Kind("mimi", "Mimi", "neural", "Kyutai's Mimi (moshi) 24 kHz, 12.5 Hz, up to 32 codebooks",
                 "the 'moshi' package: make codecs (pip install --no-deps moshi + its small deps)"),
}


def kind_class(kind: str) -> type:
    """The adapter class of a registered kind (imports its module, not its library)."""
    entry = KINDS[kind]
    return getattr(importlib.import_module(f"{__name__}.{entry.module}"), entry.cls)
