"""Audio input/output and basic signal handling.

This is the only module that talks to soundfile, soxr and the G.722 decoder, so that format quirks, resampling
quality and error messages are decided in one place. Arrays are float32 numpy; mono arrays are 1-D ``[T]``,
multi-channel arrays are ``[C, T]``.

Formats: everything libsndfile reads (WAV, FLAC, Ogg/Vorbis, Opus, MP3, AIFF, ...), plus headerless
G.722 (``.g722``/``.722``, 16 kHz at 64 kbit/s, as shipped by Asterisk) and headerless GSM 6.10
(``.gsm``, 8 kHz), which have no header for libsndfile to recognise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from codecstudy.errors import AudioReadError

G722_SAMPLE_RATE = 16000
G722_BITRATE = 64000
G722_SUFFIXES = (".g722", ".722")
GSM_SAMPLE_RATE = 8000
GSM_FRAME_BYTES = 33
GSM_FRAME_SAMPLES = 160
GSM_SUFFIXES = (".gsm",)


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header (or its size, for headerless formats)."""

    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate > 0 else 0.0


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def _require_file(path: Path) -> None:
    if not path.exists():
        raise AudioReadError(path, "file not found")
    if not path.is_file():
        raise AudioReadError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise AudioReadError(path, "empty file (0 bytes)")


def info(path: str | Path) -> AudioInfo:
    """Return sample rate, channels and length without decoding the samples."""
    path = Path(path)
    _require_file(path)
    suffix = _suffix(path)
    size = path.stat().st_size
    if suffix in G722_SUFFIXES:
        # 64 kbit/s G.722 packs two 16 kHz samples into each byte.
        return AudioInfo(G722_SAMPLE_RATE, 1, size * 2)
    if suffix in GSM_SUFFIXES:
        if size % GSM_FRAME_BYTES:
            raise AudioReadError(path, f"truncated GSM 6.10 stream ({size} bytes is not a multiple of 33)")
        return AudioInfo(GSM_SAMPLE_RATE, 1, size // GSM_FRAME_BYTES * GSM_FRAME_SAMPLES)
    try:
        meta = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioReadError(path, f"unreadable audio ({_short(exc)})") from None
    _check_wav_data_length(path, size)
    return AudioInfo(int(meta.samplerate), int(meta.channels), int(meta.frames))


# Data sizes that streaming writers leave in the header when they cannot seek back to fill in the real one.
_UNSET_CHUNK_SIZES = (0, 0x7FFFFFFF, 0xFFFFFFFF)


def _check_wav_data_length(path: Path, size: int) -> None:
    """Reject a WAV whose ``data`` chunk is cut short.

    libsndfile silently shrinks the length to what the file holds, so without this a half-copied WAV would pass
    as a complete, shorter recording.
    """
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk = handle.read(8)
            declared = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                available = size - offset - 8
                if declared > available and declared not in _UNSET_CHUNK_SIZES:
                    raise AudioReadError(
                        path, f"truncated: header declares {declared} bytes of audio, the file holds {available}"
                    )
                return
            offset += 8 + declared + (declared & 1)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # libsndfile messages repeat the path; keep only the reason.
    return text.split(": ", 1)[-1] if "Error opening" in text else text


def _decode_g722(path: Path) -> np.ndarray:
    import G722  # small binary wheel; imported lazily so that plain WAV users never load it

    data = path.read_bytes()
    decoded = G722.G722(G722_SAMPLE_RATE, G722_BITRATE).decode(data)
    samples = np.frombuffer(decoded, dtype=np.int16).astype(np.float32) / 32768.0
    return samples[None, :]


def _decode_gsm(path: Path) -> np.ndarray:
    frames = path.stat().st_size // GSM_FRAME_BYTES * GSM_FRAME_SAMPLES
    with sf.SoundFile(str(path), format="RAW", subtype="GSM610", samplerate=GSM_SAMPLE_RATE, channels=1) as f:
        # libsndfile reports raw GSM as non-seekable, so soundfile refuses "read everything": ask for a count.
        samples = f.read(frames, dtype="float32", always_2d=True)
    return samples.T


def read(
    path: str | Path,
    start: float = 0.0,
    duration: float | None = None,
    *,
    mono: bool = True,
) -> tuple[np.ndarray, int]:
    """Decode ``duration`` seconds from ``start`` (the whole file by default).

    Returns ``(samples, sample_rate)``: ``[T]`` when ``mono`` (channels averaged), else ``[C, T]``. Raises
    :class:`AudioReadError` naming the file when it is missing, empty, corrupt or shorter than its header says.
    """
    path = Path(path)
    meta = info(path)
    sr = meta.sample_rate
    if meta.frames <= 0:
        raise AudioReadError(path, "empty audio stream (0 frames)")
    first = max(0, int(round(start * sr)))
    count = meta.frames - first if duration is None else int(round(duration * sr))
    if first >= meta.frames or count <= 0:
        raise AudioReadError(path, f"requested range starts at {start:.3f}s but the file lasts {meta.duration:.3f}s")
    count = min(count, meta.frames - first)
    suffix = _suffix(path)
    try:
        if suffix in G722_SUFFIXES:
            data = _decode_g722(path)[:, first : first + count]
        elif suffix in GSM_SUFFIXES:
            data = _decode_gsm(path)[:, first : first + count]
        else:
            frames, _ = sf.read(str(path), start=first, frames=count, dtype="float32", always_2d=True)
            data = frames.T
    except AudioReadError:
        raise
    except Exception as exc:  # libsndfile and codec libraries raise several unrelated types
        raise AudioReadError(path, f"decoding failed ({_short(exc)})") from None
    if data.shape[1] == 0:
        raise AudioReadError(path, "no audio samples could be decoded")
    # Compressed formats report a length estimated from the last page's granule position, which can be a
    # fraction of a second off; accept a shortfall of up to 1% (at least 0.25 s), reject real truncation.
    if data.shape[1] < count - max(int(0.25 * sr), count // 100):
        raise AudioReadError(
            path, f"truncated: header promises {count} frames from {start:.3f}s, only {data.shape[1]} decoded"
        )
    data = np.ascontiguousarray(data, dtype=np.float32)
    return (to_mono(data), sr) if mono else (data, sr)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average channels: ``[C, T]`` -> ``[T]``; a 1-D array is returned unchanged."""
    if samples.ndim == 1:
        return samples
    return samples.mean(axis=0, dtype=np.float32) if samples.shape[0] > 1 else samples[0]


def resample(samples: np.ndarray, sample_rate: int, target_rate: int, quality: str = "HQ") -> np.ndarray:
    """Resample with soxr (time axis last); identity when the rates match."""
    if sample_rate == target_rate:
        return samples.astype(np.float32, copy=False)
    if sample_rate <= 0 or target_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {sample_rate} -> {target_rate}")
    out = soxr.resample(np.ascontiguousarray(samples.T), sample_rate, target_rate, quality=quality)
    return np.ascontiguousarray(out.T, dtype=np.float32)


def peak_db(samples: np.ndarray) -> float:
    """Peak level in dBFS (-inf for digital silence)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")


def rms_db(samples: np.ndarray) -> float:
    """RMS level in dBFS (-inf for digital silence)."""
    if not samples.size:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def normalize_peak(samples: np.ndarray, target_db: float = -1.0) -> np.ndarray:
    """Scale so the peak sits at ``target_db`` dBFS; silence is returned unchanged."""
    level = peak_db(samples)
    if not np.isfinite(level):
        return samples.astype(np.float32, copy=True)
    return (samples * 10.0 ** ((target_db - level) / 20.0)).astype(np.float32)


def normalize_rms(samples: np.ndarray, target_db: float = -25.0, max_peak: float = 0.999) -> np.ndarray:
    """Scale to an RMS of ``target_db`` dBFS, then lower the gain if the peak would clip."""
    level = rms_db(samples)
    if not np.isfinite(level):
        return samples.astype(np.float32, copy=True)
    gain = 10.0 ** ((target_db - level) / 20.0)
    peak = float(np.max(np.abs(samples))) * gain
    if peak > max_peak:
        gain *= max_peak / peak
    return (samples * gain).astype(np.float32)


def crop(samples: np.ndarray, start: int, length: int, pad: bool = True) -> np.ndarray:
    """Take ``length`` samples from ``start`` along the last axis, zero-padding past the end when ``pad``."""
    if start < 0 or length < 0:
        raise ValueError(f"start and length must be non-negative, got {start}, {length}")
    out = samples[..., start : start + length]
    missing = length - out.shape[-1]
    if pad and missing > 0:
        widths = [(0, 0)] * (samples.ndim - 1) + [(0, missing)]
        out = np.pad(out, widths)
    return np.ascontiguousarray(out, dtype=np.float32)


def random_crop(samples: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A ``length``-sample window at a random offset; shorter inputs are zero-padded at the end."""
    excess = samples.shape[-1] - length
    start = int(rng.integers(0, excess + 1)) if excess > 0 else 0
    return crop(samples, start, length)


def write(path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str | None = None) -> Path:
    """Write ``[T]`` or ``[C, T]`` samples; the format follows the suffix (WAV, FLAC, OGG...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = samples.T if samples.ndim == 2 else samples
    sf.write(str(path), data, sample_rate, subtype=subtype)
    return path
