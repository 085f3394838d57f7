"""Text frontend: eSpeak NG phonemes, punctuation and stress handling, per-language symbol tables."""

from __future__ import annotations

import pytest

from codecstudy.errors import CodecStudyError
from codecstudy.tts import frontend
from codecstudy.tts.frontend import SPACE, SymbolTable, clause_punctuation, phonemize, split_clause

pytest.importorskip("espeakng_loader", reason="the TTS frontend needs espeakng-loader (tts extra)")


def test_split_clause_separates_stress_and_words() -> None:
    assert split_clause("h_ə_l_ˈoʊ w_ˈɜː_l_d") == ["h", "ə", "l", "ˈ", "oʊ", SPACE, "w", "ˈ", "ɜː", "l", "d"]
    assert split_clause("_(en)_tʃ_ˈaɪ_n_(cs)_z") == ["tʃ", "ˈ", "aɪ", "n", "z"]  # language switches dropped


def test_clause_punctuation_reads_past_lookahead() -> None:
    assert clause_punctuation("Hello, w") == ","
    assert clause_punctuation("orld! P") == "!"
    assert clause_punctuation("hen press pound.") == "."
    assert clause_punctuation("no mark here") is None


def test_phonemize_english_keeps_punctuation_and_words() -> None:
    symbols = phonemize("Hello, world!", "en")
    assert symbols == ["h", "ə", "l", "ˈ", "oʊ", ",", SPACE, "w", "ˈ", "ɜː", "l", "d", "!"]


def test_phonemize_other_languages_and_errors() -> None:
    de = phonemize("Guten Tag?", "de")
    assert de[-1] == "?" and "uː" in de
    assert "rʲ" in phonemize("Привет", "ru")
    with pytest.raises(CodecStudyError, match="empty"):
        phonemize("  ", "en")
    with pytest.raises(CodecStudyError, match="voice"):
        phonemize("hello", "xx")


def test_symbol_table_is_per_language_and_round_trips() -> None:
    table = SymbolTable.build([("en", ["a", "ˈ", ",", SPACE]), ("de", ["a", "ç"])])
    assert table.languages == ["de", "en"]
    assert "en:a" in table.symbols and "de:a" in table.symbols and "," in table.symbols
    assert table.language_symbols("de") == ["de:a", "de:ç"]
    ids, unknown = table.encode(["a", "ç", ","], "en")  # ç is German only
    assert unknown == 1 and ids[0] == table.symbols.index(frontend.BOS) and ids[-1] == table.symbols.index(frontend.EOS)
    assert ids[2] == table.symbols.index(frontend.UNK)
    again = SymbolTable.from_json(table.to_json())
    assert again.encode(["a"], "de") == table.encode(["a"], "de")
    with pytest.raises(CodecStudyError, match="no symbols for language 'fr'"):
        frontend.text_to_ids("bonjour", "fr", table)
