"""The listening test of a study: which codecs and clips it plays, where it lives, and its tables.

:mod:`codecstudy.listen` knows nothing about studies; this module feeds it from the run folder: the evaluation
manifests, the codecs (:func:`test_codecs`, the single place that says which codecs a test compares), the report's
bitrate, and it writes the MUSHRA tables next to the objective ones (``tables/mushra*.csv|md``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from codecstudy.csvtable import write_csv
from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.aggregate import load_results, metric_directions
from codecstudy.files import atomic_write, write_json_atomic, write_text_atomic
from codecstudy.jsonl import read_jsonl
from codecstudy.listen import scores
from codecstudy.listen.build import ListenSettings, build_test
from codecstudy.listen.formats import ListeningTest
from codecstudy.listen.ratings import RatingsError, Session, read_session, screen
from codecstudy.listen.trials import draw_trials
from codecstudy.study.layout import RunLayout
from codecstudy.study.report.markup import CSS
from codecstudy.study.settings import listening_hash, listening_n_q, listening_sets
from codecstudy.study.spec import StudySpec
from codecstudy.study.state import listening_test


def test_codecs(spec: StudySpec, layout: RunLayout) -> dict[str, Path | str]:
    """Every codec the test compares, by condition name: the study's trained codecs, then its baselines (by the
    name ``codecstudy evaluate --codec`` takes, at the setting that name selects)."""
    codecs: dict[str, Path | str] = {run.name: layout.codec_file(run.name) for run in spec.compared_runs()}
    missing = [name for name, path in codecs.items() if not Path(path).is_file()]
    if missing:
        raise CodecStudyError(f"{layout.root}: codec {missing[0]} is not trained yet (codecstudy study run first)")
    codecs.update({b.name: b.codec for b in spec.baseline_runs()})
    return codecs


def build_listening_test(spec: StudySpec, layout: RunLayout, out: Path | None = None) -> Path:
    """Draw the trials and write the test into ``listen/`` (or ``out``); returns the page."""
    clips_by_set = {}
    for name in listening_sets(spec):
        manifest = layout.eval_manifest(name)
        if not manifest.is_file():
            raise CodecStudyError(f"{manifest}: eval set {name!r} not built yet (codecstudy study run first)")
        clips_by_set[name] = list(read_jsonl(manifest))
    ls = spec.listen
    trials = draw_trials(clips_by_set, ls.trials, ls.seed, ls.min_seconds)
    clips = {c["id"]: c for clips in clips_by_set.values() for c in clips}
    settings = ListenSettings(n_q=listening_n_q(spec), seed=ls.seed, max_seconds=ls.max_seconds,
                              target_lufs=ls.target_lufs)
    return build_test(out or layout.listen_dir, trials, clips, test_codecs(spec, layout), settings,
                      study={"name": spec.name, "hash": listening_hash(spec)}, base_css=CSS)


def _require_test(spec: StudySpec, layout: RunLayout) -> ListeningTest:
    test = listening_test(layout)
    if test is None:
        raise CodecStudyError(f"{layout.listen_dir}: no listening test built (codecstudy listen build "
                              f"{spec.path or 'STUDY.yaml'})")
    return test


def stored_sessions(layout: RunLayout, test: ListeningTest) -> list[Session]:
    """The sessions imported so far (``listen/ratings/*.json``), in file name order."""
    sessions = []
    for path in sorted(layout.listen_ratings.glob("*.json")):
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
    test = _require_test(spec, layout)
    if test.study.hash != listening_hash(spec):
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
        with path.open("rb") as source, atomic_write(layout.listen_ratings / name, "wb") as target:
            shutil.copyfileobj(source, target)
        known[session.key] = name
        result.accepted.append(name)
    result.tables = write_listening_tables(spec, layout)
    return result


def write_listening_tables(spec: StudySpec, layout: RunLayout) -> dict[str, Path]:
    """``tables/mushra*.{csv,md}`` from the imported sessions (none written before the first import)."""
    test = listening_test(layout)
    if test is None:
        return {}
    sessions = stored_sessions(layout, test)
    if not sessions:
        return {}
    screening = screen(sessions)
    dropped = {row.listener for row in screening if row.excluded}
    kept = [s for s in sessions if s.listener not in dropped]
    n_q = test.n_q
    records = scores.rating_records(kept, test.trials, n_q)
    rows = scores.score_rows(records, spec.report.n_boot)
    pairs = scores.pair_rows(records, spec.report.test, spec.report.alpha, n_boot=spec.report.n_boot)
    speakers = scores.score_rows([r for r in records if r["speaks"]], spec.report.n_boot)
    table = scores.table_rows(rows, records, speakers)
    sets = {t.set for t in test.trials}
    folders = [layout.eval_dir(c, s) for c in test.codecs for s in sorted(sets)
               if layout.eval_dir(c, s).is_dir()]
    results = load_results(folders) if folders else []
    correlation = scores.correlations(kept, test.trials, results, metric_directions(results), n_q)
    out = layout.tables
    files = {
        "mushra.csv": table,
        "mushra_pairwise.csv": scores.as_dicts(pairs),
        "mushra_listeners.csv": scores.as_dicts(screening),
        "mushra_correlation.csv": scores.as_dicts(correlation),
    }
    written = {name: write_csv(out / name, data) for name, data in files.items()}
    written["mushra.md"] = write_text_atomic(out / "mushra.md", scores.markdown(table, pairs, sorted(dropped)))
    written["mushra.json"] = write_json_atomic(layout.mushra_summary, {
        "n_q": n_q, "listeners": len(sessions), "kept": len(kept), "trials": len(test.trials),
        "trials_hash": test.trials_hash})
    return written
