"""The eSpeak NG binding: real synthesis through the espeakng-loader wheel, and the binary fallback."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codecstudy.corpus import espeak
from codecstudy.errors import CodecStudyError

needs_espeak = pytest.mark.skipif(not espeak.available(), reason="espeak-ng unavailable (pip install espeakng-loader)")

SENTENCES = {
    "en": "The bakery on the corner opens at seven.",
    "fr": "La boulangerie du coin ouvre à sept heures.",
    "de": "Die Bäckerei an der Ecke öffnet um sieben Uhr.",
    "cs": "Pekárna na rohu otevírá v sedm hodin.",
    "ru": "Булочная на углу открывается в семь утра.",
}


@pytest.fixture
def fresh_backend():
    """Let a test choose the backend again, and forget its choice afterwards."""
    espeak._reset_for_tests()
    yield
    espeak._reset_for_tests()


@needs_espeak
@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_speech_is_audible_and_plausibly_long(language: str) -> None:
    samples, rate = espeak.synthesize(SENTENCES[language], espeak.voice_for_language(language))
    assert rate == 22050 and samples.dtype == np.float32 and samples.ndim == 1
    assert np.all(np.isfinite(samples)) and float(np.max(np.abs(samples))) <= 1.0
    seconds = len(samples) / rate
    assert 1.0 < seconds < 6.0, seconds  # ~8 words at 175 words per minute, with pauses
    frames = samples[: len(samples) // 441 * 441].reshape(-1, 441)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > 0.02
    assert loud.mean() > 0.3  # mostly speech, not silence


@needs_espeak
def test_same_input_gives_identical_samples_whatever_came_before() -> None:
    voice = espeak.Voice("en-us", "f2", rate=160, pitch=60)
    first, _ = espeak.synthesize("Determinism matters for caching.", voice)
    espeak.synthesize("Something else, in another voice.", espeak.Voice("de", "m3", rate=120, pitch=20))
    second, _ = espeak.synthesize("Determinism matters for caching.", voice)
    np.testing.assert_array_equal(first, second)


@needs_espeak
def test_same_input_gives_identical_samples_in_another_process() -> None:
    code = (
        "import hashlib; from codecstudy.corpus import espeak; "
        "x, _ = espeak.synthesize('Determinism matters for caching.', espeak.Voice('en-us', 'f2', 160, 60)); "
        "print(hashlib.sha256(x.tobytes()).hexdigest())"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    here, _ = espeak.synthesize("Determinism matters for caching.", espeak.Voice("en-us", "f2", 160, 60))
    assert hashlib.sha256(here.tobytes()).hexdigest() == other


@needs_espeak
def test_voice_settings_change_the_sound() -> None:
    text = "Every speaker sounds a little different."
    base, _ = espeak.synthesize(text, espeak.Voice("en-us", "m1"))
    female, _ = espeak.synthesize(text, espeak.Voice("en-us", "f2"))
    slow, _ = espeak.synthesize(text, espeak.Voice("en-us", "m1", rate=110))
    assert not np.array_equal(base, female)
    assert len(slow) > 1.3 * len(base)


@needs_espeak
def test_unknown_voices_are_errors_not_silent_defaults() -> None:
    with pytest.raises(CodecStudyError, match="zz-nowhere"):
        espeak.synthesize("hello", "zz-nowhere")
    with pytest.raises(CodecStudyError, match="variant"):
        espeak.synthesize("hello", espeak.Voice("en-us", "nosuchvariant"))


def test_argument_checks() -> None:
    with pytest.raises(CodecStudyError, match="known"):
        espeak.voice_for_language("xx")
    assert espeak.voice_for_language("fr") == "fr"
    with pytest.raises(ValueError):
        espeak.Voice(rate=20)
    with pytest.raises(ValueError):
        espeak.Voice(pitch=101)
    with pytest.raises(ValueError):
        espeak.synthesize("   ")
    assert espeak.Voice("de", "m3").name == "de+m3" and espeak.Voice("de").name == "de"


def _fake_espeak(folder: Path, exit_code: int = 0) -> Path:
    """An ``espeak-ng`` stand-in that records its arguments and writes a fixed WAV where ``-w`` says."""
    folder.mkdir()
    wav = folder / "canned.wav"
    sf.write(str(wav), np.full(2205, 0.25, dtype=np.float32), 22050, subtype="PCM_16")
    script = folder / "espeak-ng"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{folder}/args.txt"\n'
        f"[ {exit_code} -ne 0 ] && {{ echo 'voice not found' >&2; exit {exit_code}; }}\n"
        'while [ $# -gt 0 ]; do [ "$1" = "-w" ] && out="$2"; shift; done\n'
        f'/bin/cp "{wav}" "$out"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


@pytest.mark.skipif(not os.path.exists("/bin/cp") or sys.platform == "win32", reason="needs a POSIX shell")
def test_binary_fallback_when_the_loader_is_missing(fresh_backend, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # makes the import fail
    folder = _fake_espeak(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(folder))
    assert espeak.backend_name() == "binary"
    samples, rate = espeak.synthesize("Grüße aus Prag", espeak.Voice("de", "f2", rate=160, pitch=60))
    assert rate == 22050 and len(samples) == 2205 and samples[0] == pytest.approx(0.25, abs=1e-3)
    args = (folder / "args.txt").read_text().splitlines()
    assert args[:6] == ["-v", "de+f2", "-s", "160", "-p", "60"] and "-w" in args
    assert args[-1] == "Grüße aus Prag"


@pytest.mark.skipif(not os.path.exists("/bin/cp") or sys.platform == "win32", reason="needs a POSIX shell")
def test_binary_failure_is_reported(fresh_backend, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)
    monkeypatch.setenv("PATH", str(_fake_espeak(tmp_path / "bin", exit_code=1)))
    with pytest.raises(CodecStudyError, match="voice not found"):
        espeak.synthesize("hello", "xx")


def test_neither_loader_nor_binary_names_the_install_command(fresh_backend, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not espeak.available() and espeak.backend_name() is None
    assert "pip install espeakng-loader==0.2.4" in (espeak.unavailable_reason() or "")
    with pytest.raises(CodecStudyError, match=r"pip install espeakng-loader==0\.2\.4"):
        espeak.synthesize("hello")
