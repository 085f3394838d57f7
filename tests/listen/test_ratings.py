"""Ratings files: every bad input is one line naming the file; BS.1534 post-screening; scores and correlations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers.mushra import export, write

from codecstudy.listen.build import ListenSettings, page_data
from codecstudy.listen.formats import ListeningTest
from codecstudy.listen.ratings import RatingsError, read_session, screen
from codecstudy.listen.scores import correlations, pair_rows, rating_records, score_rows, table_rows
from codecstudy.listen.trials import Trial

CONDITIONS = ["reference", "anchor_3k5", "anchor_7k", "codec_a", "codec_b"]


def _test(n: int = 4) -> dict:
    trials = []
    for i in range(n):
        lang = "en" if i % 2 == 0 else "de"
        t = Trial(f"t{i + 1:02d}", "s", f"clip{i}", lang, "speech", f"speech/{lang}", 3.0, reference=f"a/{i}/r.wav",
                  stimuli={c: f"a/{i}/{c}.wav" for c in CONDITIONS})
        trials.append(t)
    return page_data(trials, {"name": "demo", "hash": "h" * 64}, ListenSettings(n_q=8))


def parsed(test: dict) -> ListeningTest:
    """The test as the import reads it back from trials.json."""
    return ListeningTest.model_validate(test)


def _good(trial: dict, condition: str) -> float:
    return {"reference": 100, "anchor_3k5": 10, "anchor_7k": 40, "codec_a": 70, "codec_b": 50}[condition] + (
        int(trial["id"][1:]) if condition.startswith("codec") else 0)


def test_a_good_file_is_read(tmp_path: Path) -> None:
    test = _test()
    session = read_session(write(tmp_path / "anna.json", export(test, "Anna", _good)), parsed(test))
    assert session.listener == "Anna" and session.key == "anna" and session.languages == ["en"]
    assert session.scores["t02"] == {"reference": 100.0, "anchor_3k5": 10.0, "anchor_7k": 40.0, "codec_a": 72.0,
                                     "codec_b": 52.0}


def _edit(data: dict, change: str) -> dict | str:
    if change == "study":
        data["study"]["name"] = "other"
    elif change == "study-version":
        data["study"]["hash"] = "x" * 64
    elif change == "version":
        data["version"] = 2
    elif change == "tampered":
        data["trials"][1]["clip"] = "another clip"
    elif change == "rebuilt":
        data["trials"][1]["clip"] = "another clip"
        from codecstudy.listen.trials import trials_hash
        data["trials_hash"] = trials_hash(data["trials"])
    elif change == "incomplete":
        data["session"]["complete"] = False
        data["session"]["finished"] = None
    elif change == "missing":
        data["ratings"] = data["ratings"][:2]
    elif change == "unrated":
        del data["ratings"][0]["scores"]["codec_b"]
    elif change == "range":
        data["ratings"][2]["scores"]["codec_a"] = 120
    elif change == "not-number":
        data["ratings"][2]["scores"]["codec_a"] = "good"
    elif change == "twice":
        data["ratings"].append(data["ratings"][0])
    elif change == "no-listener":
        data["listener"]["id"] = "  "
    elif change == "other-format":
        data["format"] = "webmushra"
    return data


@pytest.mark.parametrize("change, words", [
    ("study", "ratings of study 'other', not 'demo'"),
    ("study-version", "another version of study 'demo'"),
    ("version", "format version 2"),
    ("tampered", "tampered trial list"),
    ("rebuilt", "another build of this listening test"),
    ("incomplete", "incomplete session"),
    ("missing", "missing trials: 2 of 4 not rated (t03, t04)"),
    ("unrated", "trial t01: 1 of 5 stimuli not rated"),
    ("range", "trial t03: rating 120 of 'codec_a' outside 0-100"),
    ("not-number", "rating 'good' of 'codec_a' outside 0-100"),
    ("twice", "trial t01 rated twice"),
    ("no-listener", "no listener id"),
    ("other-format", "not a codecstudy MUSHRA ratings file"),
])
def test_bad_files_give_one_line_naming_the_file(tmp_path: Path, change: str, words: str) -> None:
    test = _test()
    path = write(tmp_path / f"{change}.json", _edit(export(test, "Anna", _good), change))
    with pytest.raises(RatingsError) as error:
        read_session(path, parsed(test))
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert words in message


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(RatingsError, match=r"x\.json: not JSON"):
        read_session(path, parsed(_test()))


def test_post_screening_follows_bs1534(tmp_path: Path) -> None:
    test = _test(20)

    def low_reference(count: int):  # hidden reference rated 80 in the first `count` trials
        return lambda t, c: 80.0 if c == "reference" and int(t["id"][1:]) <= count else _good(t, c)

    sessions = [read_session(write(tmp_path / f"{n}.json", export(test, n, low_reference(k))), parsed(test))
                for n, k in (("ok", 0), ("edge", 3), ("out", 4))]
    rows = {r.listener: r for r in screen(sessions)}
    assert not rows["ok"].excluded and rows["ok"].reference_below_90 == 0
    assert not rows["edge"].excluded and rows["edge"].fraction == 0.15  # 3 of 20 is not *more* than 15 %
    assert rows["out"].excluded and rows["out"].reference_below_90 == 4
    assert "4 of 20 trials (20 % > 15 %)" in rows["out"].reason


def test_scores_reuse_the_aggregate_statistics(tmp_path: Path) -> None:
    test = _test(4)
    one = read_session(write(tmp_path / "a.json", export(test, "a", _good)), parsed(test))
    lower = export(test, "b", lambda t, c: _good(t, c) - 10 if c.startswith("codec") else _good(t, c), ("fr",))
    two = read_session(write(tmp_path / "b.json", lower), parsed(test))
    records = rating_records([one, two], parsed(test).trials, 8)
    table = {(r["group"], r["condition"]): r for r in table_rows(score_rows(records, n_boot=200), records)}
    # codec_a in speech/en: trials 1 and 3 -> 71, 73 (listener a) and 61, 63 (listener b)
    assert table[("speech/en", "codec_a")]["mean"] == pytest.approx(67.0)
    assert table[("speech/en", "codec_a")]["ratings"] == 4 and table[("speech/en", "codec_a")]["listeners"] == 2
    assert table[("all", "codec_b")]["mean"] == pytest.approx((51 + 52 + 53 + 54 + 41 + 42 + 43 + 44) / 8)
    assert table[("all", "reference")]["ci_low"] == table[("all", "reference")]["ci_high"] == 100.0
    lo, hi = table[("all", "codec_a")]["ci_low"], table[("all", "codec_a")]["ci_high"]
    assert lo < table[("all", "codec_a")]["mean"] < hi
    # listener a speaks en only (the default), b nothing of the test: only a's en ratings count as speakers'
    speakers = score_rows([r for r in records if r["speaks"]], n_boot=200)
    with_speakers = {(r["group"], r["condition"]): r for r in table_rows(score_rows(records, n_boot=200), records,
                                                                           speakers)}
    assert with_speakers[("speech/en", "codec_a")]["speakers_mean"] == pytest.approx(72.0)  # 71, 73
    assert with_speakers[("speech/en", "codec_a")]["speakers_ratings"] == 2
    assert with_speakers[("speech/de", "codec_a")]["speakers_ratings"] == 0
    pairs = pair_rows(records, "wilcoxon", 0.05)
    assert {(p.condition_a, p.condition_b) for p in pairs} == {("codec_a", "codec_b")}  # codecs only
    everything = next(p for p in pairs if p.set == "all")
    # the test is over listeners (each one's mean difference), not over their 8 listener x trial ratings
    assert everything.better == "codec_a" and everything.mean_diff == pytest.approx(20.0) and everything.n == 2


def test_correlation_with_a_metric(tmp_path: Path) -> None:
    test = _test(4)
    session = read_session(write(tmp_path / "a.json", export(test, "a", _good)), parsed(test))
    results = [{"clip": f"clip{i}", "condition": c, "n_q": 8, "metrics": {"pesq": _good({"id": f"t{i + 1:02d}"}, c)
                                                                            / 20, "mcd": 1.0}}
               for i in range(4) for c in ("codec_a", "codec_b")]
    directions = {"pesq": "higher", "mcd": "lower"}
    rows = {r.metric: r for r in correlations([session], parsed(test).trials, results, directions, 8)}
    assert rows["pesq"].pairs == 8 and rows["pesq"].pearson == pytest.approx(1.0)
    assert rows["pesq"].spearman == pytest.approx(1.0)
    assert math.isnan(rows["mcd"].pearson)  # constant metric: no correlation to speak of
    json.dumps([r.__dict__ for r in rows.values()])


@pytest.mark.parametrize("change, words", [
    (lambda d: d["ratings"].__setitem__(2, "t03"), "ratings[2]: expected an object, got a string"),
    (lambda d: d.__setitem__("listener", "x"), "listener: expected an object, got a string"),
    (lambda d: d["ratings"][0].__setitem__("scores", [1, 2]), "ratings[0].scores: expected an object, got a list"),
    (lambda d: d.__setitem__("session", "done"), "session: expected an object, got a string"),
    (lambda d: d.__setitem__("study", "demo"), "study: expected an object, got a string"),
    (lambda d: d["ratings"][1].__setitem__("trial", 2), "ratings[1].trial: expected a string, got the number 2"),
    (lambda d: d.pop("ratings"), "ratings: missing"),
    (lambda d: d.__setitem__("trials", {}), "trials: expected a list, got an object"),
    (lambda d: d["session"].__setitem__("complete", "yes"), "session.complete: expected true or false, got a string"),
])
def test_valid_json_of_the_wrong_shape_is_one_line_naming_the_field(tmp_path: Path, change, words: str) -> None:
    test = _test()
    data = export(test, "Anna", _good)
    change(data)
    path = write(tmp_path / "ratings.json", data)
    with pytest.raises(RatingsError) as error:
        read_session(path, parsed(test))
    assert str(error.value) == f"{path}: {words}"


def test_many_shape_errors_stay_one_line(tmp_path: Path) -> None:
    test = _test()
    data = export(test, "Anna", _good)
    data["ratings"] = ["a", "b", "c", "d", "e"]
    path = write(tmp_path / "ratings.json", data)
    with pytest.raises(RatingsError) as error:
        read_session(path, parsed(test))
    assert str(error.value) == (f"{path}: ratings[0]: expected an object, got a string; ratings[1]: expected an "
                                "object, got a string; ratings[2]: expected an object, got a string (and 2 more "
                                "problems)")
