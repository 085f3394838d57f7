"""codecstudy.audio: formats (including headerless G.722 and GSM), ranges, signal helpers and damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codecstudy import audio
from codecstudy.errors import AudioReadError


def sine(freq: float, sample_rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(x: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1.0 / sample_rate)[np.argmax(spectrum)])


def best_lag_correlation(reference: np.ndarray, decoded: np.ndarray, max_lag: int = 64) -> float:
    """Codecs delay their output; compare at the lag that lines the two up best."""
    n = min(len(reference), len(decoded)) - max_lag
    return max(float(np.corrcoef(reference[:n], decoded[lag : lag + n])[0, 1]) for lag in range(max_lag))


# --- formats -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "subtype", "tolerance"),
    [(".wav", "PCM_16", 1e-4), (".wav", "FLOAT", 0.0), (".flac", None, 1e-4)],
)
def test_lossless_round_trip(tmp_path: Path, suffix: str, subtype: str | None, tolerance: float) -> None:
    x = sine(440, 16000)
    path = audio.write(tmp_path / f"x{suffix}", x, 16000, subtype=subtype)
    y, sr = audio.read(path)
    assert sr == 16000 and y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=tolerance)
    assert audio.info(path) == audio.AudioInfo(16000, 1, 16000)


def test_ogg_round_trip(tmp_path: Path) -> None:
    x = sine(440, 16000)
    path = audio.write(tmp_path / "x.ogg", x, 16000)
    y, sr = audio.read(path)
    assert sr == 16000 and abs(len(y) - len(x)) < 1024
    assert best_lag_correlation(x, y) > 0.99


def test_stereo_is_mixed_down_unless_asked(tmp_path: Path) -> None:
    left, right = sine(440, 16000), sine(660, 16000, amp=0.25)
    path = audio.write(tmp_path / "stereo.wav", np.stack([left, right]), 16000, subtype="FLOAT")
    assert audio.info(path).channels == 2
    mono, _ = audio.read(path)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-6)
    both, _ = audio.read(path, mono=False)
    assert both.shape == (2, 16000)
    np.testing.assert_allclose(both[1], right, atol=1e-6)


def test_headerless_g722(tmp_path: Path) -> None:
    import G722

    x = sine(440, 16000)
    encoded = G722.G722(16000, 64000).encode((x * 32767).astype(np.int16))
    path = tmp_path / "prompt.g722"
    path.write_bytes(encoded)
    assert audio.info(path) == audio.AudioInfo(16000, 1, 2 * len(encoded))
    y, sr = audio.read(path)
    assert sr == 16000 and len(y) == len(x)
    assert best_lag_correlation(x, y) > 0.9
    assert dominant_hz(y, sr) == pytest.approx(440, abs=2)


def test_headerless_gsm(tmp_path: Path) -> None:
    x = sine(440, 8000)
    path = tmp_path / "prompt.gsm"
    sf.write(str(path), x, 8000, format="RAW", subtype="GSM610")
    assert path.stat().st_size % 33 == 0
    meta = audio.info(path)
    assert (meta.sample_rate, meta.channels) == (8000, 1) and meta.frames == path.stat().st_size // 33 * 160
    y, sr = audio.read(path)
    assert sr == 8000 and len(y) == meta.frames
    assert best_lag_correlation(x, y) > 0.9
    assert dominant_hz(y, sr) == pytest.approx(440, abs=4)


def test_read_range(tmp_path: Path) -> None:
    x = np.linspace(-0.5, 0.5, 16000, dtype=np.float32)
    path = audio.write(tmp_path / "ramp.wav", x, 16000, subtype="FLOAT")
    y, _ = audio.read(path, start=0.25, duration=0.5)
    np.testing.assert_array_equal(y, x[4000:12000])
    tail, _ = audio.read(path, start=0.75, duration=10.0)  # clipped to the end of the file
    np.testing.assert_array_equal(tail, x[12000:])
    with pytest.raises(AudioReadError, match="lasts"):
        audio.read(path, start=2.0)


# --- signal helpers ----------------------------------------------------------------------------------------


def test_resample_keeps_frequency_and_length() -> None:
    x = sine(1000, 44100)
    y = audio.resample(x, 44100, 16000)
    assert y.dtype == np.float32 and len(y) == 16000
    assert dominant_hz(y, 16000) == pytest.approx(1000, abs=2)
    assert audio.rms_db(y) == pytest.approx(audio.rms_db(x), abs=0.1)
    stereo = audio.resample(np.stack([x, x]), 44100, 16000)
    assert stereo.shape == (2, 16000)
    assert audio.resample(x, 44100, 44100) is x
    with pytest.raises(ValueError):
        audio.resample(x, 0, 16000)


def test_levels_and_normalisation() -> None:
    x = sine(440, 16000, amp=0.1)
    assert audio.peak_db(x) == pytest.approx(-20.0, abs=0.01)
    assert audio.rms_db(x) == pytest.approx(-20.0 - 10 * np.log10(2), abs=0.01)
    assert audio.peak_db(audio.normalize_peak(x, -3.0)) == pytest.approx(-3.0, abs=1e-3)
    assert audio.rms_db(audio.normalize_rms(x, -30.0)) == pytest.approx(-30.0, abs=1e-3)
    # A click in silence would clip at -10 dB RMS: the gain is lowered to keep the peak at max_peak.
    spike = np.zeros(16000, dtype=np.float32)
    spike[100] = 0.1
    limited = audio.normalize_rms(spike, -10.0, max_peak=0.9)
    assert float(np.max(np.abs(limited))) == pytest.approx(0.9, abs=1e-6)
    silence = np.zeros(100, dtype=np.float32)
    assert audio.peak_db(silence) == float("-inf") and audio.rms_db(np.zeros(0)) == float("-inf")
    np.testing.assert_array_equal(audio.normalize_peak(silence), silence)
    np.testing.assert_array_equal(audio.normalize_rms(silence), silence)


def test_crop_pads_past_the_end() -> None:
    x = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(audio.crop(x, 2, 3), [2, 3, 4])
    np.testing.assert_array_equal(audio.crop(x, 8, 5), [8, 9, 0, 0, 0])
    assert audio.crop(x, 8, 5, pad=False).shape == (2,)
    assert audio.crop(np.stack([x, x]), 8, 5).shape == (2, 5)
    with pytest.raises(ValueError):
        audio.crop(x, -1, 3)


def test_random_crop_is_seeded() -> None:
    x = np.arange(1000, dtype=np.float32)
    first = audio.random_crop(x, 100, np.random.default_rng(7))
    again = audio.random_crop(x, 100, np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    assert first.shape == (100,) and np.all(np.diff(first) == 1)  # one contiguous window
    starts = {float(audio.random_crop(x, 100, np.random.default_rng(s))[0]) for s in range(10)}
    assert len(starts) > 1
    short = audio.random_crop(x[:10], 20, np.random.default_rng(0))
    np.testing.assert_array_equal(short, np.concatenate([x[:10], np.zeros(10)]))


# --- damaged input -----------------------------------------------------------------------------------------


def _valid_wav_bytes(tmp_path: Path) -> bytes:
    path = audio.write(tmp_path / "valid.wav", sine(440, 16000), 16000, subtype="PCM_16")
    return path.read_bytes()


def _damaged(tmp_path: Path, case: str) -> Path:
    rng = np.random.default_rng(0)
    garbage = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    if case == "missing":
        return tmp_path / "nowhere.wav"
    if case == "empty":
        path = tmp_path / "empty.wav"
        path.write_bytes(b"")
        return path
    if case == "random bytes":
        path = tmp_path / "noise.wav"
        path.write_bytes(garbage)
        return path
    if case == "riff header then garbage":
        path = tmp_path / "garbled.wav"
        path.write_bytes(b"RIFF" + (4004).to_bytes(4, "little") + b"WAVE" + garbage)
        return path
    if case == "complete header then garbage":
        path = tmp_path / "badbody.wav"
        path.write_bytes(_valid_wav_bytes(tmp_path)[:44] + garbage)
        return path
    if case == "truncated wav":
        data = _valid_wav_bytes(tmp_path)
        path = tmp_path / "truncated.wav"
        path.write_bytes(data[: 44 + (len(data) - 44) // 2])  # the header still declares the full length
        return path
    if case == "truncated gsm":
        path = tmp_path / "truncated.gsm"
        sf.write(str(path), sine(440, 8000), 8000, format="RAW", subtype="GSM610")
        path.write_bytes(path.read_bytes()[:-10])
        return path
    if case == "directory":
        path = tmp_path / "folder.wav"
        path.mkdir()
        return path
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "empty",
        "random bytes",
        "riff header then garbage",
        "complete header then garbage",
        "truncated wav",
        "truncated gsm",
        "directory",
    ],
)
def test_damaged_files_raise_with_path_and_reason(tmp_path: Path, case: str) -> None:
    path = _damaged(tmp_path, case)
    with pytest.raises(AudioReadError) as caught:
        audio.read(path)
    error = caught.value
    assert error.path == str(path) and error.reason
    assert str(error).startswith(f"{path}: ") and len(str(error)) > len(str(path)) + 5


def test_truncated_wav_reason_says_truncated(tmp_path: Path) -> None:
    with pytest.raises(AudioReadError, match="truncated"):
        audio.info(_damaged(tmp_path, "truncated wav"))
    with pytest.raises(AudioReadError, match="truncated"):
        audio.info(_damaged(tmp_path, "truncated gsm"))


def test_streaming_wav_with_unset_length_is_accepted(tmp_path: Path) -> None:
    """Writers that cannot seek (pipes) leave 0xFFFFFFFF as the data size; that is not truncation."""
    data = bytearray(_valid_wav_bytes(tmp_path))
    assert data[36:40] == b"data"
    data[40:44] = (0xFFFFFFFF).to_bytes(4, "little")
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(data))
    y, sr = audio.read(path)
    assert sr == 16000 and len(y) == 16000


def test_header_only_wav_is_an_empty_stream(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioReadError, match="empty audio stream"):
        audio.read(path)
