"""One interface for every codec architecture: encode, decode, forward for training, streaming, identity.

Shapes: waveforms ``[B, 1, T]`` float at :attr:`CodecModel.sample_rate`, optional per-item ``lengths`` ``[B]`` in
samples; codes ``[B, n_q, frames]`` int64 with ``frames = ceil(length / hop)``. A clip is zero-padded to a whole
number of frames, and in a batch every item is processed exactly as it would be alone (see ``seanet.py``), so
batch encoding with lengths yields the same codes as one-by-one encoding. Codes past an item's frames are 0.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codecstudy.codec.config import CodecConfig
from codecstudy.codec.init import initialize
from codecstudy.codec.quantize import CodebookUsage, ResidualVectorQuantizer
from codecstudy.codec.seanet import (
    SEANetDecoder,
    SEANetEncoder,
    StreamState,
    fold_weight_norm,
    has_weight_norm,
    time_mask,
)
from codecstudy.errors import ConfigError


@dataclass
class CodecOutput:
    """What a training forward pass returns; losses are unweighted (weights live in ``config.loss``)."""

    recon: Tensor  # [B, 1, T], zero past each item's length
    codes: Tensor  # [B, L, F], L = most codebooks any item used this step
    losses: dict[str, Tensor]  # "commitment", "codebook" (summed over the layers used), "quantization"
    usage: CodebookUsage
    latent: Tensor  # [B, D, F] encoder output (for ESPnet's quantization loss and the dual decoder)
    quantized: Tensor  # [B, D, F] quantizer output fed to the decoder
    lengths: Tensor  # [B] samples
    frame_lengths: Tensor  # [B] frames
    n_q: Tensor  # [B] codebooks used per item
    layer_losses: dict[str, Tensor] = field(default_factory=dict)  # "commitment", "codebook": [L]
    replaced_codes: int = 0


@dataclass
class _Batch:
    wave: Tensor  # [B, 1, frames * hop], zero past each item's length
    lengths: Tensor  # [B] samples
    frame_lengths: Tensor  # [B]
    ragged: bool  # items differ in frame count: layers must handle each item's end


def _quantization_loss(latent: Tensor, quantized: Tensor, frame_lengths: Tensor | None) -> Tensor:
    """ESPnet's ``lambda_quantization`` term: L1 + L2 from the latent to the (stop-gradient) quantized latent.

    Unlike the per-layer commitment losses it measures the whole residual stack at once, so it pulls the encoder
    towards what the codebooks used this step can represent; padding frames are excluded.
    """
    mask = None if frame_lengths is None else time_mask(frame_lengths, latent.shape[-1]).to(latent.dtype)
    diff = latent - quantized
    if mask is None:
        return diff.abs().mean() + (diff * diff).mean()
    count = (mask.sum() * latent.shape[1]).clamp(min=1.0)
    return (diff.abs() * mask).sum() / count + (diff * diff * mask).sum() / count


class CodecModel(nn.Module):
    """SEANet encoder -> residual VQ -> SEANet decoder. Subclasses fix the architecture's conventions."""

    architecture: ClassVar[str] = ""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        if self.architecture and config.architecture != self.architecture:
            raise ConfigError(
                f"{type(self).__name__} needs architecture {self.architecture!r}, got {config.architecture!r}"
            )
        self.config = config
        self.encoder = SEANetEncoder(config.seanet)
        self.quantizer = ResidualVectorQuantizer(config.seanet.dimension, config.quantizer)
        self.decoder = SEANetDecoder(config.seanet)
        initialize(self.encoder, config.seanet.init)
        initialize(self.decoder, config.seanet.init)
        self._identity: str | None = None

    def __deepcopy__(self, memo: dict[int, object]) -> CodecModel:
        """Rebuild instead of copying attribute by attribute.

        A deep-copied weight-norm parametrization shares its generated class with the original, so folding the
        copy would delete the original's ``weight``; a rebuilt model has its own. (Trainers copy models for
        weight EMA; this keeps that safe.)
        """
        with torch.random.fork_rng(devices=[]):
            clone = type(self)(self.config)
        if not has_weight_norm(self):
            fold_weight_norm(clone)
        clone.load_state_dict(self.state_dict())
        source = dict(self.named_parameters())
        for name, param in clone.named_parameters():
            param.requires_grad_(source[name].requires_grad)
        clone.train(self.training)
        clone._identity = self._identity
        memo[id(self)] = clone
        return clone

    # ----------------------------------------------------------------------------------------------- properties
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def frame_rate(self) -> float:
        return self.config.frame_rate

    @property
    def n_codebooks(self) -> int:
        return self.quantizer.n_codebooks

    @property
    def codebook_size(self) -> int:
        return self.quantizer.codebook_size

    @property
    def causal(self) -> bool:
        return self.config.seanet.causal

    def bitrate(self, n_q: int | None = None) -> float:
        """Bits per second of the codes for ``n_q`` codebooks (all by default), without entropy coding."""
        n_q = self.n_codebooks if n_q is None else n_q
        return self.frame_rate * self.quantizer.bits_per_frame(n_q)

    def frames_for(self, samples: int) -> int:
        return -(-samples // self.hop_length)

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters per part, plus codebook buffer elements (EMA codebooks are not parameters)."""
        counts = {
            name: sum(p.numel() for p in part.parameters())
            for name, part in (("encoder", self.encoder), ("quantizer", self.quantizer), ("decoder", self.decoder))
        }
        counts["total"] = sum(counts.values())
        counts["codebook_buffers"] = sum(b.numel() for b in self.quantizer.buffers())
        return counts

    # --------------------------------------------------------------------------------------------- batching
    def _batch(self, wave: Tensor, lengths: Tensor | None) -> _Batch:
        if wave.dim() != 3 or wave.shape[1] != 1:
            raise ValueError(f"wave must be [batch, 1, samples], got shape {tuple(wave.shape)}")
        batch, _, size = wave.shape
        if size == 0:
            raise ValueError("wave has no samples")
        if lengths is None:
            lengths = torch.full((batch,), size, dtype=torch.long, device=wave.device)
        else:
            lengths = torch.as_tensor(lengths, dtype=torch.long, device=wave.device).reshape(-1)
            if lengths.shape[0] != batch:
                raise ValueError(f"lengths has {lengths.shape[0]} entries for a batch of {batch}")
            if bool((lengths < 1).any()) or bool((lengths > size).any()):
                raise ValueError(f"lengths must be in 1..{size}, got {lengths.tolist()}")
        hop = self.hop_length
        frame_lengths = torch.div(lengths + hop - 1, hop, rounding_mode="floor")
        padded = int(frame_lengths.max()) * hop
        wave = wave[..., :padded] if size >= padded else F.pad(wave, (0, padded - size))
        if bool((lengths != size).any()):
            wave = wave * time_mask(lengths, padded).to(wave.dtype)
        ragged = bool((frame_lengths != frame_lengths.max()).any())
        return _Batch(wave, lengths, frame_lengths, ragged)

    # ------------------------------------------------------------------------------------------- training
    def forward(self, wave: Tensor, lengths: Tensor | None = None, n_q: int | None = None) -> CodecOutput:
        """Encode, quantize (with dropout in training when ``n_q`` is None) and decode; differentiable."""
        b = self._batch(wave, lengths)
        frame_mask_lengths = b.frame_lengths if b.ragged else None
        latent = self.encoder(b.wave, b.frame_lengths * self.hop_length if b.ragged else None)
        q = self.quantizer(latent, frame_mask_lengths, n_q)
        recon = self.decoder(q.quantized, frame_mask_lengths)[..., : wave.shape[-1]]
        quantization = _quantization_loss(latent, q.quantized.detach(), frame_mask_lengths)
        if bool((b.lengths != wave.shape[-1]).any()):
            recon = recon * time_mask(b.lengths, recon.shape[-1]).to(recon.dtype)
        return CodecOutput(
            recon=recon,
            codes=q.codes,
            losses={"commitment": q.commitment, "codebook": q.codebook, "quantization": quantization},
            usage=q.usage,
            latent=latent,
            quantized=q.quantized,
            lengths=b.lengths,
            frame_lengths=b.frame_lengths,
            n_q=q.n_q,
            layer_losses={"commitment": q.layer_commitment, "codebook": q.layer_codebook},
            replaced_codes=q.replaced_codes,
        )

    def decode_latent(self, latent: Tensor, frame_lengths: Tensor | None = None) -> Tensor:
        """Decoder on a latent ``[B, D, F]`` (e.g. the unquantized one, for ESPnet's dual-decoder mel loss)."""
        ragged = frame_lengths is not None and bool((frame_lengths != latent.shape[-1]).any())
        return self.decoder(latent, frame_lengths if ragged else None)

    # ------------------------------------------------------------------------------------------ inference
    @torch.inference_mode()
    def encode(self, wave: Tensor, lengths: Tensor | None = None, n_q: int | None = None) -> Tensor:
        """Waveform ``[B, 1, T]`` -> codes ``[B, n_q, ceil(T / hop)]`` (0 past each item's frames)."""
        b = self._batch(wave, lengths)
        latent = self.encoder(b.wave, b.frame_lengths * self.hop_length if b.ragged else None)
        codes = self.quantizer.encode(latent, n_q)
        if b.ragged:
            codes = codes * time_mask(b.frame_lengths, codes.shape[-1]).to(codes.dtype)
        return codes

    @torch.inference_mode()
    def decode(self, codes: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Codes ``[B, n_q, F]`` -> waveform ``[B, 1, T]``; T = max(lengths) or F * hop, zero past each length."""
        self._check_codes(codes)
        frames = codes.shape[-1]
        frame_lengths = None
        if lengths is not None:
            lengths = torch.as_tensor(lengths, dtype=torch.long, device=codes.device).reshape(-1)
            frame_lengths = torch.div(lengths + self.hop_length - 1, self.hop_length, rounding_mode="floor")
            if lengths.shape[0] != codes.shape[0] or bool((frame_lengths > frames).any()) or bool((lengths < 1).any()):
                raise ValueError(f"lengths {lengths.tolist()} do not fit codes of {frames} frames")
        latent = self.quantizer.decode(codes)
        wave = self.decode_latent(latent, frame_lengths)
        if lengths is not None:
            wave = wave[..., : int(lengths.max())]
            wave = wave * time_mask(lengths, wave.shape[-1]).to(wave.dtype)
        return wave

    def _check_codes(self, codes: Tensor) -> None:
        if codes.dim() != 3:
            raise ValueError(f"codes must be [batch, n_q, frames], got shape {tuple(codes.shape)}")
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"codes must be integers, got {codes.dtype}")
        if not 1 <= codes.shape[1] <= self.n_codebooks:
            raise ValueError(f"codes use {codes.shape[1]} codebooks; this codec has {self.n_codebooks}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise ValueError(f"codes must be in 0..{self.codebook_size - 1}")

    def streaming_decoder(self) -> StreamingDecoder:
        """A decoder that takes codes chunk by chunk and returns ``chunk_frames * hop`` samples per chunk."""
        return StreamingDecoder(self)

    def delay_samples(self, n_q: int | None = None) -> int:
        """The output's delay behind the input, in samples, at any number of codebooks: 0.

        Every convolution pads to keep its length (causal ones on the left, so a causal model's latency of one
        frame is a wait for input, not a shift of its output), the decoder is trimmed to the input's length, and
        training compares the reconstruction with its input sample by sample. So the output is on the input's
        time axis by construction, trained or not.
        """
        return 0

    def prepare_for_inference(self) -> CodecModel:
        """Eval mode and weight norm folded into plain weights (faster, exportable); the identity is kept."""
        self.eval()
        if has_weight_norm(self):
            self._identity = self.identity_hash()
            fold_weight_norm(self)
        return self

    # ------------------------------------------------------------------------------------------- identity
    def identity_hash(self) -> str:
        """SHA-256 of what decoding depends on: architecture, rate, network and quantizer config, all weights.

        Token files store it so that decoding with another codec fails instead of producing noise. The preset
        name and the loss/discriminator settings are left out: renaming a codec does not change its tokens.
        Folding weight norm changes the weights by rounding only, so the hash from before folding is kept.
        """
        if self._identity is not None and not has_weight_norm(self):
            return self._identity
        digest = hashlib.sha256()
        spec = self.config.model_dump(mode="json", include={"architecture", "sample_rate", "seanet", "quantizer"})
        digest.update(json.dumps(spec, sort_keys=True).encode())
        for name, tensor in sorted(self.state_dict().items()):
            data = tensor.detach().cpu().contiguous()
            digest.update(f"{name}:{data.dtype}:{tuple(data.shape)}".encode())
            digest.update(data.numpy().tobytes() if data.dtype != torch.bfloat16 else data.float().numpy().tobytes())
        return digest.hexdigest()

    def keep_identity(self, identity: str | None) -> None:
        """Answer :meth:`identity_hash` with ``identity``, the hash of the unfolded weights this model's folded
        weights were computed from (a folded checkpoint, an export copy), once weight norm is folded."""
        self._identity = identity


class StreamingDecoder:
    """Chunked decoding for causal codecs; the concatenated chunks equal :meth:`CodecModel.decode`.

    Each conv keeps its input history, each transposed conv the overlap it owes the next chunk, the LSTM its hidden
    state. Chunks may have any number of frames (>= 1); with ``pad_mode: reflect`` the first chunk must be long
    enough for the reflection (constant padding has no such limit).
    """

    def __init__(self, model: CodecModel) -> None:
        if not model.causal:
            raise ValueError(f"{model.config.name}: streaming decode needs a causal codec (seanet.causal: true)")
        self.model = model
        self.state: StreamState = {}
        self.frames_done = 0

    def reset(self) -> None:
        self.state = {}
        self.frames_done = 0

    @torch.inference_mode()
    def __call__(self, codes: Tensor) -> Tensor:
        self.model._check_codes(codes)
        latent = self.model.quantizer.decode(codes)
        wave = self.model.decoder.stream(latent, self.state)
        self.frames_done += codes.shape[-1]
        return wave
