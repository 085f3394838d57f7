"""``codecstudy train``: its options and handler (the CLI module only registers them).

Kept apart from :mod:`codecstudy.cli` so that the parser is built without importing torch, and so that the
command's wording lives beside the trainer it describes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from codecstudy.commandline import add_parser

EXAMPLES = (
    "Examples:\n"
    "  codecstudy train --config soundstream-tiny --data runs/demo/corpus/conditions/english.jsonl \\\n"
    "      --valid runs/demo/corpus/valid_en.jsonl --out runs/demo/codecs/english-soundstream\n"
    "  codecstudy train --config my-codec.yaml --data clips.jsonl --out runs/x --set train.steps=500\n"
    "  torchrun --nproc_per_node 2 -m codecstudy train --config soundstream-small --data clips.jsonl --out runs/y\n\n"
    "The schedule is the `train:` section of the codec config (steps, batch, optimizers, intervals, ...); any\n"
    "key can be overridden with --set. OUT gets config.yaml, checkpoints/ (the last K and best.pt), codec.pt,\n"
    "train.log, metrics.jsonl, summary.json and tensorboard/. Re-running the same command after a kill (even\n"
    "SIGKILL) resumes from the newest checkpoint. Under torchrun, `train.batch_size` is the global batch."
)



def add_commands(commands: argparse._SubParsersAction) -> None:
    train = add_parser(
        commands, "train", "train a codec on a manifest's clips (resumable; multi-process with torchrun)", EXAMPLES
    )
    train.add_argument("--config", required=True, metavar="CODEC", help="codec YAML or preset name")
    train.add_argument("--data", required=True, type=Path, metavar="MANIFEST", help="training clips (JSONL)")
    train.add_argument("--out", required=True, type=Path, help="run folder (created, or resumed)")
    train.add_argument("--valid", type=Path, metavar="MANIFEST", help="validation clips (JSONL)")
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a codec config key, e.g. train.steps=2000 or train.generator.lr=1e-3",
    )
    train.add_argument("--cache-dir", type=Path, help="decoded-audio cache, shareable by runs (default: OUT/cache)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    # torch, through the trainer: the CLI parser is built without it (see the module docstring)
    from codecstudy.codec.presets import resolve_codec_config
    from codecstudy.train.trainer import train

    config = resolve_codec_config(args.config, args.overrides)
    result = train(
        config, args.data, args.out, valid=args.valid, cache_dir=args.cache_dir, show_progress=not args.quiet
    )
    if not result.is_main:
        return 0
    shown = ("valid/mel_distance", "valid/si_snr", "valid/stoi", "valid/pesq")
    scores = ", ".join(f"{k.split('/')[-1]} {result.valid_metrics[k]:.4g}" for k in shown if k in result.valid_metrics)
    print(
        f"trained to step {result.step} in {result.seconds / 60:.1f} min"
        + (f" (resumed from step {result.resumed_from})" if result.resumed_from is not None else "")
        + (f"; skipped steps: {result.skipped_steps}" if result.skipped_steps else "")
        + (f"; validation: {scores}" if scores else "")
    )
    print(f"codec: {result.codec_path}" + (f"  best: {result.best_path}" if result.best_path else ""))
    return 0
