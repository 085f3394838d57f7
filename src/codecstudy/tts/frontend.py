"""Text frontend: text -> phoneme symbols (eSpeak NG, IPA), per-language symbol sets, symbol ids.

Why eSpeak NG through ctypes rather than phonemizer: the library already ships with the ``espeakng-loader``
wheel that the corpus uses for synthesis (:mod:`codecstudy.corpus.espeak`), it covers every corpus language, and
``espeak_TextToPhonemes`` is all phonemizer's espeak backend calls anyway; binding it here keeps the TTS extra at
one small wheel. Phonemisation is deterministic (unlike eSpeak's waveform generator), so one library instance is
loaded once per process; it is a private copy of the ``.so`` so that its voice state never meets the synthesis
instances of :mod:`codecstudy.corpus.espeak`.

Symbols. ``espeak_TextToPhonemes`` returns one clause at a time with phonemes separated by ``_`` and words by
spaces; it drops the punctuation that ended the clause, which we recover from the consumed text. Stress marks
(``ˈ``, ``ˌ``) become symbols of their own placed before the vowel they precede (so the vowel inventory stays
small), length marks stay on their phoneme (``iː`` is one symbol), and eSpeak's language-switch markers
(``(en)``) are dropped. A phoneme symbol is namespaced by language (``en:ˈ`` is not ``de:ˈ``): each language
gets its own symbol set inside one embedding table, which is what "per-language symbol set" means here, while
word boundaries, punctuation and the specials are shared.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecstudy.errors import CodecStudyError

PAD = "<pad>"
UNK = "<unk>"
BOS = "<bos>"
EOS = "<eos>"
SPACE = " "
SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS, SPACE)
PUNCTUATION: tuple[str, ...] = (",", ".", "!", "?", ";", ":")
STRESS_MARKS = ("ˈ", "ˌ")
_IPA_MODE = 0x02
_SEPARATOR = "_"
_CLAUSE_END = re.compile(r"([,.!?;:…。，！？])[\"'»”)\]]*\s*[^\s,.!?;:…。，！？]*$")
_FOLD = {"…": ".", "。": ".", "，": ",", "！": "!", "？": "?"}
_SWITCH = re.compile(r"\([a-z]{2,3}(-[a-z]+)?\)")

#: eSpeak voice per corpus language (ISO 639-1); a language not listed is tried under its own code.
VOICES: dict[str, str] = {
    "en": "en-us",
    "zh": "cmn",
    "nb": "nb",
    "nn": "nb",
    "ja": "ja",
    "ko": "ko",
}


def voice_for(language: str) -> str:
    """The eSpeak voice used to phonemise ``language`` (``en`` -> ``en-us``; others by their code)."""
    return VOICES.get(language, language.split("-")[0])


class _Phonemizer:
    """One private, persistent instance of libespeak-ng used only for ``espeak_TextToPhonemes``."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError:
            raise CodecStudyError(
                "the TTS frontend needs eSpeak NG: pip install 'codecstudy[tts]' (espeakng-loader==0.2.4)"
            ) from None
        source = Path(espeakng_loader.get_library_path())
        folder = Path(tempfile.mkdtemp(prefix="codecstudy-phonemes-"))
        target = folder / "libespeak-ng-phonemes.so"
        shutil.copyfile(source, target)
        self.lib = ctypes.CDLL(str(target), mode=getattr(os, "RTLD_LOCAL", 0))
        shutil.rmtree(folder, ignore_errors=True)  # the mapping stays valid after the file is gone
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        rate = self.lib.espeak_Initialize(0x02, 0, str(espeakng_loader.get_data_path()).encode(), 0x8000)
        if rate <= 0:
            raise CodecStudyError("eSpeak NG: cannot initialise the library for phonemisation")
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        self.voice: str | None = None

    def clauses(self, text: str, voice: str) -> list[tuple[str, str]]:
        """``[(phonemes, consumed text)]`` per clause, in order."""
        if voice != self.voice:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise CodecStudyError(f"eSpeak NG has no voice {voice!r} for phonemisation")
            self.voice = voice
        data = text.encode("utf-8")
        buffer = ctypes.create_string_buffer(data)
        base = ctypes.addressof(buffer)
        pointer = ctypes.c_char_p(base)
        mode = _IPA_MODE | (ord(_SEPARATOR) << 8)
        out: list[tuple[str, str]] = []
        start = 0
        while True:
            result = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), 1, mode)
            address = ctypes.cast(pointer, ctypes.c_void_p).value
            end = len(data) if address is None else address - base
            out.append(((result or b"").decode("utf-8", "replace"), data[start:end].decode("utf-8", "replace")))
            start = end
            if address is None or end >= len(data):
                break
        return out


_LOCK = threading.Lock()
_INSTANCE: _Phonemizer | None = None


def _phonemizer() -> _Phonemizer:
    global _INSTANCE
    if _INSTANCE is None:
        _INSTANCE = _Phonemizer()
    return _INSTANCE


def split_clause(phonemes: str) -> list[str]:
    """One clause of eSpeak output (``h_ə_l_ˈoʊ w_ˈɜː_l_d``) -> symbols, stress marks split off, words spaced."""
    symbols: list[str] = []
    for word in _SWITCH.sub("", phonemes).split():
        if symbols:
            symbols.append(SPACE)
        for piece in word.split(_SEPARATOR):
            while piece and piece[0] in STRESS_MARKS:
                symbols.append(piece[0])
                piece = piece[1:]
            # a stress mark can also sit after a consonant inside a piece (``pˈa``): split it off as well
            for part in re.split(f"([{''.join(STRESS_MARKS)}])", piece):
                if part:
                    symbols.append(part)
    return symbols


def clause_punctuation(consumed: str) -> str | None:
    """The punctuation mark that ended a clause (eSpeak drops it from the phonemes), or None.

    eSpeak reads one character past the clause end, so the consumed text of ``Hello, world!`` is ``Hello, w``:
    the mark is the last one followed only by closing quotes, spaces and at most the start of the next word.
    """
    match = _CLAUSE_END.search(consumed.replace("\x00", ""))
    if match is None:
        return None
    mark = match.group(1)
    return _FOLD.get(mark, mark)


def phonemize(text: str, language: str) -> list[str]:
    """Phoneme symbols of ``text`` in ``language`` (not yet namespaced): phonemes, stress marks, spaces, and the
    clause-final punctuation kept as symbols because it shapes pauses and intonation."""
    if not text or not text.strip():
        raise CodecStudyError("cannot phonemise empty text")
    with _LOCK:
        clauses = _phonemizer().clauses(text.strip(), voice_for(language))
    symbols: list[str] = []
    for phonemes, consumed in clauses:
        words = split_clause(phonemes)
        mark = clause_punctuation(consumed)
        if not words and mark is None:
            continue
        if symbols and symbols[-1] != SPACE:
            symbols.append(SPACE)
        symbols.extend(words)
        if mark is not None:
            symbols.append(mark)
    while symbols and symbols[-1] == SPACE:
        symbols.pop()
    return symbols


def namespaced(symbol: str, language: str) -> str:
    """``en:ə`` for a phoneme or stress mark; specials and punctuation are shared by all languages."""
    if symbol in SPECIALS or symbol in PUNCTUATION:
        return symbol
    return f"{language}:{symbol}"


@dataclass
class SymbolTable:
    """The symbol inventory of a model: shared specials, then each language's symbols (saved with the model)."""

    symbols: list[str] = field(default_factory=lambda: [*SPECIALS, *PUNCTUATION])
    languages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._index = {s: i for i, s in enumerate(self.symbols)}

    @classmethod
    def build(cls, sequences: Iterable[tuple[str, list[str]]]) -> SymbolTable:
        """From ``(language, symbols)`` pairs; the order is sorted per language, so the table is deterministic."""
        per_language: dict[str, set[str]] = {}
        for language, symbols in sequences:
            per_language.setdefault(language, set()).update(namespaced(s, language) for s in symbols)
        table = cls()
        for language in sorted(per_language):
            table.languages.append(language)
            for symbol in sorted(per_language[language]):
                if symbol not in table._index:
                    table._index[symbol] = len(table.symbols)
                    table.symbols.append(symbol)
        return table

    def __len__(self) -> int:
        return len(self.symbols)

    def encode(self, symbols: list[str], language: str) -> tuple[list[int], int]:
        """Ids of ``symbols`` framed by BOS/EOS, and how many were unknown (mapped to ``<unk>``)."""
        unk = self._index[UNK]
        ids = [self._index.get(namespaced(s, language), unk) for s in symbols]
        unknown = sum(1 for i in ids if i == unk)
        return [self._index[BOS], *ids, self._index[EOS]], unknown

    def to_json(self) -> dict[str, Any]:
        return {"symbols": list(self.symbols), "languages": list(self.languages)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SymbolTable:
        return cls(symbols=list(data["symbols"]), languages=list(data["languages"]))

    def language_symbols(self, language: str) -> list[str]:
        """The language's own symbols (without the shared ones)."""
        prefix = f"{language}:"
        return [s for s in self.symbols if s.startswith(prefix)]


def text_to_ids(text: str, language: str, table: SymbolTable) -> list[int]:
    """Text -> model input ids; unknown symbols become ``<unk>`` (a language the model never saw is an error)."""
    if language not in table.languages:
        raise CodecStudyError(
            f"the TTS model has no symbols for language {language!r} (trained on: {', '.join(table.languages)})"
        )
    ids, _ = table.encode(phonemize(text, language), language)
    return ids
