"""Token files: the codes of one clip plus what is needed to decode them safely.

Layout (little-endian), version 1::

    offset size
    0      8    magic b"CSTOKENS"
    8      2    version (1)
    10     2    flags: bit 0 set = codes stored as uint32 (codebooks larger than 65536), else uint16
    12     4    sample rate (Hz)
    16     4    hop length (samples per frame; frame rate = sample rate / hop)
    20     4    codebook size
    24     4    n_q (codebooks stored)
    28     4    frames
    32     8    samples of the original clip (decode trims to this)
    40     16   codec identity: first 16 bytes of the codec's SHA-256 (config + weights)
    56     ...  codes, n_q x frames, row-major (codebook 0 first)
    end-4  4    CRC-32 of everything before it

The identity makes decoding with a different codec an error instead of noise; the CRC and the size check catch
truncated and corrupted files. Every problem is a :class:`TokenFileError` whose one-line message names the file.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from codecstudy.codec.models.base import CodecModel
from codecstudy.errors import CodecStudyError
from codecstudy.files import write_bytes_atomic

MAGIC = b"CSTOKENS"
VERSION = 1
_HEADER = struct.Struct("<8sHHIIIIIQ16s")
_CRC = struct.Struct("<I")
_FLAG_UINT32 = 1
HASH_BYTES = 16


class TokenFileError(CodecStudyError):
    """A token file is missing, damaged, or does not belong to the codec it is decoded with."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class TokenFile:
    """Codes ``[n_q, frames]`` (int64) of one clip and their decoding context."""

    codes: torch.Tensor
    sample_rate: int
    hop_length: int
    codebook_size: int
    n_samples: int
    codec_hash: str  # 32 hex characters (16 bytes)

    @property
    def n_q(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.codes.shape[1])

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def duration(self) -> float:
        return self.n_samples / self.sample_rate

    @property
    def bitrate(self) -> float:
        """Bits per second of the codes (log2 of the codebook size per code)."""
        return self.frame_rate * self.n_q * float(np.log2(self.codebook_size))


def short_hash(full_hash: str) -> str:
    """The part of a codec identity hash that token files store."""
    return full_hash[: 2 * HASH_BYTES]


def tokens_from_codes(model: CodecModel, codes: torch.Tensor, n_samples: int) -> TokenFile:
    """Wrap ``[n_q, F]`` or ``[1, n_q, F]`` codes from ``model`` for :func:`write_tokens`."""
    if codes.dim() == 3:
        if codes.shape[0] != 1:
            raise ValueError("a token file holds one clip: pass codes of shape [n_q, frames] or [1, n_q, frames]")
        codes = codes[0]
    return TokenFile(
        codes=codes.detach().cpu().to(torch.int64),
        sample_rate=model.sample_rate,
        hop_length=model.hop_length,
        codebook_size=model.codebook_size,
        n_samples=int(n_samples),
        codec_hash=short_hash(model.identity_hash()),
    )


def _check_consistent(tokens: TokenFile, where: object) -> None:
    if tokens.codes.dim() != 2:
        raise TokenFileError(where, f"codes must be [n_q, frames], got shape {tuple(tokens.codes.shape)}")
    if tokens.sample_rate <= 0 or tokens.hop_length <= 0 or tokens.codebook_size < 2:
        raise TokenFileError(where, "damaged header: sample rate, hop length and codebook size must be positive")
    if tokens.n_q < 1 or tokens.n_frames < 1:
        raise TokenFileError(where, f"damaged header: {tokens.n_q} codebooks x {tokens.n_frames} frames")
    expected = -(-tokens.n_samples // tokens.hop_length)
    if tokens.n_samples < 1 or expected != tokens.n_frames:
        raise TokenFileError(
            where, f"damaged header: {tokens.n_samples} samples need {expected} frames of {tokens.hop_length}, "
            f"the file has {tokens.n_frames}"
        )
    if len(tokens.codec_hash) != 2 * HASH_BYTES:
        raise TokenFileError(where, f"codec hash must be {2 * HASH_BYTES} hex characters")


def write_tokens(path: str | Path, tokens: TokenFile) -> Path:
    """Write atomically (a killed write leaves no partial file under ``path``)."""
    path = Path(path)
    _check_consistent(tokens, path)
    codes = tokens.codes.numpy()
    if codes.size and (codes.min() < 0 or codes.max() >= tokens.codebook_size):
        raise TokenFileError(path, f"codes outside 0..{tokens.codebook_size - 1}")
    wide = tokens.codebook_size > 65536
    header = _HEADER.pack(
        MAGIC, VERSION, _FLAG_UINT32 if wide else 0, tokens.sample_rate, tokens.hop_length, tokens.codebook_size,
        tokens.n_q, tokens.n_frames, tokens.n_samples, bytes.fromhex(tokens.codec_hash),
    )
    body = header + np.ascontiguousarray(codes, dtype="<u4" if wide else "<u2").tobytes()
    return write_bytes_atomic(path, body + _CRC.pack(zlib.crc32(body)))


def read_tokens(path: str | Path) -> TokenFile:
    """Read and verify a token file; any damage raises :class:`TokenFileError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise TokenFileError(path, "token file not found")
    data = path.read_bytes()
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise TokenFileError(path, "not a codecstudy token file (bad magic)")
    if len(data) < _HEADER.size + _CRC.size:
        raise TokenFileError(path, f"truncated: {len(data)} bytes, shorter than the {_HEADER.size}-byte header")
    magic, version, flags, rate, hop, size, n_q, frames, samples, digest = _HEADER.unpack_from(data)
    if version != VERSION:
        raise TokenFileError(path, f"token file version {version} is not supported (this codecstudy reads {VERSION})")
    width = 4 if flags & _FLAG_UINT32 else 2
    expected = _HEADER.size + n_q * frames * width + _CRC.size
    if len(data) < expected:
        raise TokenFileError(path, f"truncated: {len(data)} bytes, the header promises {expected}")
    if len(data) > expected:
        raise TokenFileError(path, f"wrong size: {len(data)} bytes, the header promises {expected}")
    (crc,) = _CRC.unpack_from(data, expected - _CRC.size)
    if zlib.crc32(data[: expected - _CRC.size]) != crc:
        raise TokenFileError(path, "damaged: checksum mismatch")
    codes = np.frombuffer(data, dtype="<u4" if width == 4 else "<u2", count=n_q * frames, offset=_HEADER.size)
    tokens = TokenFile(
        codes=torch.from_numpy(codes.astype(np.int64).reshape(n_q, frames)),
        sample_rate=rate, hop_length=hop, codebook_size=size, n_samples=samples, codec_hash=digest.hex(),
    )
    _check_consistent(tokens, path)
    if tokens.codes.numel() and int(tokens.codes.max()) >= size:
        raise TokenFileError(path, f"damaged: a code is outside 0..{size - 1}")
    return tokens


def check_tokens_match(tokens: TokenFile, model: CodecModel, path: str | Path) -> None:
    """Raise :class:`TokenFileError` unless ``model`` is the codec that wrote the tokens."""
    name = model.config.name
    if tokens.sample_rate != model.sample_rate or tokens.hop_length != model.hop_length:
        raise TokenFileError(
            path, f"encoded at {tokens.sample_rate} Hz / hop {tokens.hop_length}, but codec {name} runs at "
            f"{model.sample_rate} Hz / hop {model.hop_length}"
        )
    if tokens.codebook_size != model.codebook_size or tokens.n_q > model.n_codebooks:
        raise TokenFileError(
            path, f"{tokens.n_q} codebooks of {tokens.codebook_size} do not fit codec {name} "
            f"({model.n_codebooks} of {model.codebook_size})"
        )
    mine = short_hash(model.identity_hash())
    if tokens.codec_hash != mine:
        raise TokenFileError(
            path, f"encoded by codec {tokens.codec_hash[:12]}, not by {name} ({mine[:12]}); "
            "decode with the checkpoint that encoded it"
        )
