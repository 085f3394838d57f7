"""The ``codecstudy`` command line: one entry point, sub-commands that map onto the packages.

Only commands that work are listed. Errors the user can fix (bad config key, missing file) are printed as one
line, ``codecstudy: error: ...``, with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from codecstudy import __version__
from codecstudy.codec import commands as codec_commands
from codecstudy.commandline import HelpFormatter, add_parser
from codecstudy.config import apply_overrides
from codecstudy.corpus.builder import CorpusConfig, build_corpus
from codecstudy.corpus.conditions import build_conditions
from codecstudy.corpus.leakage import format_leakage, leakage_report
from codecstudy.corpus.manifest import load_manifest, manifest_path
from codecstudy.corpus.sources import SOURCE_CLASSES, source_class
from codecstudy.corpus.sources.base import DatasetSource
from codecstudy.corpus.stats import format_condition_minutes, format_minutes_table, minutes_table, plot_minutes
from codecstudy.errors import CodecStudyError
from codecstudy.evaluate import commands as evaluate_commands
from codecstudy.files import write_json_atomic, write_text_atomic
from codecstudy.machine import available_cores
from codecstudy.study import commands as study_commands
from codecstudy.study import listen_commands
from codecstudy.study.spec import load_corpus_config, load_study
from codecstudy.train import commands as train_commands
from codecstudy.tts import commands as tts_commands

DEFAULT_CORPUS_DIR = Path("runs/corpus")
#: The packages' sub-commands, in the order of ``codecstudy --help``.
PACKAGE_COMMANDS = (codec_commands, evaluate_commands, train_commands, tts_commands, study_commands, listen_commands)


def _source_list() -> str:
    return ", ".join(sorted(SOURCE_CLASSES))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codecstudy",
        description=(
            "Train neural audio codecs under controlled data coverage and measure how they generalize\n"
            "to unseen languages and to non-speech audio.\n\n"
            "Start with `codecstudy corpus build --source embedded` (real recordings from Debian packages)."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"codecstudy {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_corpus_commands(commands)
    for package in PACKAGE_COMMANDS:
        package.add_commands(commands)
    return parser


def _add_corpus_commands(commands: argparse._SubParsersAction) -> None:
    """``corpus build|stats|conditions`` (here, not in corpus/, because ``conditions`` reads a study file)."""
    corpus = add_parser(
        commands,
        "corpus",
        "build and inspect audio corpora",
        "A corpus is a folder with manifest.jsonl (one clip per line, with language, domain, speaker, text,\n"
        "source, licence and split), skipped.jsonl (every rejected file with its reason) and corpus.json.",
    )
    corpus_commands = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)

    build = add_parser(
        corpus_commands,
        "build",
        "build a corpus from one or more sources (resumable)",
        "Examples:\n"
        "  codecstudy corpus build --source embedded\n"
        "  codecstudy corpus build --source ljspeech --root /data/LJSpeech-1.1 --out runs/lj\n"
        "  codecstudy corpus build --config configs/studies/demo.yaml --set sources.0.languages=[en,es]\n\n"
        f"Source kinds: {_source_list()}.\n"
        "A re-run resumes where a killed build stopped; files already checked are not decoded again.",
    )
    build.add_argument("--source", action="append", default=[], metavar="KIND", help="a source kind (repeatable)")
    build.add_argument(
        "--root",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="dataset folder for the dataset sources, in the order of --source (repeatable)",
    )
    build.add_argument("--config", type=Path, help="a corpus YAML, or a study YAML with a corpus: section")
    build.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a corpus config key, e.g. clips.min_duration=1.0 or sources.0.languages=[en]",
    )
    build.add_argument(
        "--out", type=Path, default=DEFAULT_CORPUS_DIR, help="corpus folder to write (default: %(default)s)"
    )
    build.add_argument(
        "--workers",
        type=int,
        default=available_cores(),
        help="decoding processes (default: %(default)s, the number of cores)",
    )
    build.add_argument("--force", action="store_true", help="discard an earlier build in --out and start over")
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    build.set_defaults(handler=_corpus_build)

    stats = add_parser(
        corpus_commands,
        "stats",
        "print minutes per language x domain x split and save a plot",
        "Also prints the per-condition table and the leakage check when `corpus conditions` has run.",
    )
    stats.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS_DIR, help="corpus folder or manifest.jsonl (default: %(default)s)"
    )
    stats.add_argument("--plot", type=Path, help="PNG to write (default: CORPUS/stats.png)")
    stats.set_defaults(handler=_corpus_stats)

    conditions = add_parser(
        corpus_commands,
        "conditions",
        "select each coverage condition's training clips and the evaluation sets",
        "Reads the conditions, eval_sets, match_volume and seed of a study YAML, writes\n"
        "CORPUS/conditions/<name>.jsonl and CORPUS/eval_sets/<name>.jsonl with their hours per language x\n"
        "domain, and checks speaker and source-file leakage between every condition and evaluation set.",
    )
    conditions.add_argument("study", type=Path, help="study YAML (see configs/studies/demo.yaml)")
    conditions.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS_DIR, help="corpus folder (default: %(default)s)"
    )
    conditions.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a study key, e.g. match_volume=false",
    )
    conditions.set_defaults(handler=_corpus_conditions)


def _corpus_build(args: argparse.Namespace) -> int:

    if args.config and args.source:
        raise CodecStudyError("give either --config or --source, not both")
    if args.config:
        config = load_corpus_config(args.config, args.overrides)
    elif args.source:
        roots = list(args.root)
        specs = []
        for kind in args.source:
            spec: dict[str, object] = {"kind": kind}
            if issubclass(source_class(kind), DatasetSource):
                if not roots:
                    raise CodecStudyError(f"--source {kind} needs a dataset folder: add --root PATH")
                spec["root"] = str(roots.pop(0))
            specs.append(spec)
        if roots:
            raise CodecStudyError(f"--root {roots[0]} has no dataset --source to go with it")
        config = CorpusConfig.from_dict(apply_overrides({"sources": specs}, args.overrides), where="")
    else:
        raise CodecStudyError(f"name a --source (one of: {_source_list()}) or a --config")
    if args.workers < 1:
        raise CodecStudyError("--workers must be at least 1")
    result = build_corpus(config, args.out, workers=args.workers, force=args.force, show_progress=not args.quiet)
    print(
        f"\ncorpus: {result.out_dir}  ({len(result.clips)} clips, built in {result.seconds / 60:.1f} min"
        + (f", {result.resumed_items} items resumed" if result.resumed_items else "")
        + ")"
    )
    _print_skips(result.skipped_by_reason, result.out_dir)
    _print_stats(result.out_dir)
    return 0


def _print_skips(by_reason: dict[str, int], out_dir: Path) -> None:
    if not by_reason:
        print("skipped: none")
        return
    total = sum(by_reason.values())
    detail = ", ".join(f"{reason}: {count}" for reason, count in sorted(by_reason.items(), key=lambda kv: -kv[1]))
    print(f"skipped: {total} ({detail}); reasons per file in {out_dir / 'skipped.jsonl'}")


def _print_stats(corpus: Path, plot: Path | None = None) -> None:

    path = manifest_path(corpus)
    clips = load_manifest(path)
    table = minutes_table(clips)
    text = format_minutes_table(table)
    print(text)
    folder = path.parent
    write_text_atomic(folder / "stats.txt", text + "\n")
    image = plot_minutes(table, plot or folder / "stats.png", title=f"{folder.name}: minutes per split")
    print(f"plot: {image}")


def _corpus_stats(args: argparse.Namespace) -> int:

    _print_stats(args.corpus, args.plot)
    folder = manifest_path(args.corpus).parent
    condition_files = sorted((folder / "conditions").glob("*.jsonl"))
    if condition_files:
        conditions = {p.stem: load_manifest(p) for p in condition_files}
        print("\ntraining data per condition (minutes)")
        print(format_condition_minutes(conditions))
        leakage_file = folder / "leakage.txt"
        if leakage_file.exists():
            print("\n" + leakage_file.read_text(encoding="utf-8").rstrip())
    return 0


def _corpus_conditions(args: argparse.Namespace) -> int:

    study = load_study(args.study, args.overrides)
    path = manifest_path(args.corpus)
    clips = load_manifest(path)
    conditions, eval_sets = build_conditions(clips, study.conditions, path.parent)
    print("training data per condition (minutes)")
    print(format_condition_minutes(conditions))
    if eval_sets:
        print("\nevaluation sets (minutes)")
        print(format_condition_minutes(eval_sets))
    rows = leakage_report(conditions, eval_sets)
    text = format_leakage(rows)
    write_text_atomic(path.parent / "leakage.txt", text + "\n")
    write_json_atomic(path.parent / "leakage.json", [row.to_json() for row in rows])
    print("\nleakage (shared clips / speakers / source files between training and evaluation)")
    print(text)
    print(f"\nwritten: {path.parent / 'conditions'}, {path.parent / 'eval_sets'}, {path.parent / 'leakage.json'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CodecStudyError as exc:
        print(f"codecstudy: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codecstudy: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
