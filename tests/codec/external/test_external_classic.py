"""Classic codecs through their real libraries: a round trip of eSpeak speech per codec and setting, the measured
bitrate against the nominal one, the stated delay against the measured one, and the one-line errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers.evalsignals import speech

from codecstudy import audio
from codecstudy.codec.catalog import open_codec
from codecstudy.codec.interface import MissingPackageError
from codecstudy.errors import CodecStudyError

CLASSIC = ["opus", "codec2", "lc3", "g722", "mp3", "amrwb"]


def _needs(kind: str) -> None:
    """AMR-WB comes from Debian packages (`make test` installs them); elsewhere its test is skipped."""
    if kind == "amrwb":
        import ctypes.util

        if ctypes.util.find_library("vo-amrwbenc") is None or ctypes.util.find_library("opencore-amrwb") is None:
            pytest.skip("libvo-amrwbenc0 / libopencore-amrwb0 not installed")


def _clip(rate: int) -> np.ndarray:
    return audio.resample(speech().astype(np.float32), 16000, rate).astype(np.float32)


def measured_delay(ref: np.ndarray, est: np.ndarray, max_delay: int = 2000) -> int:
    """Lag of the cross-correlation peak of ``est`` behind ``ref`` (0..max_delay samples)."""
    n = min(ref.size, est.size) - max_delay
    return int(np.argmax([np.dot(ref[:n], est[d : d + n]) for d in range(max_delay)]))


def snr_db(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2)))


@pytest.mark.parametrize("kind", CLASSIC)
def test_every_setting_round_trips_at_its_rate(kind: str) -> None:
    _needs(kind)
    codec = open_codec(kind)
    x = _clip(codec.sample_rate)
    for setting in codec.settings():
        rt = codec.roundtrip(x, setting.name)
        assert rt.audio.dtype == np.float32 and rt.audio.ndim == 1
        assert rt.audio.size >= x.size, "the decoded stream must hold the whole clip"
        measured = rt.measured_bps(x.size, codec.sample_rate)
        if (kind, setting.name) == ("codec2", "700"):
            # 700C packs its 28-bit frames (40 ms) into 4 bytes each: 800 bps of bytes
            assert measured == pytest.approx(800, rel=0.05)
        else:
            assert measured == pytest.approx(setting.nominal_bps, rel=0.10), setting
        # the output is the input, not noise: energy follows the speech envelope
        env_in = np.abs(x[: x.size // 160 * 160]).reshape(-1, 160).mean(1)
        shift = (codec.delay_samples(setting.name) or measured_delay(x, rt.audio, 600)) // 160
        env_out = np.abs(rt.audio[: x.size // 160 * 160]).reshape(-1, 160).mean(1)
        env_out = env_out[shift : shift + env_in.size]
        assert np.corrcoef(env_in[: env_out.size], env_out)[0, 1] > 0.7, setting


@pytest.mark.parametrize("name", ["opus:24kbps", "lc3:48kbps", "g722", "mp3:32kbps"])
def test_stated_delay_is_the_measured_delay(name: str) -> None:
    codec = open_codec(name)
    (setting,) = codec.default_settings()
    x = _clip(codec.sample_rate)
    rt = codec.roundtrip(x, setting)
    delay = codec.delay_samples(setting)
    assert measured_delay(x, rt.audio) == delay
    # after removing the stated delay, these waveform codecs reproduce the waveform
    assert snr_db(x, rt.audio[delay : delay + x.size]) > 5.0
    # and a clip that starts 37 samples later comes out 37 samples later
    late = np.concatenate([np.zeros(37, dtype=np.float32), x])
    assert measured_delay(x, codec.roundtrip(late, setting).audio) == delay + 37


def test_low_rate_opus_delay_is_the_lookahead_within_the_measurement_noise() -> None:
    codec = open_codec("opus:6kbps")
    x = _clip(16000)
    assert codec.delay_samples("6kbps") == 104
    assert abs(measured_delay(x, codec.roundtrip(x, "6kbps").audio) - 104) <= 3


def test_amrwb_delay_is_left_to_calibration_and_measures_95_samples() -> None:
    _needs("amrwb")
    codec = open_codec("amrwb:6.6kbps")
    x = _clip(16000)
    assert codec.delay_samples("6.6kbps") is None
    assert measured_delay(x, codec.roundtrip(x, "6.6kbps").audio) == 95  # the figure docs/codecs.md gives


def test_codec2_delay_is_left_to_calibration() -> None:
    codec = open_codec("codec2:3200")
    assert codec.sample_rate == 8000
    assert codec.delay_samples("3200") is None


def test_codec2_round_trip_depends_on_its_input_alone() -> None:
    """libcodec2's random phases come from process-wide generators: without isolation the same clip decoded
    after other clips came out up to 0.3 apart, so scores depended on the order workers took clips in."""
    _needs("codec2")
    codec = open_codec("codec2:3200")
    x = _clip(8000)
    first = codec.roundtrip(x, "3200")
    codec.roundtrip(x[::-1].copy(), "3200")
    codec.roundtrip(x[:4000], "1600")
    again = codec.roundtrip(x, "3200")
    assert np.array_equal(first.audio, again.audio) and first.n_bytes == again.n_bytes
    assert np.std(first.audio) > 0.01  # a real decoding, not silence


def test_names_select_settings_by_name_or_rate() -> None:
    assert open_codec("opus:6kbps").default_settings() == ["6kbps"]
    assert open_codec("opus:6000").default_settings() == ["6kbps"]
    assert open_codec("codec2:3.2kbps").default_settings() == ["3200"]
    assert open_codec("codec2:1600:3200").default_settings() == ["1600", "3200"]
    assert open_codec("opus").default_settings() == [s.name for s in open_codec("opus").settings()]


def test_a_setting_the_codec_does_not_offer_is_one_line_listing_the_offered() -> None:
    with pytest.raises(CodecStudyError) as info:
        open_codec("opus:5kbps")
    message = str(info.value)
    assert "\n" not in message and "5kbps" in message
    assert "6kbps, 8kbps, 10kbps, 12kbps" in message
    with pytest.raises(CodecStudyError, match="offers: 700, 1200, 1600, 2400, 3200"):
        open_codec("codec2:3000")


@pytest.mark.parametrize("name", ["mp3:", "opus::6kbps", "opus:6kbps:", "opus: "])
def test_an_empty_setting_is_one_line(name: str) -> None:
    kind = name.partition(":")[0]
    with pytest.raises(CodecStudyError) as info:
        open_codec(name)
    assert str(info.value) == (f"codec {name!r}: an empty setting between the colons (write {kind} for every "
                               f"setting it offers, or {kind}:SETTING; codecstudy codec info {kind} lists them)")


def test_a_missing_library_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opuslib_next", None)  # import now raises ImportError
    monkeypatch.setattr("ctypes.util.find_library", lambda name: None)
    from codecstudy.codec.external import amrwb

    amrwb._libraries.cache_clear()
    with pytest.raises(MissingPackageError, match="apt-get install"):
        open_codec("amrwb")
    amrwb._libraries.cache_clear()
    with pytest.raises(MissingPackageError) as info:
        open_codec("opus:6kbps")
    assert "classic" in str(info.value) and "opuslib-next-bundled" in str(info.value)
    assert "\n" not in str(info.value)
