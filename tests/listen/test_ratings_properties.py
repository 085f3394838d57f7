"""Property-based: no JSON at all, and no mutation of a valid ratings file, makes reading it raise anything but a
one-line RatingsError naming the file (or, when the mutation left it valid, read it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.jsonfuzz import json_values, mutations
from helpers.mushra import export
from hypothesis import given, settings

from codecstudy.listen.build import ListenSettings, page_data
from codecstudy.listen.formats import ListeningTest
from codecstudy.listen.ratings import RatingsError, Session, read_session
from codecstudy.listen.trials import Trial

CONDITIONS = ["reference", "anchor_3k5", "anchor_7k", "codec_a"]
TEST = page_data(
    [Trial(f"t{i + 1:02d}", "s", f"clip{i}", "en", "speech", "speech/en", 3.0, reference=f"a/{i}/r.wav",
           stimuli={c: f"a/{i}/{c}.wav" for c in CONDITIONS}) for i in range(2)],
    {"name": "demo", "hash": "h" * 64}, ListenSettings(n_q=8))
VALID = export(TEST, "Anna", lambda trial, condition: 100.0 if condition == "reference" else 50.0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ratings")


def _read(folder: Path, data: object) -> Session | str:
    path = folder / "ratings.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    try:
        return read_session(path, ListeningTest.model_validate(TEST))
    except RatingsError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message, message
        return message


@settings(max_examples=60, deadline=None)
@given(data=json_values)
def test_arbitrary_json_is_rejected_in_one_line(folder: Path, data: object) -> None:
    assert isinstance(_read(folder, data), str)


@settings(max_examples=150, deadline=None)
@given(data=mutations(VALID))
def test_a_mutated_ratings_file_is_read_or_rejected_in_one_line(folder: Path, data: object) -> None:
    result = _read(folder, data)
    if isinstance(result, Session):  # the mutation left it valid (an extra key, a rating moved within 0-100...)
        assert sorted(result.scores) == ["t01", "t02"] and result.listener
