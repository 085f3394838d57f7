"""``codecstudy listen build|import``: a study's listening test from the command line.

The listening package knows nothing of studies (it takes plain paths); this is where a study file and its run
folder are turned into them, so it lives with the study. The study machinery imports torch, so it is imported
when a command runs, not when the parser is built (``--help`` stays instant).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from codecstudy.commandline import add_parser
from codecstudy.study.layout import LISTEN_TRIALS, RunLayout, default_run_dir
from codecstudy.study.spec import StudySpec, load_study

LISTEN_HELP = """\
A MUSHRA listening test (ITU-R BS.1534) of a study's codecs: trials drawn from the evaluation sets, stratified by
language and domain (the study's listen: section sets their number, seed and length), each with the hidden
reference, 3.5 kHz and 7 kHz low-pass anchors and every codec at the report's bitrate, loudness-matched.
The page (runs/<study>/listen/index.html) works from disk: zip the listen/ folder, send it to listeners, and import
the JSON files they send back.

Examples:
  codecstudy listen build configs/studies/demo.yaml --out runs/demo
  codecstudy listen import ~/Downloads/mushra-demo-*.json --study configs/studies/demo.yaml --out runs/demo"""


def _study_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="the study's run folder (default: runs/<study name>)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a study key, e.g. listen.trials=20")


def add_commands(commands: argparse._SubParsersAction) -> None:
    listen = add_parser(commands, "listen", "build a MUSHRA listening test from a study and import its ratings",
                        LISTEN_HELP)
    actions = listen.add_subparsers(dest="listen_command", metavar="ACTION", required=True)
    build = add_parser(actions, "build", "write listen/index.html with its stimuli (the study must be evaluated)",
                       "")
    build.add_argument("study", type=Path, help="study YAML")
    _study_args(build)
    build.add_argument("--test-out", type=Path, help="write the test here instead of <run folder>/listen")
    build.set_defaults(handler=_build)
    imp = add_parser(actions, "import", "check ratings files, store them, write the MUSHRA tables and the report",
                     "A file that fails a check is reported in one line and skipped; files imported before stay.\n"
                     "Exit status 1 when any file was rejected.")
    imp.add_argument("ratings", type=Path, nargs="+", help="JSON files exported by the listening test")
    imp.add_argument("--study", type=Path, required=True, help="study YAML")
    _study_args(imp)
    imp.add_argument("--no-report", action="store_true", help="write the tables only")
    imp.set_defaults(handler=_import)


def _spec_layout(study: Path, out: Path | None, overrides: list[str]) -> tuple[StudySpec, RunLayout]:
    spec = load_study(study, overrides)
    return spec, RunLayout(out or default_run_dir(spec.name))


def _build(args: argparse.Namespace) -> int:
    from codecstudy.study.listening import build_listening_test  # the study machinery: torch

    spec, layout = _spec_layout(args.study, args.out, args.overrides)
    page = build_listening_test(spec, layout, args.test_out)
    test = json.loads((page.parent / LISTEN_TRIALS).read_text(encoding="utf-8"))
    groups = sorted({t["group"] for t in test["trials"]})
    print(f"listening test: {page.resolve()}\n{len(test['trials'])} trials ({', '.join(groups)}), "
          f"{len(test['codecs'])} codecs at {test['n_q']} codebooks + hidden reference + 2 anchors, "
          f"{test['loudness']['target_lufs']} LUFS")
    return 0


def _import(args: argparse.Namespace) -> int:
    from codecstudy.study.listening import import_ratings  # the study machinery: torch
    from codecstudy.study.report.build import build_report

    spec, layout = _spec_layout(args.study, args.out, args.overrides)
    result = import_ratings(spec, layout, list(args.ratings))
    for line in result.rejected:
        print(f"rejected: {line}", file=sys.stderr)
    for name in result.accepted:
        print(f"imported: listen/ratings/{name}")
    if result.tables and not args.no_report and layout.report_dir.is_dir():
        build_report(spec, layout)
        print(f"report: {layout.report_file.resolve()}")
    if "mushra.md" in result.tables:
        print(result.tables["mushra.md"].read_text(encoding="utf-8"))
    return 1 if result.rejected else 0
