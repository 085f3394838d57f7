"""Speech from eSpeak NG without a system install: a ctypes binding to the library in the ``espeakng-loader`` wheel.

The synthetic corpus needs speech in several languages that any ``pip install`` can produce, so the preferred
backend is the shared library shipped by ``espeakng-loader`` (``pip install espeakng-loader==0.2.4``); an
``espeak-ng`` binary on ``PATH`` is the fallback.

Determinism is the reason for the unusual loading scheme. eSpeak NG keeps function-level static state in its
waveform generator (the pitch-flutter index, the wave phase, the echo buffer) that neither ``espeak_Terminate``
nor a new ``espeak_Initialize`` resets, so the same text synthesised twice in one process comes out a few
samples different. Each utterance is therefore rendered by a *fresh* instance of the library: a private copy of
the ``.so`` is loaded, used and unloaded again (a few milliseconds), which also keeps our state apart from any
other user of the library in the process (phonemizer, for example). The binary fallback is deterministic for
the same reason: every call is a new process.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codecstudy.errors import CodecStudyError

INSTALL_HINT = "pip install espeakng-loader==0.2.4"

# espeak_Initialize output modes and flags (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit() when the data folder is unusable
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
# espeak_PARAMETER values.
_RATE = 1
_VOLUME = 2
_PITCH = 3
_RANGE = 4
_PUNCTUATION = 5
_CAPITALS = 6
_WORDGAP = 7
_EE_OK = 0

#: eSpeak voice to use for an ISO 639-1 code. French is ``fr``: the name ``fr-fr`` is not a voice file name,
#: so ``espeak_SetVoiceByName`` rejects it.
LANGUAGE_VOICES: dict[str, str] = {
    "en": "en-us",
    "es": "es",
    "fr": "fr",
    "it": "it",
    "nl": "nl",
    "cs": "cs",
    "de": "de",
    "ru": "ru",
    "pl": "pl",
    "pt": "pt",
}

#: Voice variants (``espeak-ng-data/voices/!v``) that use the default formant synthesiser; they change the
#: formant scaling, pitch range and breathiness, which is what makes two synthetic "speakers" differ.
VARIANTS: tuple[str, ...] = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")


@dataclass(frozen=True)
class Voice:
    """Everything that decides how an utterance sounds, so that it can be part of a cache key."""

    voice: str = "en-us"
    variant: str | None = None
    rate: int = 175  # words per minute, eSpeak accepts 80..450
    pitch: int = 50  # 0..100
    pitch_range: int = 50  # 0 (monotone)..100

    def __post_init__(self) -> None:
        if not 80 <= self.rate <= 450:
            raise ValueError(f"rate must be 80..450 words per minute, got {self.rate}")
        if not (0 <= self.pitch <= 100 and 0 <= self.pitch_range <= 100):
            raise ValueError(f"pitch and pitch_range must be 0..100, got {self.pitch}, {self.pitch_range}")

    @property
    def name(self) -> str:
        """The ``voice+variant`` string both the library and the binary accept."""
        return f"{self.voice}+{self.variant}" if self.variant else self.voice


def voice_for_language(language: str) -> str:
    """The eSpeak voice for an ISO 639-1 code; an unknown code is an error rather than silent English."""
    try:
        return LANGUAGE_VOICES[language]
    except KeyError:
        known = ", ".join(sorted(LANGUAGE_VOICES))
        raise CodecStudyError(f"espeak: no voice configured for language {language!r}; known: {known}") from None


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _LibraryBackend:
    """Renders each utterance with a freshly loaded private copy of libespeak-ng (see the module docstring)."""

    name = "library"

    def __init__(self, library: Path, data: Path) -> None:
        self.data = data
        self._dir = Path(tempfile.mkdtemp(prefix="codecstudy-espeak-"))
        atexit.register(shutil.rmtree, self._dir, True)
        # A copy has its own inode, so the dynamic loader maps a new instance rather than reusing one that
        # another module loaded from the wheel.
        self.library = self._dir / "libespeak-ng-codecstudy.so"
        shutil.copyfile(library, self.library)
        self.sample_rate = self._run(None, None)[1]

    def synthesize(self, text: str, voice: Voice) -> tuple[np.ndarray, int]:
        return self._run(text, voice)

    def _run(self, text: str | None, voice: Voice | None) -> tuple[np.ndarray, int]:
        lib = ctypes.CDLL(str(self.library), mode=getattr(os, "RTLD_LOCAL", 0))
        try:
            return self._synth_with(lib, text, voice)
        finally:
            handle = lib._handle
            del lib
            _unload(handle)

    def _synth_with(self, lib: ctypes.CDLL, text: str | None, voice: Voice | None) -> tuple[np.ndarray, int]:
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data).encode(), _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise CodecStudyError(f"espeak: cannot initialise libespeak-ng with data folder {self.data}")
        try:
            if text is None or voice is None:
                return np.zeros(0, dtype=np.float32), rate
            chunks: list[np.ndarray] = []

            def collect(wav: object, count: int, _events: object) -> int:
                if wav and count > 0:
                    chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
                return 0  # 0 = continue synthesis

            callback = _CALLBACK(collect)  # must outlive espeak_Synth; kept alive by this frame
            lib.espeak_SetSynthCallback(callback)
            if voice.variant and not (self.data / "voices" / "!v" / voice.variant).is_file():
                # eSpeak ignores an unknown variant silently; two "speakers" would then sound the same.
                raise CodecStudyError(f"espeak: voice variant {voice.variant!r} not found in {self.data}")
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            status = lib.espeak_SetVoiceByName(voice.name.encode())
            if status != _EE_OK:
                raise CodecStudyError(f"espeak: voice {voice.name!r} not found in {self.data}")
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            # Set every parameter explicitly so that nothing depends on library defaults changing between calls.
            for parameter, value in (
                (_RATE, voice.rate),
                (_PITCH, voice.pitch),
                (_RANGE, voice.pitch_range),
                (_VOLUME, 100),
                (_PUNCTUATION, 0),
                (_CAPITALS, 0),
                (_WORDGAP, 0),
            ):
                lib.espeak_SetParameter(parameter, value, 0)
            if hasattr(lib, "espeak_ng_SetRandSeed"):  # 1.52+: the noise of breathy and Klatt voices
                lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
                lib.espeak_ng_SetRandSeed(0)
            data = text.encode("utf-8")
            lib.espeak_Synth.argtypes = [
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.c_uint,
                ctypes.c_int,
                ctypes.c_uint,
                ctypes.c_uint,
                ctypes.c_void_p,
                ctypes.c_void_p,
            ]
            status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if status != _EE_OK:
                raise CodecStudyError(f"espeak: synthesis failed (status {status}) for text {text[:40]!r}")
            lib.espeak_Synchronize()
            lib.espeak_SetSynthCallback(None)
            samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
            return samples.astype(np.float32) / 32768.0, rate
        finally:
            lib.espeak_Terminate()


def _unload(handle: int) -> None:
    """Drop the loader's reference so the next load is a fresh instance with fresh static state."""
    import _ctypes

    close = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
    if close is not None:
        close(handle)


class _BinaryBackend:
    """Runs ``espeak-ng`` once per utterance and reads the WAV it writes."""

    name = "binary"

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def synthesize(self, text: str, voice: Voice) -> tuple[np.ndarray, int]:
        import soundfile as sf

        with tempfile.TemporaryDirectory(prefix="codecstudy-espeak-") as folder:
            out = Path(folder) / "out.wav"
            command = [
                self.executable,
                "-v", voice.name,
                "-s", str(voice.rate),
                "-p", str(voice.pitch),
                "-b", "1",  # input is UTF-8 whatever the locale says
                "-w", str(out),
                text,
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            problem = (result.stderr or "").strip()
            if result.returncode != 0 or not out.exists() or out.stat().st_size == 0:
                raise CodecStudyError(
                    f"espeak: {self.executable} failed for voice {voice.name!r} "
                    f"(exit {result.returncode}{': ' + problem.splitlines()[0] if problem else ''})"
                )
            samples, rate = sf.read(str(out), dtype="float32", always_2d=True)
        return np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32), int(rate)


_LOCK = threading.Lock()
_BACKEND: _LibraryBackend | _BinaryBackend | None = None
_BACKEND_ERROR: str | None = None


def _find_backend() -> _LibraryBackend | _BinaryBackend:
    reasons = []
    try:
        loader = importlib.import_module("espeakng_loader")
    except ImportError:
        reasons.append("the espeakng-loader package is not installed")
    else:
        try:
            library = Path(loader.get_library_path())
            data = Path(loader.get_data_path())
            if not library.is_file():
                raise FileNotFoundError(f"{library} is missing")
            return _LibraryBackend(library, data)
        except (OSError, RuntimeError, CodecStudyError) as exc:
            reasons.append(f"espeakng-loader is installed but its library cannot be used ({exc})")
    executable = shutil.which("espeak-ng")
    if executable:
        return _BinaryBackend(executable)
    reasons.append("no espeak-ng binary on PATH")
    raise CodecStudyError(f"espeak-ng is not available: {'; '.join(reasons)}. Install it with: {INSTALL_HINT}")


def _backend() -> _LibraryBackend | _BinaryBackend:
    """The backend, found once per process; a failure is remembered so it is not retried for every sentence."""
    global _BACKEND, _BACKEND_ERROR
    if _BACKEND is None:
        if _BACKEND_ERROR is not None:
            raise CodecStudyError(_BACKEND_ERROR)
        try:
            _BACKEND = _find_backend()
        except CodecStudyError as exc:
            _BACKEND_ERROR = str(exc)
            raise
    return _BACKEND


def backend_name() -> str | None:
    """``"library"``, ``"binary"``, or None when eSpeak NG is unavailable (never raises)."""
    with _LOCK:
        try:
            return _backend().name
        except CodecStudyError:
            return None


def unavailable_reason() -> str | None:
    """Why speech cannot be synthesised (with the install hint), or None when it can."""
    with _LOCK:
        try:
            _backend()
        except CodecStudyError as exc:
            return str(exc)
        return None


def available() -> bool:
    return unavailable_reason() is None


def synthesize(text: str, voice: Voice | str = "en-us") -> tuple[np.ndarray, int]:
    """Speak ``text`` and return ``(samples, sample_rate)``: mono float32 at the engine's rate (22050 Hz).

    The same text and voice give the same samples, in any process and whatever was synthesised before.
    Raises :class:`CodecStudyError` when eSpeak NG is unavailable or the voice does not exist.
    """
    if not text.strip():
        raise ValueError("cannot synthesise empty text")
    if isinstance(voice, str):
        voice = Voice(voice=voice)
    with _LOCK:  # one library instance at a time: loading and unloading are process-global
        return _backend().synthesize(text, voice)


def _reset_for_tests() -> None:
    """Forget the chosen backend, so tests can simulate a missing loader or binary."""
    global _BACKEND, _BACKEND_ERROR
    with _LOCK:
        _BACKEND = None
        _BACKEND_ERROR = None

