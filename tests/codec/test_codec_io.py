from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codecstudy.codec.io import (
    TokenFile,
    TokenFileError,
    check_tokens_match,
    read_tokens,
    tokens_from_codes,
    write_tokens,
)
from codecstudy.codec.registry import codec_from_preset


@pytest.fixture(scope="module")
def model():
    return codec_from_preset("soundstream-tiny").prepare_for_inference()


@pytest.fixture
def token_path(tmp_path: Path, model) -> Path:
    codes = torch.randint(256, (1, 5, 7))
    return write_tokens(tmp_path / "clip.tokens", tokens_from_codes(model, codes, n_samples=2100))


def test_round_trip(token_path: Path, model) -> None:
    tokens = read_tokens(token_path)
    assert (tokens.n_q, tokens.n_frames, tokens.n_samples) == (5, 7, 2100)
    assert (tokens.sample_rate, tokens.hop_length, tokens.codebook_size) == (16000, 320, 256)
    assert tokens.frame_rate == 50 and tokens.bitrate == 50 * 5 * 8
    assert token_path.stat().st_size == 56 + 5 * 7 * 2 + 4  # uint16 codes
    check_tokens_match(tokens, model, token_path)


def test_large_codebooks_use_32_bit_codes(tmp_path: Path) -> None:
    codes = torch.tensor([[0, 70000, 99999]])
    tokens = TokenFile(codes, 16000, 320, 100000, 700, "ab" * 16)
    path = write_tokens(tmp_path / "wide.tokens", tokens)
    assert torch.equal(read_tokens(path).codes, codes)
    assert path.stat().st_size == 56 + 3 * 4 + 4


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda b: b[:-10], "truncated"),
        (lambda b: b[:30], "truncated"),
        (lambda b: b + b"\0", "wrong size"),
        (lambda b: b"XX" + b[2:], "bad magic"),
        (lambda b: b[:60] + bytes([b[60] ^ 1]) + b[61:], "checksum"),
        (lambda b: b"", "bad magic"),
    ],
)
def test_damaged_files_name_the_file(token_path: Path, damage, message: str) -> None:
    token_path.write_bytes(damage(token_path.read_bytes()))
    with pytest.raises(TokenFileError, match=rf"clip\.tokens: .*{message}"):
        read_tokens(token_path)


def test_hash_mismatch_is_refused(token_path: Path) -> None:
    other = codec_from_preset("soundstream-tiny", ["seed=9"])
    with pytest.raises(TokenFileError, match=r"clip\.tokens: encoded by codec .* not by soundstream-tiny"):
        check_tokens_match(read_tokens(token_path), other, token_path)
    dac = codec_from_preset("dac-tiny")
    with pytest.raises(TokenFileError, match="encoded by codec"):
        check_tokens_match(read_tokens(token_path), dac, token_path)


def test_inconsistent_headers_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match="frames"):
        zeros = torch.zeros(2, 3, dtype=torch.long)
        write_tokens(tmp_path / "x.tokens", TokenFile(zeros, 16000, 320, 256, 5000, "00" * 16))
    with pytest.raises(TokenFileError, match="outside"):
        write_tokens(tmp_path / "x.tokens", TokenFile(torch.full((1, 1), 300), 16000, 320, 256, 300, "00" * 16))
    with pytest.raises(TokenFileError, match="not found"):
        read_tokens(tmp_path / "none.tokens")


def _valid_bytes() -> bytes:
    """A small valid token file's bytes (2 codebooks of 16, 6 frames)."""
    import tempfile

    tokens = TokenFile(codes=torch.arange(12).reshape(2, 6) % 16, sample_rate=16000, hop_length=320, codebook_size=16,
                       n_samples=1900, codec_hash="ab" * 16)
    with tempfile.TemporaryDirectory() as folder:
        return write_tokens(Path(folder) / "t.tokens", tokens).read_bytes()


VALID_TOKENS = _valid_bytes()


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=120) | st.builds(
    lambda at, value, crc: _patched(VALID_TOKENS, at, value, crc),
    st.integers(0, len(VALID_TOKENS) - 1), st.binary(min_size=1, max_size=8), st.booleans()))
def test_any_damaged_token_file_is_one_line(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    """Random bytes, and a valid file with bytes overwritten (the checksum recomputed or not, so header fields that
    pass the CRC are reached too), are read or rejected with a TokenFileError naming the file; never a traceback."""
    path = tmp_path_factory.getbasetemp() / "fuzz.tokens"
    path.write_bytes(data)
    try:
        tokens = read_tokens(path)
    except TokenFileError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
    else:
        assert tokens.n_q >= 1 and tokens.n_frames >= 1


def _patched(valid: bytes, at: int, value: bytes, fix_crc: bool) -> bytes:
    import struct
    import zlib

    body = bytearray(valid[:-4])
    body[at:at + len(value)] = value
    crc = struct.pack("<I", zlib.crc32(bytes(body))) if fix_crc else valid[-4:]
    return bytes(body) + crc
