"""Phoneme durations without an external model: a small attention aligner trained jointly with the TTS model.

The recipe is the unsupervised alignment of RAD-TTS / "One TTS Alignment To Rule Them All" (Badlani et al.,
2022), written from the paper's equations:

* two small convolutional encoders embed the phoneme ids and the acoustic frames (log-mel at the codec's frame
  rate, so that durations are counted in codec frames and do not depend on which codec is trained);
* the soft alignment ``log p(phoneme i | frame j)`` is a softmax over phonemes of the negative squared distance
  between the two embeddings;
* the **forward-sum loss** is the CTC loss of the phoneme sequence under these per-frame distributions (with a
  blank that never wins): it sums the likelihood over all monotonic alignments, which is what trains the
  encoders without any labels;
* **monotonic alignment search** (MAS, the Viterbi path of Glow-TTS) turns the soft alignment into a hard one in
  which every frame belongs to exactly one phoneme, every phoneme gets at least one frame and the order is kept.
  Its column sums are the durations the length regulator and the duration predictor use.

MAS runs in torch without gradients, vectorised over the batch and the phonemes (one loop over frames), so it
needs no compiled extension.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NEG_INF = -1e9


@torch.no_grad()
def monotonic_alignment_search(log_prob: Tensor, text_lengths: Tensor, frame_lengths: Tensor) -> Tensor:
    """Hard monotonic alignment maximising the summed ``log_prob`` ``[B, N, T]`` (phonemes x frames).

    Returns a 0/1 tensor ``[B, N, T]``: each valid frame maps to one phoneme, phoneme indices never decrease
    over time, the first frame is phoneme 0 and the last valid frame is the last valid phoneme. Requires
    ``text_length <= frame_length`` per item (every phoneme needs a frame).
    """
    if bool((text_lengths > frame_lengths).any()):
        raise ValueError("monotonic alignment needs at least one frame per phoneme")
    batch, n, t = log_prob.shape
    device = log_prob.device
    lp = log_prob.float().clone()
    phon_valid = torch.arange(n, device=device)[None, :] < text_lengths[:, None]  # [B, N]
    lp = lp.masked_fill(~phon_valid[:, :, None], NEG_INF)
    value = torch.full((batch, n), NEG_INF, device=device)
    value[:, 0] = lp[:, 0, 0]
    choices = torch.zeros(batch, n, t, dtype=torch.bool, device=device)  # True: came from phoneme i-1
    for j in range(1, t):
        previous = torch.cat([torch.full((batch, 1), NEG_INF, device=device), value[:, :-1]], dim=1)
        step = previous > value
        new = torch.where(step, previous, value) + lp[:, :, j]
        # frames past an item's end keep the value unchanged (so the path ends at its own last frame)
        active = (j < frame_lengths)[:, None]
        value = torch.where(active, new, value)
        choices[:, :, j] = step & active
    # backtrack from the last valid phoneme at the last valid frame
    path = torch.zeros(batch, n, t, device=device)
    index = (text_lengths - 1).clone()
    rows = torch.arange(batch, device=device)
    for j in range(t - 1, -1, -1):
        active = j < frame_lengths
        path[rows[active], index[active], j] = 1.0
        moved = choices[rows, index, j] & active
        index = torch.where(moved, index - 1, index).clamp_min(0)
    return path


def durations_from_path(path: Tensor) -> Tensor:
    """Frames per phoneme ``[B, N]`` (long) of a hard alignment ``[B, N, T]``."""
    return path.sum(dim=-1).long()


def forward_sum_loss(log_prob: Tensor, text_lengths: Tensor, frame_lengths: Tensor, blank_logprob: float = -1.0):
    """CTC loss of the phoneme sequence ``0..N-1`` under per-frame phoneme distributions ``log_prob [B, N, T]``.

    A blank column with a fixed low log-probability is prepended (CTC needs one; it is never the best choice
    once the aligner has learned), and the distributions are renormalised with it. Mean over the batch of the
    loss per target phoneme.
    """
    batch, n, t = log_prob.shape
    padded = F.pad(log_prob, (0, 0, 1, 0), value=blank_logprob)  # [B, N+1, T], index 0 = blank
    mask = torch.arange(n + 1, device=log_prob.device)[None, :] <= text_lengths[:, None]
    padded = padded.masked_fill(~mask[:, :, None], NEG_INF)
    padded = torch.log_softmax(padded, dim=1)
    targets = torch.arange(1, n + 1, device=log_prob.device)[None, :].expand(batch, n)
    return F.ctc_loss(
        padded.permute(2, 0, 1),  # [T, B, C]
        targets,
        frame_lengths,
        text_lengths,
        blank=0,
        reduction="mean",
        zero_infinity=True,
    )


class _ConvStack(nn.Module):
    """Conv1d-ReLU layers with a residual path; input and output ``[B, C, T]``."""

    def __init__(self, channels_in: int, channels: int, layers: int, kernel_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv1d(channels_in, channels, 1)
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2) for _ in range(layers)
        )
        self.out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x)
        for conv in self.convs:
            x = x + F.relu(conv(x))
        return self.out(x)


class Aligner(nn.Module):
    """Soft alignment ``log p(phoneme | frame)`` from phoneme embeddings and acoustic frames.

    ``text`` is an embedded phoneme sequence ``[B, D, N]`` (the TTS model's own embeddings, detached, so that
    the aligner cannot push the encoder around), ``feats`` acoustic features ``[B, F, T]``. An optional
    ``prior`` ``[B, N, T]`` (log domain) is added before the softmax; a diagonal prior speeds up learning.
    """

    def __init__(self, text_dim: int, feat_dim: int, channels: int = 128, temperature: float | None = None) -> None:
        super().__init__()
        self.text_encoder = _ConvStack(text_dim, channels, 2, 3)
        self.feat_encoder = _ConvStack(feat_dim, channels, 3, 3)
        # distances between unit-variance embeddings grow with the width; 1/channels keeps early logits O(1)
        self.temperature = temperature if temperature is not None else 1.0 / channels

    def forward(self, text: Tensor, feats: Tensor, text_lengths: Tensor, prior: Tensor | None = None) -> Tensor:
        keys = self.text_encoder(text)  # [B, C, N]
        queries = self.feat_encoder(feats)  # [B, C, T]
        # ||q - k||^2 = |q|^2 + |k|^2 - 2 k.q, as one batched matmul (the broadcast form needs B*C*N*T memory)
        cross = torch.bmm(keys.transpose(1, 2), queries)  # [B, N, T]
        distance = keys.pow(2).sum(1)[:, :, None] + queries.pow(2).sum(1)[:, None, :] - 2 * cross
        logits = -self.temperature * distance
        logits = logits.masked_fill(_pad_mask(text_lengths, logits.shape[1])[:, :, None], NEG_INF)
        log_prob = torch.log_softmax(logits, dim=1)
        if prior is not None:
            log_prob = torch.log_softmax(log_prob + prior, dim=1)
        return log_prob


def _pad_mask(lengths: Tensor, size: int) -> Tensor:
    """True at padded positions ``[B, size]``."""
    return torch.arange(size, device=lengths.device)[None, :] >= lengths[:, None]


def diagonal_prior(text_lengths: Tensor, frame_lengths: Tensor, n: int, t: int, width: float = 0.1) -> Tensor:
    """Log of a Gaussian band around the diagonal ``[B, N, T]``: phoneme ``i`` is expected near frame
    ``(i + 0.5) / N * T``. It only biases early training; MAS and the forward-sum loss still decide."""
    i = (torch.arange(n, device=text_lengths.device)[None, :, None] + 0.5) / text_lengths[:, None, None].clamp_min(1)
    j = (torch.arange(t, device=text_lengths.device)[None, None, :] + 0.5) / frame_lengths[:, None, None].clamp_min(1)
    return -((i - j) ** 2) / (2 * width**2)
