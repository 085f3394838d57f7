"""FastSpeech2-style non-autoregressive TTS that predicts a codec's token streams instead of a mel spectrogram.

Layout (FastSpeech 2, Ren et al. 2021, adapted as in the paper under study): phoneme embedding (+ language
embedding) -> encoder of FFT blocks (self-attention + convolutional feed-forward) -> (+ speaker embedding) ->
variance adaptor (duration, pitch and energy predictors; pitch and energy enter as 1-D convolutions of their
phoneme-level values, as in FastPitch) -> length regulator (each phoneme repeated for its duration in codec
frames) -> decoder of FFT blocks -> one linear classification head per codebook, giving logits
``[B, n_q, frames, codebook_size]``.

The heads are independent given the decoder state: a codebook's token is not conditioned on the coarser
codebooks' tokens (the paper's design; it is what makes the model non-autoregressive in both time and depth,
and part of why residual codebooks are hard targets).

Durations in training come from the jointly trained :class:`~codecstudy.tts.aligner.Aligner` through MAS (see
:meth:`FastSpeech2Tokens.align`), in synthesis from the duration predictor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codecstudy.tts.aligner import Aligner, diagonal_prior, durations_from_path, monotonic_alignment_search
from codecstudy.tts.config import ModelConfig


def lengths_mask(lengths: Tensor, size: int) -> Tensor:
    """True at valid positions ``[B, size]``."""
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


def sinusoids(length: int, dim: int, device: torch.device) -> Tensor:
    """Transformer positional encoding ``[length, dim]``."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : dim // 2]
    return table


class FFTBlock(nn.Module):
    """Self-attention and a Conv1d feed-forward, each residual with post-LayerNorm (FastSpeech's FFT block)."""

    def __init__(self, dim: int, heads: int, ff_dim: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.conv1 = nn.Conv1d(dim, ff_dim, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(ff_dim, dim, 1)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x`` ``[B, T, D]``, ``mask`` True at valid positions ``[B, T]``."""
        attended, _ = self.attention(x, x, x, key_padding_mask=~mask, need_weights=False)
        x = self.norm1(x + self.dropout(attended)) * mask[:, :, None]
        hidden = self.conv2(F.relu(self.conv1(x.transpose(1, 2)))).transpose(1, 2)
        return self.norm2(x + self.dropout(hidden)) * mask[:, :, None]


class VariancePredictor(nn.Module):
    """Two Conv1d-ReLU-LayerNorm-Dropout layers and a linear output: one value per position ``[B, N]``."""

    def __init__(self, dim: int, channels: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(dim, channels, kernel, padding=kernel // 2)
        self.norm1 = nn.LayerNorm(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        self.norm2 = nn.LayerNorm(channels)
        self.out = nn.Linear(channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.dropout(self.norm1(F.relu(self.conv1(x.transpose(1, 2))).transpose(1, 2)))
        h = self.dropout(self.norm2(F.relu(self.conv2(h.transpose(1, 2))).transpose(1, 2)))
        return self.out(h).squeeze(-1) * mask


def length_regulate(x: Tensor, durations: Tensor, max_frames: int | None = None) -> tuple[Tensor, Tensor]:
    """Repeat each phoneme state ``x[b, i]`` ``durations[b, i]`` times: ``[B, N, D]`` -> ``([B, T, D], lengths)``.

    Written as a gather with a frame -> phoneme index (cumulative durations), which batches without a Python
    loop over items.
    """
    durations = durations.long().clamp_min(0)
    lengths = durations.sum(dim=1)
    frames = int(lengths.max().item()) if max_frames is None else max_frames
    frames = max(frames, 1)
    ends = durations.cumsum(dim=1)  # [B, N]
    t = torch.arange(frames, device=x.device)[None, :, None]  # [1, T, 1]
    index = (t >= ends[:, None, :]).sum(dim=-1).clamp_max(x.shape[1] - 1)  # [B, T]
    out = torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))
    return out * lengths_mask(lengths, frames)[:, :, None], lengths


def phoneme_average(path: Tensor, values: Tensor, weights: Tensor | None = None) -> Tensor:
    """Average of frame values ``[B, T]`` over each phoneme's frames under a hard alignment ``[B, N, T]``.

    ``weights`` (e.g. the voicing of each frame) restricts the average; a phoneme with no weighted frame gets 0.
    """
    w = path if weights is None else path * weights[:, None, :]
    total = torch.bmm(w, values[:, :, None]).squeeze(-1)
    count = w.sum(dim=-1)
    return torch.where(count > 0, total / count.clamp_min(1e-6), torch.zeros_like(total))


@dataclass
class TTSOutput:
    """What one training forward pass gives the loss."""

    logits: Tensor  # [B, n_q, T, K]
    frame_mask: Tensor  # [B, T]
    log_duration: Tensor  # [B, N] predicted log(1 + frames)
    pitch: Tensor  # [B, N] predicted
    energy: Tensor  # [B, N] predicted
    durations: Tensor  # [B, N] from MAS (targets)
    pitch_target: Tensor  # [B, N]
    energy_target: Tensor  # [B, N]
    text_mask: Tensor  # [B, N]
    align_log_prob: Tensor  # [B, N, T]


class FastSpeech2Tokens(nn.Module):
    """Text ids -> ``n_q`` codec token streams (see the module docstring)."""

    def __init__(
        self,
        config: ModelConfig,
        n_symbols: int,
        codebook_size: int,
        n_mels: int,
        n_speakers: int = 1,
        n_languages: int = 1,
    ) -> None:
        super().__init__()
        d = config.dim
        self.config = config
        self.codebook_size = codebook_size
        self.n_q = config.n_q
        self.embedding = nn.Embedding(n_symbols, d, padding_idx=0)
        self.language = nn.Embedding(n_languages, d) if n_languages > 1 else None
        self.speaker = nn.Embedding(n_speakers, d) if n_speakers > 1 else None
        block = (d, config.heads, config.ff_dim, config.ff_kernel, config.dropout)
        self.encoder = nn.ModuleList(FFTBlock(*block) for _ in range(config.encoder_layers))
        predictor = (d, config.predictor_dim, config.predictor_kernel, config.dropout)
        self.duration_predictor = VariancePredictor(*predictor)
        self.pitch_predictor = VariancePredictor(*predictor)
        self.energy_predictor = VariancePredictor(*predictor)
        self.pitch_embedding = nn.Conv1d(1, d, 3, padding=1)
        self.energy_embedding = nn.Conv1d(1, d, 3, padding=1)
        self.decoder = nn.ModuleList(FFTBlock(*block) for _ in range(config.decoder_layers))
        self.heads = nn.Linear(d, config.n_q * codebook_size)
        self.aligner = Aligner(d, n_mels, config.aligner_dim)

    # --------------------------------------------------------------------------------------------- parts
    def encode_text(
        self, ids: Tensor, text_lengths: Tensor, speakers: Tensor | None = None, languages: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(hidden [B, N, D], mask [B, N], raw embeddings [B, N, D])``."""
        mask = lengths_mask(text_lengths, ids.shape[1])
        emb = self.embedding(ids)
        x = emb
        if self.language is not None and languages is not None:
            x = x + self.language(languages)[:, None, :]
        x = (x + sinusoids(ids.shape[1], x.shape[2], ids.device)[None]) * mask[:, :, None]
        for block in self.encoder:
            x = block(x, mask)
        if self.speaker is not None and speakers is not None:
            x = x + self.speaker(speakers)[:, None, :]
        return x * mask[:, :, None], mask, emb

    def _add_variances(self, x: Tensor, pitch: Tensor, energy: Tensor, mask: Tensor) -> Tensor:
        p = self.pitch_embedding(pitch[:, None, :]).transpose(1, 2)
        e = self.energy_embedding(energy[:, None, :]).transpose(1, 2)
        return (x + p + e) * mask[:, :, None]

    def decode_frames(self, frames: Tensor, frame_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Length-regulated states ``[B, T, D]`` -> logits ``[B, n_q, T, K]`` and the frame mask."""
        mask = lengths_mask(frame_lengths, frames.shape[1])
        y = (frames + sinusoids(frames.shape[1], frames.shape[2], frames.device)[None]) * mask[:, :, None]
        for block in self.decoder:
            y = block(y, mask)
        logits = self.heads(y).view(y.shape[0], y.shape[1], self.n_q, self.codebook_size).transpose(1, 2)
        return logits, mask

    def align(
        self, emb: Tensor, mels: Tensor, text_lengths: Tensor, frame_lengths: Tensor, prior: bool
    ) -> tuple[Tensor, Tensor]:
        """Soft alignment log-probabilities ``[B, N, T]`` and the MAS hard path ``[B, N, T]``."""
        n, t = emb.shape[1], mels.shape[2]
        log_prior = diagonal_prior(text_lengths, frame_lengths, n, t) if prior else None
        log_prob = self.aligner(emb.detach().transpose(1, 2), mels, text_lengths, log_prior)
        path = monotonic_alignment_search(log_prob.detach(), text_lengths, frame_lengths)
        return log_prob, path

    # ----------------------------------------------------------------------------------------- training
    def forward(
        self,
        ids: Tensor,
        text_lengths: Tensor,
        mels: Tensor,
        pitch: Tensor,
        voiced: Tensor,
        energy: Tensor,
        frame_lengths: Tensor,
        speakers: Tensor | None = None,
        languages: Tensor | None = None,
        prior: bool = False,
    ) -> TTSOutput:
        """Teacher-forced pass: durations from MAS, pitch and energy targets averaged per phoneme over them."""
        x, text_mask, emb = self.encode_text(ids, text_lengths, speakers, languages)
        log_prob, path = self.align(emb, mels, text_lengths, frame_lengths, prior)
        durations = durations_from_path(path)
        pitch_target = phoneme_average(path, pitch, voiced)
        energy_target = phoneme_average(path, energy)
        log_duration = self.duration_predictor(x, text_mask)
        pitch_pred = self.pitch_predictor(x, text_mask)
        energy_pred = self.energy_predictor(x, text_mask)
        x = self._add_variances(x, pitch_target, energy_target, text_mask)
        frames, lengths = length_regulate(x, durations, max_frames=mels.shape[2])
        logits, frame_mask = self.decode_frames(frames, frame_lengths)
        return TTSOutput(
            logits=logits,
            frame_mask=frame_mask,
            log_duration=log_duration,
            pitch=pitch_pred,
            energy=energy_pred,
            durations=durations,
            pitch_target=pitch_target,
            energy_target=energy_target,
            text_mask=text_mask,
            align_log_prob=log_prob,
        )

    # ---------------------------------------------------------------------------------------- inference
    @torch.inference_mode()
    def infer(
        self,
        ids: Tensor,
        text_lengths: Tensor,
        speakers: Tensor | None = None,
        languages: Tensor | None = None,
        pace: float = 1.0,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Codes ``[B, n_q, T]``, frame lengths ``[B]`` and durations ``[B, N]`` from text alone.

        ``pace`` > 1 speaks slower. ``temperature`` 0 takes the most likely token per frame and codebook;
        above 0 it samples from the softened distribution (seeded by ``generator``).
        """
        x, mask, _ = self.encode_text(ids, text_lengths, speakers, languages)
        log_duration = self.duration_predictor(x, mask)
        durations = torch.clamp(torch.round((torch.exp(log_duration) - 1.0) * pace), min=1).long() * mask.long()
        pitch = self.pitch_predictor(x, mask)
        energy = self.energy_predictor(x, mask)
        x = self._add_variances(x, pitch, energy, mask)
        frames, frame_lengths = length_regulate(x, durations)
        logits, frame_mask = self.decode_frames(frames, frame_lengths)
        if temperature > 0:
            probs = torch.softmax(logits / temperature, dim=-1)
            flat = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator)
            codes = flat.view(*logits.shape[:3])
        else:
            codes = logits.argmax(dim=-1)
        return codes * frame_mask[:, None, :].long(), frame_lengths, durations


def tts_losses(out: TTSOutput, codes: Tensor, frame_lengths: Tensor, text_lengths: Tensor) -> dict[str, Tensor]:
    """Token cross-entropy (mean over valid frames and codebooks), duration/pitch/energy MSE, forward-sum loss,
    and the token accuracy per codebook (for logging; no gradient)."""
    from codecstudy.tts.aligner import forward_sum_loss

    mask = out.frame_mask
    n_q = out.logits.shape[1]
    logits = out.logits.permute(0, 2, 1, 3)[mask]  # [frames, n_q, K]
    targets = codes[:, :n_q].permute(0, 2, 1)[mask]  # [frames, n_q]
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    text_mask = out.text_mask.float()
    denom = text_mask.sum().clamp_min(1.0)
    log_dur_target = torch.log1p(out.durations.float())
    duration = ((out.log_duration - log_dur_target) ** 2 * text_mask).sum() / denom
    pitch = ((out.pitch - out.pitch_target) ** 2 * text_mask).sum() / denom
    energy = ((out.energy - out.energy_target) ** 2 * text_mask).sum() / denom
    align = forward_sum_loss(out.align_log_prob, text_lengths, frame_lengths)
    with torch.no_grad():
        accuracy = (logits.argmax(-1) == targets).float().mean(dim=0)  # [n_q]
    return {"ce": ce, "duration": duration, "pitch": pitch, "energy": energy, "align": align, "accuracy": accuracy}
