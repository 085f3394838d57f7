"""Command-line parsers and handlers for ``codecstudy evaluate`` and ``codecstudy aggregate``.

Kept here rather than in ``codecstudy.cli`` so the evaluation options live next to the code they drive; the main
CLI only attaches them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from codecstudy.codec.catalog import adapter_kind
from codecstudy.commandline import add_parser
from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.aggregate import load_results, write_tables
from codecstudy.evaluate.applicability import validity_of
from codecstudy.evaluate.pairs import evaluate_pairs
from codecstudy.evaluate.registry import METRICS
from codecstudy.evaluate.scorer import evaluate_codec
from codecstudy.evaluate.settings import EvalSettings, default_ref_cache, parse_metric_overrides, parse_shard
from codecstudy.machine import available_cores

EVALUATE_HELP = """\
Two ways to name what is scored:

  codec mode   --codec CKPT|PRESET --set MANIFEST.jsonl --n-q 1,2,4,8 --out eval/<codec>/<set>
               every clip is resampled to the codec's rate, encoded once and decoded at each n_q;
               one line per clip in OUT/<n_q>/results.jsonl, codebook usage in OUT/<n_q>/usage.json
               --codec also takes codecs codecstudy does not train (`codecstudy codec list`): opus:6kbps,
               codec2:3200, mp3:8kbps, lc3:16kbps, g722, encodec:24khz:6kbps, dac:16khz, snac:24khz, mimi:8
               (one line per clip in OUT/<setting>/results.jsonl, nominal and measured bitrate); an ESPnet
               checkpoint (espnet:PATH) is a codecstudy model and takes --n-q
  pairs mode   --pairs REF_DIR DEC_DIR --out DIR
               decoded files of any codec, matched to references by relative path; OUT/results.jsonl

A re-run resumes: clips already in the results are not scored again. OUT/meta.json records the settings,
library versions and evaluator model hashes; a re-run with other settings is refused (use --force or another
--out). Failed metrics are recorded per clip with the reason, never as 0.

Metrics (--metrics, comma separated; groups: default, versa, paper, nonspeech, all):
{metrics}

Modes: parity (default) reproduces VERSA's computations (harvest F0, fastdtw); fast uses dio+stonemask and an
exact DTW (about 10x faster, F0-based values differ slightly). Per-metric settings: --metric-set mcd.alpha=auto,
--metric-set wer.model=base, --metric-set utmos.checkpoint=utmos.pt, --metric-set sheet_ssqa.model=DIR (the
SHEET v0.1.0 release's config + checkpoint). See docs/metrics.md.

Tables: `codecstudy aggregate eval/ --out tables/` (means with bootstrap CIs, best/worst counts, paired tests).

Examples:
  codecstudy evaluate --codec soundstream-tiny --set runs/demo/corpus/eval_sets/speech-en.jsonl \\
      --n-q 1,2,4,8 --out runs/demo/eval/soundstream-tiny/speech-en
  codecstudy evaluate --pairs refs/ decoded/ --metrics versa --out eval/other-codec/test --workers 2"""


def _metric_lines() -> str:
    return "\n".join(
        f"  {name:16s} {spec.description} [{', '.join(spec.outputs)}]\n  {'':16s} valid: {validity_of(spec).describe()}"
        for name, spec in METRICS.items()
    )


def add_commands(commands: argparse._SubParsersAction) -> None:
    evaluate = add_parser(
        commands,
        "evaluate",
        "score a codec (or decoded files) against references, per clip and number of codebooks",
        EVALUATE_HELP.format(metrics=_metric_lines()),
    )
    what = evaluate.add_mutually_exclusive_group(required=True)
    what.add_argument("--codec", metavar="CODEC", help="checkpoint, codec YAML, preset or codec name (opus:6kbps)")
    what.add_argument("--pairs", nargs=2, type=Path, metavar=("REF_DIR", "DEC_DIR"), help="score decoded files")
    evaluate.add_argument(
        "--set", type=Path, metavar="MANIFEST", help="evaluation set (manifest.jsonl); in pairs mode optional (texts)"
    )
    evaluate.add_argument("--out", type=Path, required=True, help="output folder, e.g. runs/x/eval/<codec>/<set>")
    evaluate.add_argument(
        "--n-q", help="codebook counts or settings, comma separated (default: 8 for codecstudy models, else the "
        "settings in the codec's name, else all it offers)"
    )
    evaluate.add_argument("--metrics", default="default", help="metrics and groups (default: %(default)s)")
    evaluate.add_argument("--mode", choices=["parity", "fast"], default="parity", help="default: %(default)s")
    evaluate.add_argument(
        "--metric-set", action="append", default=[], metavar="METRIC.KEY=VALUE", help="a metric setting (repeatable)"
    )
    evaluate.add_argument(
        "--workers", type=int, default=available_cores(), help="processes (default: %(default)s, the cores)"
    )
    evaluate.add_argument(
        "--device", default="cpu",
        help="where the model-based metrics (spk_sim, utmos, sheet_ssqa, speech_bert) run: cpu, cuda, cuda:N or auto "
        "(a GPU when one is visible; under torchrun the rank's own); default: %(default)s",
    )
    evaluate.add_argument("--shard", help="score only shard i of n (i/n); default: RANK/WORLD_SIZE when set")
    evaluate.add_argument("--ref-cache", type=Path, help="reference feature cache (default: ~/.cache/codecstudy)")
    evaluate.add_argument("--no-ref-cache", action="store_true", help="do not cache reference features on disk")
    evaluate.add_argument(
        "--no-delay-compensation", action="store_true", help="do not remove the codec's delay (VERSA behaviour)"
    )
    evaluate.add_argument(
        "--delay",
        type=int,
        metavar="SAMPLES",
        help="the codec's delay in samples (at the codec's rate; pairs mode: at --sample-rate or the references' "
        "rate), applied to every clip; default: declared by the codec, else calibrated once over the set",
    )
    evaluate.add_argument(
        "--max-delay", type=float, default=0.1, help="largest delay considered in calibration, s (default: 0.1)"
    )
    evaluate.add_argument(
        "--calibration-clips", type=int, default=32, help="clips a delay calibration uses (default: %(default)s)"
    )
    evaluate.add_argument("--name", help="condition name in the results (default: the codec's name)")
    evaluate.add_argument("--set-name", help="set name in the results (default: the manifest's name)")
    evaluate.add_argument("--sample-rate", type=int, help="score at this rate (default: the codec's / the reference's)")
    evaluate.add_argument("--save-audio", action="store_true", help="codec mode: also write decoded WAVs")
    evaluate.add_argument("--limit", type=int, help="codec mode: only the first N clips of the set")
    evaluate.add_argument("--force", action="store_true", help="discard earlier results in --out")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(handler=_evaluate)

    aggregate = add_parser(
        commands,
        "aggregate",
        "tables from evaluation results: means with CIs, best/worst counts, paired tests",
        "Reads every results*.jsonl under the given folders (codecs x sets x n_q) and writes summary, counts and\n"
        "pairwise tables as CSV, Markdown and LaTeX. Failed clips are counted, never averaged in; WER/CER are\n"
        "corpus rates (total errors / total words).\n\n"
        "Example:\n  codecstudy aggregate runs/demo/eval --out runs/demo/tables",
    )
    aggregate.add_argument("results", nargs="+", type=Path, help="result folders or files")
    aggregate.add_argument("--out", type=Path, required=True, help="tables folder")
    aggregate.add_argument("--test", choices=["wilcoxon", "permutation", "bootstrap"], default="wilcoxon",
                           help="paired test (bootstrap: the sign-flip permutation test, its former name)")
    aggregate.add_argument("--alpha", type=float, default=0.05, help="significance level after Holm correction")
    aggregate.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs")
    aggregate.set_defaults(handler=_aggregate)


def _parse_nq(text: str) -> list[int]:
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise CodecStudyError(f"--n-q must be integers separated by commas, got {text!r}") from None
    if not values:
        raise CodecStudyError("--n-q is empty")
    return values


def _evaluate(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise CodecStudyError("--workers must be at least 1")
    settings = EvalSettings(
        metrics=[m.strip() for m in args.metrics.split(",") if m.strip()],
        mode=args.mode,
        overrides=parse_metric_overrides(args.metric_set),
        delay_compensation=not args.no_delay_compensation,
        delay_samples=args.delay,
        max_delay_s=args.max_delay,
        calibration_clips=args.calibration_clips,
        workers=args.workers,
        device=args.device,
        shard=parse_shard(args.shard),
        ref_cache=default_ref_cache(args.no_ref_cache, args.ref_cache),
        save_audio=args.save_audio,
    )
    if args.codec:
        if args.set is None:
            raise CodecStudyError("codec mode needs --set MANIFEST (an evaluation set's manifest.jsonl)")
        if adapter_kind(args.codec) is None:
            wanted: list[int] | list[str] | None = _parse_nq(args.n_q or "8")
        else:
            wanted = [v.strip() for v in args.n_q.split(",") if v.strip()] if args.n_q else None
        summary = evaluate_codec(
            args.codec,
            args.set,
            args.out,
            wanted,
            settings,
            set_name=args.set_name,
            name=args.name,
            force=args.force,
            progress=not args.quiet,
            limit=args.limit,
            sample_rate=args.sample_rate,
        )
    else:
        ref_dir, dec_dir = args.pairs
        summary = evaluate_pairs(
            ref_dir,
            dec_dir,
            args.out,
            settings,
            manifest=args.set,
            sample_rate=args.sample_rate,
            name=args.name,
            force=args.force,
            progress=not args.quiet,
        )
    failed = ", ".join(f"{k}: {v}" for k, v in sorted(summary.failed_metrics.items())) or "none"
    print(f"{summary.out}: {summary.scored} clips scored, {summary.skipped} already done; failed metrics: {failed}")
    if summary.failed_metrics:
        print("  (reasons per clip in the 'errors' field of results.jsonl)")
    return 0


def _aggregate(args: argparse.Namespace) -> int:
    records = load_results(args.results)
    written = write_tables(records, args.out, n_boot=args.n_boot, test=args.test, alpha=args.alpha)
    print((args.out / "summary.md").read_text(encoding="utf-8"))
    counts = json.dumps({p.name: str(p) for p in written.values() if p.suffix == ".csv"})
    print(f"tables: {args.out} ({len(records)} result lines) {counts}")
    return 0
