"""Property-based: arbitrary JSON and arbitrary mutations of a valid ratings file (``listen import``) and of a valid
study file (``study run --dry-run``) end in exit status 1 or 2 with one line on stderr, never a traceback, and a
rejected ratings file leaves nothing behind. The command line runs in-process (``codecstudy.cli.main``)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml
from helpers.jsonfuzz import json_values, mutations
from helpers.mushra import export, write
from helpers.studysetup import tiny_study, write_study
from hypothesis import given, settings
from hypothesis import strategies as st

from codecstudy.cli import main
from codecstudy.files import write_json_atomic
from codecstudy.listen.build import ListenSettings, page_data
from codecstudy.listen.trials import Trial
from codecstudy.study.layout import RunLayout
from codecstudy.study.settings import listening_hash
from codecstudy.study.spec import load_study

CONDITIONS = ["reference", "anchor_3k5", "anchor_7k", "english-soundstream"]


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def listening(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A study file and a run folder that holds only its listening test's trials.json (no stimuli, no codecs:
    importing ratings needs neither), and the test as the page embeds it."""
    root = tmp_path_factory.mktemp("listening")
    study = write_study(root / "tiny.yaml", tiny_study(root, root / "synth", listen={"trials": 2}))
    spec = load_study(study)
    trials = [Trial(f"t{i + 1:02d}", "en", f"clip{i}", "en", "speech", "speech/en", 1.0, reference=f"a/{i}/r.wav",
                    stimuli={c: f"a/{i}/{c}.wav" for c in CONDITIONS}) for i in range(2)]
    test = page_data(trials, {"name": spec.name, "hash": listening_hash(spec)}, ListenSettings(n_q=2))
    run = root / "run"
    write_json_atomic(RunLayout(run).listen_trials, {**test, "codecs": {}})
    return study, run, test


def _score(trial: dict, condition: str) -> float:
    return 100.0 if condition == "reference" else 40.0


def _import(listening: tuple[Path, Path, dict], *files: Path) -> tuple[int, str, str]:
    study, run, _ = listening
    return _cli(["listen", "import", *map(str, files), "--study", str(study), "--out", str(run)])


def test_an_import_keeps_the_valid_files_and_reports_each_rejected_one(listening: tuple[Path, Path, dict],
                                                                      tmp_path: Path) -> None:
    _, run, test = listening
    bad = export(test, "Bob", _score)
    bad["ratings"][1] = "t02"
    shapeless = export(test, "Cleo", _score)
    shapeless["session"] = "done"
    files = [write(tmp_path / "anna.json", export(test, "Anna", _score)), write(tmp_path / "bob.json", bad),
             write(tmp_path / "cleo.json", shapeless)]
    code, out, err = _import(listening, *files)
    assert code == 1
    assert err.splitlines() == [f"rejected: {files[1]}: ratings[1]: expected an object, got a string",
                                f"rejected: {files[2]}: session: expected an object, got a string"]
    stored = sorted(p.name for p in RunLayout(run).listen_ratings.glob("*.json"))
    assert len(stored) == 1 and stored[0].startswith("Anna-") and f"imported: listen/ratings/{stored[0]}" in out
    summary = json.loads(RunLayout(run).mushra_summary.read_text(encoding="utf-8"))
    assert summary["listeners"] == 1 and summary["trials"] == 2  # the tables were written, from Anna's ratings


def _check_import(listening: tuple[Path, Path, dict], folder: Path, data: object) -> None:
    ratings = RunLayout(listening[1]).listen_ratings
    before = sorted(ratings.glob("*.json")) if ratings.is_dir() else []
    code, _, err = _import(listening, write(folder / "ratings.json", data))
    after = sorted(ratings.glob("*.json")) if ratings.is_dir() else []
    if code == 0:
        assert len(after) == len(before) + 1 and not err
        return
    assert code in (1, 2) and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert after == before  # nothing imported from a rejected file


@settings(max_examples=40, deadline=None)
@given(data=json_values)
def test_import_of_arbitrary_json(listening: tuple[Path, Path, dict], tmp_path_factory: pytest.TempPathFactory,
                                  data: object) -> None:
    _check_import(listening, tmp_path_factory.getbasetemp(), data)


@settings(max_examples=60, deadline=None)
@given(draw=st.data())
def test_import_of_a_mutated_ratings_file(listening: tuple[Path, Path, dict],
                                          tmp_path_factory: pytest.TempPathFactory, draw: st.DataObject) -> None:
    valid = export(listening[2], "Anna", _score)
    _check_import(listening, tmp_path_factory.getbasetemp(), draw.draw(mutations(valid)))


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("studies")


def _check_dry_run(folder: Path, data: object) -> None:
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, _, err = _cli(["study", "run", str(path), "--dry-run", "--out", str(folder / "run")])
    if code == 0:  # the mutation left a valid study (a changed seed, a renamed condition...)
        return
    assert code in (1, 2) and len(err.splitlines()) == 1 and "Traceback" not in err, err


@settings(max_examples=30, deadline=None)
@given(data=json_values)
def test_dry_run_of_arbitrary_json(study_folder: Path, data: object) -> None:
    _check_dry_run(study_folder, data)


@settings(max_examples=60, deadline=None)
@given(draw=st.data())
def test_dry_run_of_a_mutated_study(study_folder: Path, draw: st.DataObject) -> None:
    valid = tiny_study(study_folder, study_folder / "synth")
    _check_dry_run(study_folder, draw.draw(mutations(valid)))


@pytest.mark.parametrize("change, words", [
    (lambda t: t.__setitem__("trials", "t01"), "trials: expected a list, got a string"),
    (lambda t: t["trials"][0].pop("stimuli"), "trials[0].stimuli: missing"),
    (lambda t: t.__setitem__("study", None), "study: expected an object, got null"),
    (lambda t: t.__setitem__("format", "other"), 'not a codecstudy listening test (no "format": "codecstudy-mushra")'),
])
def test_a_damaged_trials_file_is_one_line_naming_the_field(listening: tuple[Path, Path, dict], tmp_path: Path,
                                                            change, words: str) -> None:
    study, _, test = listening
    run = tmp_path / "run"
    damaged = json.loads(json.dumps(test))
    change(damaged)
    trials = write_json_atomic(RunLayout(run).listen_trials, damaged)
    ratings = write(tmp_path / "anna.json", export(test, "Anna", _score))
    code, _, err = _cli(["listen", "import", str(ratings), "--study", str(study), "--out", str(run)])
    assert code == 2 and err == f"codecstudy: error: {trials}: {words}\n"
