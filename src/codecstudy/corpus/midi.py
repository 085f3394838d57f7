"""Render MIDI files to audio with a SoundFont, so that MIDI-only music (OpenTTD's openmsx) becomes corpus audio.

The renderer is ``tinysoundfont`` (PyPI, MIT): a compiled TinySoundFont with a Python sequencer, so no
``fluidsynth`` binary or audio device is needed. It declares ``pyaudio`` as a dependency although rendering
never plays anything, and pyaudio does not build everywhere, hence the ``--no-deps`` install hint.

Renders are cached and reproducible: the synthesiser is a pure function of (MIDI, SoundFont, sample rate), it
runs single-threaded, and the output is written without dither, so the same inputs give the same samples.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from codecstudy import audio
from codecstudy.errors import CodecStudyError
from codecstudy.files import atomic_path

INSTALL_HINT = "pip install --no-deps tinysoundfont==0.3.7"
SAMPLE_RATE = 44100
PEAK_DB = -1.0
DRUM_CHANNEL = 9  # General MIDI channel 10
BLOCK_SECONDS = 1.0
TAIL_BLOCK_SECONDS = 0.1
MAX_TAIL_SECONDS = 5.0
SILENCE_PEAK = 1e-4  # -80 dBFS, before normalisation: below this a release tail is inaudible
MAX_SECONDS = 3600.0  # a guard against a MIDI file whose last event lies hours away


class SynthLike(Protocol):
    def generate(self, samples: int) -> memoryview: ...


class SequencerLike(Protocol):
    def is_empty(self) -> bool: ...


def tinysoundfont_available() -> bool:
    try:
        importlib.import_module("tinysoundfont")
    except ImportError:
        return False
    return True


def _import_tinysoundfont():  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module("tinysoundfont")
    except ImportError:
        raise CodecStudyError(f"MIDI rendering needs tinysoundfont: {INSTALL_HINT}") from None


def run_sequence(
    synth: SynthLike,
    sequencer: SequencerLike,
    sample_rate: int,
    *,
    block_seconds: float = BLOCK_SECONDS,
    tail_block_seconds: float = TAIL_BLOCK_SECONDS,
    max_tail_seconds: float = MAX_TAIL_SECONDS,
    silence_peak: float = SILENCE_PEAK,
    max_seconds: float = MAX_SECONDS,
) -> np.ndarray:
    """Pull stereo float32 blocks from ``synth`` until the sequence has ended and the release tail has died away.

    The sequencer only says when its last *event* has been sent; notes then still ring (release envelopes,
    reverb), so after the end we keep rendering short blocks until one is below ``silence_peak`` or
    ``max_tail_seconds`` have passed. Returns ``[2, T]``.
    """
    blocks: list[np.ndarray] = []
    block = max(1, int(round(block_seconds * sample_rate)))
    limit = int(max_seconds * sample_rate)
    total = 0
    while not sequencer.is_empty() and total < limit:
        blocks.append(_frames(synth.generate(block)))
        total += block
    tail_block = max(1, int(round(tail_block_seconds * sample_rate)))
    tail = 0
    while tail < max_tail_seconds * sample_rate:
        chunk = _frames(synth.generate(tail_block))
        blocks.append(chunk)
        tail += tail_block
        if float(np.max(np.abs(chunk))) < silence_peak:
            break
    samples = np.concatenate(blocks, axis=0) if blocks else np.zeros((0, 2), np.float32)
    return trim_trailing_silence(samples.T, silence_peak)


def _frames(buffer: memoryview | bytes | bytearray) -> np.ndarray:
    """Interleaved stereo float32 bytes -> ``[T, 2]`` (a copy: tinysoundfont may reuse its buffer)."""
    return np.frombuffer(buffer, dtype=np.float32).reshape(-1, 2).copy()


def trim_trailing_silence(samples: np.ndarray, threshold: float) -> np.ndarray:
    """Cut the end after the last sample above ``threshold`` in any channel (``[C, T]``)."""
    loud = np.flatnonzero(np.max(np.abs(samples), axis=0) >= threshold) if samples.size else np.array([], int)
    end = int(loud[-1]) + 1 if loud.size else 0
    return samples[:, :end]


def synthesize(midi: Path, soundfont: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Render ``midi`` with ``soundfont`` and return unnormalised ``[2, T]`` float32 samples."""
    tsf = _import_tinysoundfont()
    synth = tsf.Synth(samplerate=sample_rate)
    try:
        sfid = synth.sfload(str(soundfont))
    except Exception as exc:  # the binding raises RuntimeError or its own exception type
        raise CodecStudyError(f"{soundfont}: cannot load SoundFont ({exc})") from None
    # General MIDI defaults before the file's own program changes: piano everywhere, drums on channel 10.
    # Without this a file that never sends a program change to channel 10 would play its drums as piano.
    for channel in range(16):
        try:
            if channel == DRUM_CHANNEL:
                synth.program_select(channel, sfid, 128, 0, True)
            else:
                synth.program_select(channel, sfid, 0, 0, False)
        except Exception:  # a SoundFont without a drum bank: leave the channel as the binding set it
            pass
    sequencer = tsf.Sequencer(synth)
    try:
        try:
            # persistent=False drops sent events; persistent ones are rescanned on every step (quadratic time).
            sequencer.midi_load(str(midi), persistent=False)
        except Exception as exc:
            raise CodecStudyError(f"{midi}: cannot read MIDI file ({exc})") from None
        return run_sequence(synth, sequencer, sample_rate)
    finally:
        # The synth and its sequencer reference each other (the sequencer callback), so without this the
        # decoded SoundFont (hundreds of MB for FluidR3) would wait for the cycle collector, and a batch of
        # renders would hold several copies at once.
        synth.callback = None
        synth.sfunload(sfid)


def write_rendered(samples: np.ndarray, sample_rate: int, out: Path, peak_db: float = PEAK_DB) -> Path:
    """Peak-normalise and write 16-bit audio to ``out`` atomically (temporary file, then rename).

    Raw synthesiser output regularly peaks above full scale (many voices summed), so every render is scaled
    to the same peak; a half-written file is never left under the final name.
    """
    if samples.size == 0 or not np.any(samples):
        raise CodecStudyError(f"{out.name}: the MIDI rendering is silent")
    normalised = audio.normalize_peak(samples, peak_db)
    with atomic_path(out) as tmp:
        audio.write(tmp, normalised, sample_rate, subtype="PCM_16")
    return out


def render_midi(
    midi: Path,
    soundfont: Path,
    out: Path,
    sample_rate: int = SAMPLE_RATE,
    peak_db: float = PEAK_DB,
    synthesize_fn: Callable[[Path, Path, int], np.ndarray] | None = None,
) -> Path:
    """Render ``midi`` to ``out`` (FLAC or WAV by suffix) unless ``out`` already exists; return ``out``."""
    out = Path(out)
    if out.is_file():
        return out
    samples = (synthesize_fn or synthesize)(Path(midi), Path(soundfont), sample_rate)
    return write_rendered(samples, sample_rate, out, peak_db)
