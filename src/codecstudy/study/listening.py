"""The listening test of a study: which codecs and clips it plays, where it lives, and its tables.

:mod:`codecstudy.listen` knows nothing about studies; this module feeds it from the run folder: the evaluation
manifests, the codecs (:func:`test_codecs`, the single place that says which codecs a test compares), the report's
bitrate, and it writes the MUSHRA tables next to the objective ones (``tables/mushra*.csv|md``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecstudy.errors import CodecStudyError
from codecstudy.jsonl import read_jsonl, write_json_atomic
from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import StudySpec

#: The parts of a study that decide what a listening test plays; its hash goes into the page and every export.
_STIMULUS_KEYS = ("name", "corpus", "conditions", "eval_sets", "match_volume", "seed", "architectures", "codec",
                  "train", "listen")


def test_codecs(spec: StudySpec, layout: RunLayout) -> dict[str, Path | str]:
    """Every codec the test compares, by condition name: the study's trained codecs, then its baselines (by the
    name ``codecstudy evaluate --codec`` takes, at the setting that name selects)."""
    codecs: dict[str, Path | str] = {run.name: layout.codec_file(run.name) for run in spec.codec_runs()}
    missing = [name for name, path in codecs.items() if not Path(path).is_file()]
    if missing:
        raise CodecStudyError(f"{layout.root}: codec {missing[0]} is not trained yet (codecstudy study run first)")
    codecs.update({b.name: b.codec for b in spec.baseline_runs()})
    return codecs


def test_n_q(spec: StudySpec) -> int:
    """The report's bitrate: the paper tables' number of codebooks."""
    from codecstudy.study.tables import table_n_q

    return table_n_q(sorted(spec.evaluate.n_q), spec.report.n_q)


def test_sets(spec: StudySpec) -> list[str]:
    return list(spec.listen.sets) if spec.listen.sets is not None else spec.eval_set_names


def study_hash(spec: StudySpec) -> str:
    resolved = spec.resolved()
    wanted = {k: resolved[k] for k in _STIMULUS_KEYS if k in resolved}
    wanted["listen"] = {k: v for k, v in wanted["listen"].items() if k != "enabled"}  # how, not what, it is built
    wanted["n_q"] = test_n_q(spec)
    text = json.dumps(wanted, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_listening_test(spec: StudySpec, layout: RunLayout, out: Path | None = None) -> Path:
    """Draw the trials and write the test into ``listen/`` (or ``out``); returns the page."""
    from codecstudy.listen.build import ListenSettings, build_test
    from codecstudy.listen.trials import draw_trials
    from codecstudy.study.report.html import CSS

    clips_by_set = {}
    for name in test_sets(spec):
        manifest = layout.eval_manifest(name)
        if not manifest.is_file():
            raise CodecStudyError(f"{manifest}: eval set {name!r} not built yet (codecstudy study run first)")
        clips_by_set[name] = list(read_jsonl(manifest))
    ls = spec.listen
    trials = draw_trials(clips_by_set, ls.trials, ls.seed, ls.min_seconds)
    clips = {c["id"]: c for clips in clips_by_set.values() for c in clips}
    settings = ListenSettings(n_q=test_n_q(spec), seed=ls.seed, max_seconds=ls.max_seconds,
                              target_lufs=ls.target_lufs)
    return build_test(out or layout.listen_dir, trials, clips, test_codecs(spec, layout), settings,
                      study={"name": spec.name, "hash": study_hash(spec)}, base_css=CSS)


def listening_state(spec: StudySpec, layout: RunLayout) -> tuple[bool, str]:
    """(complete, detail): the page exists and was built for this study as it is now."""
    test = _read_test(layout)
    if test is None or not (layout.listen_dir / "index.html").is_file():
        return False, "not built"
    if test.get("study", {}).get("hash") != study_hash(spec):
        return False, "built for another version of the study"
    return True, f"{len(test.get('trials', []))} trials"


def _read_test(layout: RunLayout) -> dict[str, Any] | None:
    from codecstudy.listen.build import TEST_FILE

    try:
        return json.loads((layout.listen_dir / TEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _require_test(spec: StudySpec, layout: RunLayout) -> dict[str, Any]:
    test = _read_test(layout)
    if test is None:
        raise CodecStudyError(f"{layout.listen_dir}: no listening test built (codecstudy listen build "
                              f"{spec.path or 'STUDY.yaml'})")
    return test


def stored_sessions(layout: RunLayout, test: dict[str, Any]) -> list[Any]:
    """The sessions imported so far (``listen/ratings/*.json``), in file name order."""
    from codecstudy.listen.build import RATINGS_DIR
    from codecstudy.listen.ratings import read_session

    sessions = []
    for path in sorted((layout.listen_dir / RATINGS_DIR).glob("*.json")):
        session = read_session(path, test)
        session.source = path.name
        sessions.append(session)
    return sessions


@dataclass
class ImportResult:
    accepted: list[str] = field(default_factory=list)   # stored file names
    rejected: list[str] = field(default_factory=list)   # one line per problem
    tables: dict[str, Path] = field(default_factory=dict)


def import_ratings(spec: StudySpec, layout: RunLayout, files: list[Path]) -> ImportResult:
    """Check each file; store the good ones under ``listen/ratings/``; rewrite the MUSHRA tables.

    A bad file is reported and skipped; files imported earlier stay, so nothing already imported is lost.
    """
    from codecstudy.listen.build import RATINGS_DIR
    from codecstudy.listen.ratings import RatingsError, read_session

    test = _require_test(spec, layout)
    if test["study"]["hash"] != study_hash(spec):
        raise CodecStudyError(f"{layout.listen_dir}: the listening test was built for another version of study "
                              f"{spec.name!r}; rebuild it (codecstudy listen build) before importing")
    known = {s.key: s.source for s in stored_sessions(layout, test)}
    result = ImportResult()
    for path in files:
        try:
            session = read_session(path, test)
        except RatingsError as exc:
            result.rejected.append(str(exc))
            continue
        if session.key in known:
            result.rejected.append(f"{path}: listener {session.listener!r} already imported "
                                   f"(listen/ratings/{known[session.key]})")
            continue
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in session.listener)[:40] or "listener"
        name = f"{safe}-{session.digest[:10]}.json"
        target = layout.listen_dir / RATINGS_DIR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(path, tmp)
        tmp.replace(target)
        known[session.key] = name
        result.accepted.append(name)
    result.tables = write_listening_tables(spec, layout)
    return result


def write_listening_tables(spec: StudySpec, layout: RunLayout) -> dict[str, Path]:
    """``tables/mushra*.{csv,md}`` from the imported sessions (none written before the first import)."""
    from codecstudy.evaluate.aggregate import _write_csv, load_results, metric_directions
    from codecstudy.listen import scores
    from codecstudy.listen.ratings import screen

    test = _read_test(layout)
    if test is None:
        return {}
    sessions = stored_sessions(layout, test)
    if not sessions:
        return {}
    screening = screen(sessions)
    dropped = {row.listener for row in screening if row.excluded}
    kept = [s for s in sessions if s.listener not in dropped]
    n_q = int(test["n_q"])
    records = scores.rating_records(kept, test["trials"], n_q)
    rows = scores.score_rows(records, spec.report.n_boot)
    pairs = scores.pair_rows(records, spec.report.test, spec.report.alpha)
    speakers = scores.score_rows([r for r in records if r["speaks"]], spec.report.n_boot)
    table = scores.table_rows(rows, records, speakers)
    sets = {t["set"] for t in test["trials"]}
    folders = [layout.eval_dir(c, s) for c in test.get("codecs", {}) for s in sorted(sets)
               if layout.eval_dir(c, s).is_dir()]
    results = load_results(folders) if folders else []
    correlation = scores.correlations(kept, test["trials"], results, metric_directions(results), n_q)
    out = layout.tables
    files = {
        "mushra.csv": table,
        "mushra_pairwise.csv": scores.as_dicts(pairs),
        "mushra_listeners.csv": scores.as_dicts(screening),
        "mushra_correlation.csv": scores.as_dicts(correlation),
    }
    written = {}
    for name, data in files.items():
        _write_csv(out / name, data)
        written[name] = out / name
    (out / "mushra.md").write_text(scores.markdown(table, pairs, sorted(dropped)), encoding="utf-8")
    written["mushra.md"] = out / "mushra.md"
    write_json_atomic(out / "mushra.json", {"n_q": n_q, "listeners": len(sessions), "kept": len(kept),
                                            "trials": len(test["trials"]), "trials_hash": test["trials_hash"]})
    written["mushra.json"] = out / "mushra.json"
    return written


def report_data(spec: StudySpec, layout: RunLayout) -> dict[str, Any]:
    """What the report's listening section shows (empty when there is no test)."""
    from codecstudy.study.tables import read_csv

    test = _read_test(layout)
    if test is None:
        return {}
    tables = layout.tables
    summary = {}
    if (tables / "mushra.json").is_file():
        summary = json.loads((tables / "mushra.json").read_text(encoding="utf-8"))
    current = summary.get("trials_hash") == test["trials_hash"]
    return {
        "page": "../listen/index.html",
        "trials": len(test["trials"]),
        "conditions": sorted({c for t in test["trials"] for c in t["stimuli"]}),
        "n_q": test["n_q"],
        "measure": (test.get("loudness") or {}).get("measure", ""),
        "summary": summary if current else {},
        "scores": read_csv(tables / "mushra.csv") if current else [],
        "pairs": read_csv(tables / "mushra_pairwise.csv") if current else [],
        "listeners": read_csv(tables / "mushra_listeners.csv") if current else [],
        "correlation": read_csv(tables / "mushra_correlation.csv") if current else [],
    }
