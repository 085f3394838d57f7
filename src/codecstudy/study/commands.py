"""``codecstudy study run|fetch|status|report``: options and handlers (the main CLI only attaches them).

The study machinery imports torch; the handlers import it when a command runs, so that building the parser (every
``--help``) does not.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from codecstudy.commandline import add_parser
from codecstudy.errors import ConfigError
from codecstudy.study.spec import StudySpec, load_study

if TYPE_CHECKING:
    from codecstudy.study.runner import StudyRunner


STUDY_HELP = """\
A study YAML names the corpus, the coverage conditions, the evaluation sets, the codec preset, bitrates,
metrics, seeds and report options (see configs/studies/demo.yaml). The run folder (default runs/<study name>)
gets study.yaml (resolved config, versions, git commit), corpus/, codecs/<condition>-<arch>/,
eval/<codec>/<set>/<n_q>/, tables/ and report/index.html.

Examples:
  codecstudy study run configs/studies/demo.yaml
  codecstudy study run configs/studies/demo.yaml --dry-run
  codecstudy study run configs/studies/demo.yaml --only english      # in parallel with --only multilingual ...
  codecstudy study status configs/studies/demo.yaml
  codecstudy study report configs/studies/demo.yaml
  codecstudy study fetch configs/studies/demo.yaml                            # on a login node: the hub models
  codecstudy study run configs/studies/demo.yaml --executor slurm --dry-run   # the sbatch scripts and job graph
  codecstudy study run configs/studies/demo.yaml --executor slurm             # submit (again: only what is missing)
  codecstudy study cancel configs/studies/demo.yaml                           # scancel the study's jobs"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="study YAML")
    parser.add_argument("--out", type=Path, help="run folder (default: runs/<study name>)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a study key, e.g. evaluate.max_clips=5 or codec.overrides=[train.steps=100]",
    )
    parser.add_argument("--tts", action="store_true",
                        help="include the downstream TTS stage (the same as --set tts.enabled=true; ~15 min per "
                             "codec on 2 CPU cores with the tiny TTS preset)")


def add_commands(commands: argparse._SubParsersAction) -> None:
    study = add_parser(commands, "study", "run a whole study: corpus, training, evaluation, tables, report",
                       STUDY_HELP)
    actions = study.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    run = add_parser(
        actions, "run", "run every stage that is not complete (resumes partial ones)",
        "Stages: corpus -> conditions -> train (condition x architecture x seed) -> evaluate (codec x set) ->\n"
        "aggregate -> report. A complete stage is skipped, a partial one resumed; a killed run continues where\n"
        "it stopped when started again.",
    )
    _common(run)
    run.add_argument("--only", action="append", default=[], metavar="CONDITION",
                     help="train and evaluate only this condition (repeatable); tables and report are left out")
    run.add_argument("--dry-run", action="store_true", help="validate every path and config, print the plan, run "
                     "nothing")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--parallel", type=_parallel, metavar="N|auto",
                     help="training and scoring items run at once as separate processes (default: the study's "
                     "`parallel` key; 1 = one at a time, auto = one per core)")
    run.add_argument("--no-parallel", dest="parallel", action="store_const", const=1,
                     help="one item at a time (the same as --parallel 1)")
    run.add_argument("--executor", choices=["local", "slurm"],
                     help="local: items as processes here; slurm: one Slurm job per item, with dependencies "
                     "(default: the study's `executor` key; resources from its `slurm:` section)")
    run.set_defaults(handler=_run)
    item = add_parser(actions, "run-item", "run one item of a study (what each Slurm job runs)",
                      "Takes the item's lock, re-reads its state from the files and skips, resumes or runs it.\n"
                      "Items: corpus, train:CODEC, import:CODEC, evaluate:CODEC/SET, baseline:NAME/SET, report.")
    _common(item)
    item.add_argument("--item", required=True, metavar="ID", help="the item, e.g. train:english-soundstream")
    item.add_argument("--shard", metavar="K/N", help="one shard of an evaluation (a job array's task)")
    item.add_argument("--launch", metavar="COMMAND",
                      help="a training's launcher, e.g. 'torchrun --standalone --nproc_per_node 4': the training "
                      "runs as `COMMAND -m codecstudy train ...` (one process per GPU) and this one watches it")
    item.add_argument("--metrics", choices=["gpu", "cpu"],
                      help="one metric part of an evaluation whose GPU and DSP metrics are separate jobs")
    item.set_defaults(handler=_run_item)
    fetch = add_parser(
        actions, "fetch", "download every hub model the study loads into the cache (for offline compute nodes)",
        "Run it on a node with internet (a cluster's login node) before the jobs: it downloads the ESPnet\n"
        "checkpoints named in `checkpoints:`, the baselines' published weights and the evaluator models of the\n"
        "metrics (e.g. WavLM for speech_bert, SHEET for sheet_ssqa, UTMOS with utmos.checkpoint=published), each with\n"
        "its loader's own download, into the cache the loader reads (Hugging Face's: $HF_HOME/hub; codecstudy's:\n"
        "$CODECSTUDY_CACHE/models). What is cached already is reported and left alone, so it can be run again.\n"
        "The dry run and the Slurm submission then check that everything is cached, and the jobs run with\n"
        "HF_HUB_OFFLINE=1.",
    )
    fetch.add_argument("study", type=Path, help="study YAML")
    fetch.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a study key as `study run` is given it, e.g. checkpoints.english=espnet:ID")
    fetch.set_defaults(handler=_fetch, tts=False)
    cancel = add_parser(actions, "cancel", "scancel the study's queued and running Slurm jobs", "")
    _common(cancel)
    cancel.set_defaults(handler=_cancel)
    status = add_parser(actions, "status", "print what is complete, partial or missing", "")
    _common(status)
    status.set_defaults(handler=_status)
    report = add_parser(actions, "report", "rebuild the tables and report/index.html from what is evaluated", "")
    _common(report)
    report.set_defaults(handler=_report)


def _parallel(text: str) -> int | str:
    if text == "auto":
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a number of processes >= 1 or auto, got {text!r}")


def _spec_and_runner(args: argparse.Namespace, progress: bool = True) -> tuple[StudySpec, StudyRunner]:
    from codecstudy.study.runner import StudyRunner  # torch

    spec = load_study(args.study, _overrides(args))
    return spec, StudyRunner(spec, args.out, progress=progress, parallel=getattr(args, "parallel", None))


def _overrides(args: argparse.Namespace) -> list[str]:
    """The study's ``--set`` overrides (and ``--tts``): what a Slurm job is given again to see the same study."""
    return [*args.overrides, *(["tts.enabled=true"] if args.tts else [])]


def _run_item(args: argparse.Namespace) -> int:
    from codecstudy.evaluate.settings import parse_shard
    from codecstudy.study.executors.items import run_job_item  # torch
    from codecstudy.study.executors.jobs import REQUEUE_EXIT
    from codecstudy.train.interrupt import TrainingInterrupted

    spec = load_study(args.study, _overrides(args))
    try:
        run_job_item(spec, args.out, args.item, parse_shard(args.shard) if args.shard else None,
                     launch=args.launch, metrics=args.metrics)
    except TrainingInterrupted as stopped:
        print(f"{args.item}: {stopped}")
        return REQUEUE_EXIT  # the job script requeues the job
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from codecstudy.study.hubs import fetch_study  # torch (the metric registry)

    fetch_study(load_study(args.study, _overrides(args)))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from codecstudy.study.executors.slurm import cancel
    from codecstudy.study.layout import RunLayout, default_run_dir

    spec = load_study(args.study, _overrides(args))
    cancel(spec, RunLayout(args.out or default_run_dir(spec.name)))
    return 0


def _run(args: argparse.Namespace) -> int:
    from codecstudy.study.executors.local import run_local  # torch
    from codecstudy.study.runner import summary_text

    spec, runner = _spec_and_runner(args, progress=not args.quiet)
    only = list(args.only) or None
    if (args.executor or spec.executor) == "slurm":
        from codecstudy.study.executors.slurm import submit

        if only:
            raise ConfigError("--only is for the local executor: the slurm executor submits every condition's jobs")
        submit(spec, runner.layout, _overrides(args), dry_run=args.dry_run)
        return 0
    if args.dry_run:
        print(runner.dry_run(only))
        return 0
    run_local(runner, only)
    if not only:
        print("\n" + summary_text(runner.layout))
    return 0


def _status(args: argparse.Namespace) -> int:
    from codecstudy.study.state import format_states, study_state  # torch (the codecs' identities)

    spec, runner = _spec_and_runner(args)
    print(f"study {spec.name}: {runner.layout.root}")
    print(format_states(study_state(spec, runner.layout)))
    if runner.layout.slurm_jobs.is_file():
        from codecstudy.study.executors.slurm import status_text

        print(status_text(spec, runner.layout))
    return 0


def _report(args: argparse.Namespace) -> int:
    from codecstudy.study.report.build import build_report  # torch (the report's audio samples)
    from codecstudy.study.runner import summary_text, write_tables_stage
    from codecstudy.study.stages import write_study_file

    spec, runner = _spec_and_runner(args)
    if not runner.layout.study_file.is_file():
        write_study_file(spec, runner.layout)
    write_tables_stage(spec, runner.layout)
    build_report(spec, runner.layout)
    print(summary_text(runner.layout))
    return 0
