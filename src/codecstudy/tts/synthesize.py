"""Text -> phonemes -> codec tokens (TTS model) -> waveform (the codec's decoder)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from codecstudy.errors import CodecStudyError
from codecstudy.tts.bundle import TTSBundle
from codecstudy.tts.frontend import text_to_ids


@dataclass
class Synthesis:
    wave: np.ndarray  # [T] float32 at sample_rate
    sample_rate: int
    codes: torch.Tensor  # [n_q, frames]
    durations: list[int]  # frames per input symbol (BOS/EOS included)


def resolve_speaker(bundle: TTSBundle, speaker: str | None) -> int:
    """Index of a speaker name (the first speaker when None); an unknown name lists the known ones."""
    if speaker is None:
        return 0
    if speaker not in bundle.speakers:
        raise CodecStudyError(f"unknown speaker {speaker!r}; the model knows: {', '.join(bundle.speakers)}")
    return bundle.speakers.index(speaker)


def synthesize(
    bundle: TTSBundle,
    text: str,
    language: str,
    speaker: str | None = None,
    pace: float = 1.0,
    temperature: float = 0.0,
    seed: int = 0,
) -> Synthesis:
    """Speak ``text``; deterministic for ``temperature`` 0 (argmax tokens), seeded sampling otherwise."""
    if pace <= 0:
        raise CodecStudyError("pace must be positive")
    ids = text_to_ids(text, language, bundle.table)
    language_index = bundle.languages.index(language)
    generator = torch.Generator().manual_seed(seed)
    codes, frame_lengths, durations = bundle.model.infer(
        torch.tensor([ids]),
        torch.tensor([len(ids)]),
        torch.tensor([resolve_speaker(bundle, speaker)]),
        torch.tensor([language_index]),
        pace=pace,
        temperature=temperature,
        generator=generator,
    )
    frames = int(frame_lengths[0])
    codes = codes[:, :, :frames]
    wave = bundle.codec.decode(codes, lengths=[frames * bundle.codec.hop_length])[0, 0]
    return Synthesis(
        wave=wave.numpy().astype(np.float32),
        sample_rate=bundle.codec.sample_rate,
        codes=codes[0],
        durations=durations[0, : len(ids)].tolist(),
    )
