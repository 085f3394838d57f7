"""Residual vector quantization: EMA codebooks (EnCodec/SoundStream) and factorized cosine codebooks (DAC).

Gradient flow is the part that is easy to get wrong (encodec issue 25, ESPnet PR 6268). Here each layer quantizes
the residual left by the layers before it, and that residual is built from *detached* codebook vectors, so it is
``z - constant``: the commitment (and codebook) loss of every layer k has a gradient path straight to the encoder
output ``z``. The decoder's gradient reaches the encoder through one straight-through estimator applied to the sum
of the EMA codes (``z + (sum - z).detach()``); the factorized layers instead apply the estimator per layer inside
their low-dimensional space, so that their projections learn from the decoder as in DAC.

Padding frames (past an item's length) and the layers a batch item does not use under quantizer dropout are
masked out of losses, EMA statistics, k-means and usage counts, so they never move a codebook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from codecstudy.codec.config import QuantizerConfig


@dataclass
class CodebookUsage:
    """How often each code of each codebook was chosen over some frames (padding excluded)."""

    counts: Tensor  # [n_q, K], int64

    @property
    def probabilities(self) -> Tensor:
        counts = self.counts.to(torch.float64)
        return counts / counts.sum(dim=1, keepdim=True).clamp(min=1)

    def entropy_bits(self) -> Tensor:
        """Per codebook, in bits: log2(K) means uniform use, 0 means a single code (collapse)."""
        p = self.probabilities
        return -(p * torch.log2(p.clamp(min=1e-300))).sum(dim=1)

    def perplexity(self) -> Tensor:
        """Per codebook: the number of equally used codes with the same entropy."""
        return torch.exp2(self.entropy_bits())

    def used_fraction(self) -> Tensor:
        return (self.counts > 0).to(torch.float64).mean(dim=1)

    def __add__(self, other: CodebookUsage) -> CodebookUsage:
        """Accumulate over batches; codebooks absent from one side count as unused there."""
        rows = max(self.counts.shape[0], other.counts.shape[0])
        size = self.counts.shape[1]
        total = torch.zeros(rows, size, dtype=torch.long)
        total[: self.counts.shape[0]] += self.counts.cpu()
        total[: other.counts.shape[0]] += other.counts.cpu()
        return CodebookUsage(total)

    def summary(self) -> dict[str, float]:
        """Flat ``{"perplexity/q0": ..., "entropy_bits/q0": ..., "used/q0": ...}`` for logs."""
        out: dict[str, float] = {}
        for k, (perp, ent, used) in enumerate(zip(self.perplexity(), self.entropy_bits(), self.used_fraction())):
            out[f"perplexity/q{k}"] = float(perp)
            out[f"entropy_bits/q{k}"] = float(ent)
            out[f"used/q{k}"] = float(used)
        return out


@dataclass
class QuantizerOutput:
    quantized: Tensor  # [B, D, F]; carries the straight-through gradient to z in training
    codes: Tensor  # [B, L, F] int64, L = the most codebooks any item used
    commitment: Tensor  # scalar, sum of the layers' commitment losses
    codebook: Tensor  # scalar, sum of the layers' codebook losses (0 for EMA codebooks)
    layer_commitment: Tensor  # [L], unweighted, for inspection and per-layer gradient tests
    layer_codebook: Tensor  # [L]
    n_q: Tensor  # [B] int64, codebooks used per item
    usage: CodebookUsage
    replaced_codes: int  # dead codes replaced during this call (EMA, training only)


def masked_mse(a: Tensor, b: Tensor, mask: Tensor | None) -> Tensor:
    """Mean squared error over the frames where ``mask`` ([B, F]) is True; a and b are ``[B, D, F]``."""
    if mask is None:
        return F.mse_loss(a, b)
    weight = mask[:, None, :].to(a.dtype)
    return ((a - b) ** 2 * weight).sum() / (weight.sum() * a.shape[1]).clamp(min=1.0)


def _flatten(x: Tensor) -> Tensor:
    """``[B, D, F]`` -> ``[B*F, D]`` (frame-major rows)."""
    return x.transpose(1, 2).reshape(-1, x.shape[1])


def nearest_code(x: Tensor, embed: Tensor) -> Tensor:
    """Index of the closest codebook row (squared L2) for each row of ``x``, via one matmul."""
    # |x|^2 is the same for every code, so argmin(|e|^2 - 2 x.e) is the nearest code.
    scores = torch.addmm((embed * embed).sum(dim=1)[None, :], x, embed.t(), beta=1.0, alpha=-2.0)
    return scores.argmin(dim=1)


def kmeans(x: Tensor, k: int, iters: int) -> tuple[Tensor, Tensor]:
    """Lloyd's k-means on rows of ``x``; returns centroids ``[k, D]`` and cluster sizes ``[k]``.

    Starts from random rows (with replacement when there are fewer rows than clusters); empty clusters keep their
    previous centroid, so the result always has k finite rows.
    """
    n = x.shape[0]
    pick = torch.randperm(n, device=x.device)[:k] if n >= k else torch.randint(n, (k,), device=x.device)
    centroids = x[pick].clone()
    for _ in range(iters):
        codes = nearest_code(x, centroids)
        counts = torch.bincount(codes, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, codes, x)
        means = sums / counts.clamp(min=1)[:, None].to(x.dtype)
        centroids = torch.where(counts[:, None] > 0, means, centroids)
    counts = torch.bincount(nearest_code(x, centroids), minlength=k)
    return centroids, counts.to(x.dtype)


class EMACodebook(nn.Module):
    """One codebook learned by exponential moving averages of the vectors assigned to each code.

    Codes are buffers, not parameters: no optimizer touches them. The first training batch initialises them by
    k-means (when enabled); codes whose EMA usage falls under the threshold are replaced by random vectors of the
    current batch, which is what keeps large codebooks from collapsing onto a few entries.
    """

    def __init__(self, dim: int, cfg: QuantizerConfig) -> None:
        super().__init__()
        size = cfg.codebook_size
        self.dim = dim
        self.size = size
        self.decay = cfg.ema_decay
        self.epsilon = cfg.epsilon
        self.kmeans_iters = cfg.kmeans_iters
        self.dead_code_threshold = cfg.dead_code_threshold
        self.dead_code_mode = cfg.dead_code_mode
        embed = torch.randn(size, dim)
        self.register_buffer("embed", embed)
        self.register_buffer("embed_avg", embed.clone())
        self.register_buffer("cluster_size", torch.ones(size))
        self.register_buffer("initialized", torch.tensor(not cfg.kmeans_init))

    def lookup(self, codes: Tensor) -> Tensor:
        """``[B, F]`` codes -> ``[B, D, F]`` vectors."""
        return F.embedding(codes, self.embed).transpose(1, 2)

    def nearest(self, x: Tensor) -> Tensor:
        """``[B, D, F]`` -> ``[B, F]`` codes."""
        return nearest_code(_flatten(x), self.embed).view(x.shape[0], x.shape[2])

    @torch.no_grad()
    def init_from(self, x: Tensor) -> None:
        """k-means on the valid vectors ``[N, D]`` of the first training batch."""
        centroids, counts = kmeans(x, self.size, self.kmeans_iters)
        self.embed.copy_(centroids)
        self.cluster_size.copy_(counts)
        self.embed_avg.copy_(centroids * counts[:, None])
        self.initialized.fill_(True)

    @torch.no_grad()
    def ema_update(self, x: Tensor, codes: Tensor) -> int:
        """Move each code towards the mean of its assigned vectors ``x`` ``[N, D]``; returns dead codes replaced."""
        if x.shape[0] == 0:
            return 0
        counts = torch.bincount(codes, minlength=self.size).to(x.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, codes, x)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1.0 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1.0 - self.decay)
        total = self.cluster_size.sum()
        # Laplace smoothing keeps never-used codes from dividing by zero.
        smoothed = (self.cluster_size + self.epsilon) / (total + self.size * self.epsilon) * total
        self.embed.copy_(self.embed_avg / smoothed[:, None])
        return self.replace_dead_codes(x)

    @torch.no_grad()
    def replace_dead_codes(self, x: Tensor) -> int:
        """Re-seed codes used less than the threshold with random batch vectors.

        A revived code is given the mean usage (at least twice the threshold), so it has a few hundred steps to
        win assignments before it could be replaced again, and its EMA sum matches its new vector.
        """
        if self.dead_code_threshold <= 0 or x.shape[0] == 0:
            return 0
        mean_usage = float(self.cluster_size.sum()) / self.size
        limit = self.dead_code_threshold if self.dead_code_mode == "count" else self.dead_code_threshold * mean_usage
        dead = self.cluster_size < limit
        n_dead = int(dead.sum())
        if n_dead == 0:
            return 0
        samples = x[torch.randint(x.shape[0], (n_dead,), device=x.device)]
        revived = max(mean_usage, 2.0 * limit)
        self.embed[dead] = samples
        self.embed_avg[dead] = samples * revived
        self.cluster_size[dead] = revived
        return n_dead

    def forward(self, residual: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
        """Quantize ``[B, D, F]``; returns (codebook vectors, codes, commitment, codebook loss, codes replaced)."""
        valid: Tensor | None = None
        if self.training:
            valid = _flatten(residual.detach())
            if mask is not None:
                valid = valid[mask.reshape(-1)]
            if not bool(self.initialized) and valid.shape[0] > 0:
                self.init_from(valid)
        codes = self.nearest(residual.detach())
        quantized = self.lookup(codes)
        commitment = masked_mse(residual, quantized.detach(), mask)
        replaced = 0
        if valid is not None:
            flat_codes = codes.reshape(-1) if mask is None else codes.reshape(-1)[mask.reshape(-1)]
            replaced = self.ema_update(valid, flat_codes)
        return quantized, codes, commitment, residual.new_zeros(()), replaced


class FactorizedCodebook(nn.Module):
    """DAC's codebook: project to a few dimensions, look up by cosine similarity, learn codes by gradient.

    Low-dimensional, L2-normalised lookup (from Improved VQGAN) spreads usage over the codebook without EMA,
    k-means or dead-code restarts. The straight-through estimator is applied in the projected space, so both
    projections receive the decoder's gradient.
    """

    def __init__(self, dim: int, cfg: QuantizerConfig) -> None:
        super().__init__()
        assert cfg.codebook_dim is not None
        self.dim = dim
        self.size = cfg.codebook_size
        self.in_proj = weight_norm(nn.Conv1d(dim, cfg.codebook_dim, 1))
        self.out_proj = weight_norm(nn.Conv1d(cfg.codebook_dim, dim, 1))
        self.codebook = nn.Parameter(torch.randn(cfg.codebook_size, cfg.codebook_dim))

    def lookup(self, codes: Tensor) -> Tensor:
        return self.out_proj(F.embedding(codes, self.codebook).transpose(1, 2))

    def _nearest_projected(self, z_e: Tensor) -> Tensor:
        flat = F.normalize(_flatten(z_e), dim=1)
        book = F.normalize(self.codebook, dim=1)
        return (flat @ book.t()).argmax(dim=1).view(z_e.shape[0], z_e.shape[2])

    def nearest(self, x: Tensor) -> Tensor:
        return self._nearest_projected(self.in_proj(x))

    def forward(self, residual: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
        z_e = self.in_proj(residual)
        codes = self._nearest_projected(z_e.detach())
        z_q = F.embedding(codes, self.codebook).transpose(1, 2)
        commitment = masked_mse(z_e, z_q.detach(), mask)
        codebook_loss = masked_mse(z_q, z_e.detach(), mask)
        z_q = z_e + (z_q - z_e).detach()
        return self.out_proj(z_q), codes, commitment, codebook_loss, 0


class ResidualVectorQuantizer(nn.Module):
    """N codebooks, each quantizing what the previous ones left; codes ``[B, n_q, F]``."""

    def __init__(self, dim: int, cfg: QuantizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.dim = dim
        layer = EMACodebook if cfg.kind == "ema" else FactorizedCodebook
        self.layers = nn.ModuleList(layer(dim, cfg) for _ in range(cfg.n_codebooks))

    @property
    def n_codebooks(self) -> int:
        return len(self.layers)

    @property
    def codebook_size(self) -> int:
        return self.cfg.codebook_size

    def _check_n_q(self, n_q: int) -> int:
        if not 1 <= n_q <= self.n_codebooks:
            raise ValueError(f"n_q must be in 1..{self.n_codebooks}, got {n_q}")
        return n_q

    def sample_n_q(self, batch_size: int, device: torch.device | None = None) -> Tensor:
        """Codebooks to use per item for one training step (quantizer dropout / bandwidth sampling).

        Draws are uniform over ``dropout_choices`` or over 1..N *inclusive*, so the last codebook is trained too
        (``randrange(1, N)`` would never reach it).
        """
        cfg = self.cfg
        full = torch.full((batch_size,), self.n_codebooks, dtype=torch.long, device=device)
        if cfg.dropout == "none" or cfg.dropout_probability <= 0:
            return full
        choices = torch.tensor(cfg.dropout_choices or range(1, self.n_codebooks + 1), dtype=torch.long, device=device)
        draws = 1 if cfg.dropout == "batch" else batch_size
        sampled = choices[torch.randint(len(choices), (draws,), device=device)].expand(batch_size)
        use = torch.rand(draws, device=device) < cfg.dropout_probability
        return torch.where(use.expand(batch_size), sampled, full)

    def forward(
        self, z: Tensor, frame_lengths: Tensor | None = None, n_q: int | Tensor | None = None
    ) -> QuantizerOutput:
        """Quantize latent ``z`` ``[B, D, F]``; ``n_q`` None means dropout in training and all codebooks otherwise."""
        batch, _, frames = z.shape
        if n_q is None:
            per_item = self.sample_n_q(batch, z.device) if self.training else None
        elif isinstance(n_q, Tensor):
            per_item = n_q.to(device=z.device, dtype=torch.long).expand(batch)
        else:
            per_item = torch.full((batch,), self._check_n_q(n_q), dtype=torch.long, device=z.device)
        if per_item is None:
            per_item = torch.full((batch,), self.n_codebooks, dtype=torch.long, device=z.device)
        n_layers = int(per_item.max())
        frame_mask = None
        if frame_lengths is not None:
            frame_mask = torch.arange(frames, device=z.device)[None, :] < frame_lengths.to(z.device)[:, None]
        residual = z
        total = torch.zeros_like(z)
        codes, commits, books, counts = [], [], [], []
        replaced = 0
        ema = self.cfg.kind == "ema"
        for k in range(n_layers):
            active = per_item > k
            all_active = bool(active.all())
            mask = frame_mask
            if not all_active:
                mask = active[:, None].expand(batch, frames) if mask is None else mask & active[:, None]
            quantized, codes_k, commit, book, replaced_k = self.layers[k](residual, mask)
            if not all_active:
                quantized = quantized * active[:, None, None].to(quantized.dtype)
            residual = residual - quantized.detach()
            total = total + (quantized.detach() if ema else quantized)
            codes.append(codes_k)
            commits.append(commit)
            books.append(book)
            used = codes_k.reshape(-1) if mask is None else codes_k[mask]
            counts.append(torch.bincount(used, minlength=self.codebook_size))
            replaced += replaced_k
        if ema and torch.is_grad_enabled() and z.requires_grad:
            # One straight-through estimator on the sum: the decoder's gradient reaches z exactly once.
            total = z + (total - z).detach()
        layer_commitment = torch.stack(commits)
        layer_codebook = torch.stack(books)
        return QuantizerOutput(
            quantized=total,
            codes=torch.stack(codes, dim=1),
            commitment=layer_commitment.sum(),
            codebook=layer_codebook.sum(),
            layer_commitment=layer_commitment,
            layer_codebook=layer_codebook,
            n_q=per_item,
            usage=CodebookUsage(torch.stack(counts).cpu()),
            replaced_codes=replaced,
        )

    def encode(self, z: Tensor, n_q: int | None = None) -> Tensor:
        """Latent ``[B, D, F]`` -> codes ``[B, n_q, F]`` (no statistics, no codebook updates)."""
        n_q = self._check_n_q(n_q or self.n_codebooks)
        residual = z
        codes = []
        for layer in self.layers[:n_q]:
            codes_k = layer.nearest(residual)
            residual = residual - layer.lookup(codes_k)
            codes.append(codes_k)
        return torch.stack(codes, dim=1)

    def decode(self, codes: Tensor) -> Tensor:
        """Codes ``[B, n_q, F]`` -> latent ``[B, D, F]``, summing the first n_q codebooks."""
        if codes.dim() != 3:
            raise ValueError(f"codes must be [B, n_q, frames], got shape {tuple(codes.shape)}")
        self._check_n_q(codes.shape[1])
        out = self.layers[0].lookup(codes[:, 0])
        for k in range(1, codes.shape[1]):
            out = out + self.layers[k].lookup(codes[:, k])
        return out

    def bits_per_frame(self, n_q: int) -> float:
        return n_q * math.log2(self.codebook_size)
