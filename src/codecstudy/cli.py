"""The ``codecstudy`` command line: one entry point, sub-commands that map onto the packages.

Only commands that work are listed. Errors the user can fix (bad config key, missing file) are printed as one
line, ``codecstudy: error: ...``, with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from codecstudy import __version__
from codecstudy.errors import CodecStudyError

if TYPE_CHECKING:  # torch is imported only by the commands that need it
    from codecstudy.codec.models.base import CodecModel

DEFAULT_CORPUS_DIR = Path("runs/corpus")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the hand-written layout of descriptions (examples, lists)."""


def _add_parser(
    subparsers: argparse._SubParsersAction, name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name, help=summary, description=f"{summary}\n\n{description}".strip(), formatter_class=_HelpFormatter
    )


def _source_list() -> str:
    from codecstudy.corpus.sources import SOURCE_CLASSES

    return ", ".join(sorted(SOURCE_CLASSES))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codecstudy",
        description=(
            "Train neural audio codecs under controlled data coverage and measure how they generalize\n"
            "to unseen languages and to non-speech audio.\n\n"
            "Start with `codecstudy corpus build --source embedded` (real recordings from Debian packages)."
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"codecstudy {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    corpus = _add_parser(
        commands,
        "corpus",
        "build and inspect audio corpora",
        "A corpus is a folder with manifest.jsonl (one clip per line, with language, domain, speaker, text,\n"
        "source, licence and split), skipped.jsonl (every rejected file with its reason) and corpus.json.",
    )
    corpus_commands = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)

    build = _add_parser(
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
        default=os.cpu_count() or 1,
        help="decoding processes (default: %(default)s, the number of cores)",
    )
    build.add_argument("--force", action="store_true", help="discard an earlier build in --out and start over")
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    build.set_defaults(handler=_corpus_build)

    stats = _add_parser(
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

    conditions = _add_parser(
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
    _add_codec_commands(commands)
    _add_evaluate_commands(commands)
    _add_train_commands(commands)
    _add_tts_commands(commands)
    _add_study_commands(commands)
    _add_listen_commands(commands)
    return parser


CODEC_HELP = (
    "CODEC is a checkpoint file, a codec YAML or a preset name (see `codecstudy codec list`). A preset builds an\n"
    "UNTRAINED model with fixed random weights (seed in the preset): useful to test the plumbing, not to listen to."
)


def _add_codec_commands(commands: argparse._SubParsersAction) -> None:
    encode = _add_parser(
        commands,
        "encode",
        "encode an audio file into a token file",
        "The audio is mixed to mono and resampled to the codec's rate. The token file records the codec's\n"
        "identity hash, so decoding with another codec is refused.\n\n"
        "Example:\n  codecstudy encode speech.wav speech.tokens --codec runs/x/codecs/all-soundstream.pt --n-q 8\n\n"
        + CODEC_HELP,
    )
    encode.add_argument("input", type=Path, help="audio file (any format codecstudy reads)")
    encode.add_argument("output", type=Path, help="token file to write")
    encode.add_argument("--codec", required=True, metavar="CODEC", help="checkpoint, codec YAML or preset name")
    encode.add_argument("--n-q", type=int, default=None, help="codebooks to use (default: 8, or all if fewer)")
    encode.set_defaults(handler=_encode)

    decode = _add_parser(
        commands,
        "decode",
        "decode a token file into a WAV file",
        "--codec must be the codec that encoded the file (its identity hash is checked).\n\n" + CODEC_HELP,
    )
    decode.add_argument("input", type=Path, help="token file")
    decode.add_argument("output", type=Path, help="audio file to write (WAV, FLAC, ...), at the codec's rate")
    decode.add_argument("--codec", required=True, metavar="CODEC", help="checkpoint, codec YAML or preset name")
    decode.set_defaults(handler=_decode)

    codec = _add_parser(commands, "codec", "inspect, list and export codecs", CODEC_HELP)
    codec_commands = codec.add_subparsers(dest="codec_command", metavar="ACTION", required=True)
    info = _add_parser(
        codec_commands, "info", "print parameters, hop, frame rate and bitrate per number of codebooks", CODEC_HELP
    )
    info.add_argument("codec", metavar="CODEC", help="checkpoint, codec YAML, preset or codec name (opus:6kbps)")
    info.add_argument("--card", action="store_true", help="measure and print the codec card: parameters, MACs/s, "
                      "latency, token rate, bitrates, streaming, real-time factors (one thread; takes a while)")
    info.add_argument("--json", action="store_true", help="print the codec card as JSON (for scripts)")
    info.add_argument("--settings", default=None, metavar="S1,S2", help="card: only these settings (default: the "
                      "codec's default settings)")
    info.set_defaults(handler=_codec_info)
    listing = _add_parser(codec_commands, "list", "list the codec presets and every other codec kind", "")
    listing.set_defaults(handler=_codec_list)
    export = _add_parser(
        codec_commands,
        "export",
        "export the encoder and decoder to TorchScript or ONNX (weight norm folded) and check them",
        "The exported encoder takes a wave whose length is a multiple of the hop length; the decoder takes\n"
        "exactly --n-q codebooks. ONNX needs `pip install onnx onnxruntime`.\n\n" + CODEC_HELP,
    )
    export.add_argument("codec", metavar="CODEC", help="checkpoint, codec YAML or preset name")
    export.add_argument("out", type=Path, help="folder to write")
    export.add_argument("--format", choices=["torchscript", "onnx", "both"], default="torchscript")
    export.add_argument("--n-q", type=int, default=None, help="codebooks (default: all)")
    export.set_defaults(handler=_codec_export)


# ------------------------------------------------------------------------------------------------- train
def _add_train_commands(commands: argparse._SubParsersAction) -> None:
    """`train`; its options and handler live in codecstudy.train.commands."""
    from codecstudy.train.commands import add_commands

    add_commands(commands, _add_parser)


# --------------------------------------------------------------------------------------------------- tts
def _add_tts_commands(commands: argparse._SubParsersAction) -> None:
    """`tts train|synthesize|evaluate`; options and handlers live in codecstudy.tts.commands."""
    from codecstudy.tts.commands import add_commands

    add_commands(commands, _add_parser)


# ---------------------------------------------------------------------------------------------- evaluate
def _add_evaluate_commands(commands: argparse._SubParsersAction) -> None:
    """`evaluate` and `aggregate`; their options and handlers live in codecstudy.evaluate.commands."""
    from codecstudy.evaluate.commands import add_commands

    add_commands(commands, _add_parser)


# ------------------------------------------------------------------------------------------------- study
def _add_study_commands(commands: argparse._SubParsersAction) -> None:
    """`study run|status|report`; their options and handlers live in codecstudy.study.commands."""
    from codecstudy.study.commands import add_commands

    add_commands(commands, _add_parser)


def _add_listen_commands(commands: argparse._SubParsersAction) -> None:
    """`listen build|import`; their options and handlers live in codecstudy.listen.commands."""
    from codecstudy.listen.commands import add_commands

    add_commands(commands, _add_parser)


def _corpus_build(args: argparse.Namespace) -> int:
    from codecstudy.config import apply_overrides
    from codecstudy.corpus.builder import CorpusConfig, build_corpus
    from codecstudy.corpus.sources import source_class
    from codecstudy.corpus.sources.base import DatasetSource
    from codecstudy.study.spec import load_corpus_config

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
    from codecstudy.corpus.manifest import load_manifest, manifest_path
    from codecstudy.corpus.stats import (
        format_minutes_table,
        minutes_table,
        plot_minutes,
    )

    path = manifest_path(corpus)
    clips = load_manifest(path)
    table = minutes_table(clips)
    text = format_minutes_table(table)
    print(text)
    folder = path.parent
    (folder / "stats.txt").write_text(text + "\n", encoding="utf-8")
    image = plot_minutes(table, plot or folder / "stats.png", title=f"{folder.name}: minutes per split")
    print(f"plot: {image}")


def _corpus_stats(args: argparse.Namespace) -> int:
    from codecstudy.corpus.manifest import load_manifest, manifest_path
    from codecstudy.corpus.stats import format_condition_minutes

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
    from codecstudy.corpus.conditions import build_conditions
    from codecstudy.corpus.leakage import format_leakage, leakage_report
    from codecstudy.corpus.manifest import load_manifest, manifest_path
    from codecstudy.corpus.stats import format_condition_minutes
    from codecstudy.jsonl import write_json_atomic
    from codecstudy.study.spec import load_study

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
    (path.parent / "leakage.txt").write_text(text + "\n", encoding="utf-8")
    write_json_atomic(path.parent / "leakage.json", [row.to_json() for row in rows])
    print("\nleakage (shared clips / speakers / source files between training and evaluation)")
    print(text)
    print(f"\nwritten: {path.parent / 'conditions'}, {path.parent / 'eval_sets'}, {path.parent / 'leakage.json'}")
    return 0


def _load_inference_codec(source: str) -> CodecModel:
    from codecstudy.codec.registry import load_codec, preset_names

    model = load_codec(source)
    if not Path(source).exists() and source in preset_names():
        print(
            f"note: {source} is an untrained preset (random weights, seed {model.config.seed}); "
            "pass a trained checkpoint for real audio",
            file=sys.stderr,
        )
    return model.prepare_for_inference()


def _encode(args: argparse.Namespace) -> int:
    import torch

    from codecstudy import audio
    from codecstudy.codec.io import tokens_from_codes, write_tokens

    model = _load_inference_codec(args.codec)
    n_q = min(8, model.n_codebooks) if args.n_q is None else args.n_q
    if not 1 <= n_q <= model.n_codebooks:
        raise CodecStudyError(f"--n-q must be in 1..{model.n_codebooks} for codec {model.config.name}")
    samples, rate = audio.read(args.input)
    samples = audio.resample(samples, rate, model.sample_rate)
    wave = torch.from_numpy(samples).view(1, 1, -1)
    codes = model.encode(wave, n_q=n_q)
    tokens = tokens_from_codes(model, codes, n_samples=samples.shape[-1])
    write_tokens(args.output, tokens)
    print(
        f"{args.output}: {tokens.n_frames} frames x {n_q} codebooks of {model.codebook_size} "
        f"({tokens.duration:.2f} s at {model.sample_rate} Hz, {tokens.bitrate / 1000:.2f} kbps, "
        f"codec {model.config.name} {tokens.codec_hash[:12]})"
    )
    return 0


def _decode(args: argparse.Namespace) -> int:
    from codecstudy import audio
    from codecstudy.codec.io import check_tokens_match, read_tokens

    tokens = read_tokens(args.input)
    model = _load_inference_codec(args.codec)
    check_tokens_match(tokens, model, args.input)
    wave = model.decode(tokens.codes[None], lengths=[tokens.n_samples])
    audio.write(args.output, wave[0, 0].numpy(), model.sample_rate)
    print(f"{args.output}: {tokens.duration:.2f} s at {model.sample_rate} Hz from {tokens.n_q} codebooks")
    return 0


def _codec_info(args: argparse.Namespace) -> int:
    from codecstudy.codec.card import card_text, check_codec_name
    from codecstudy.codec.catalog import adapter_kind, info_lines
    from codecstudy.codec.registry import load_codec

    check_codec_name(args.codec)
    if args.card or args.json:
        print(card_text(args.codec, as_json=args.json, settings=args.settings))
        return 0
    if adapter_kind(args.codec):
        print("\n".join(info_lines(args.codec)))
        return 0
    model = load_codec(args.codec)
    cfg = model.config
    counts = model.parameter_counts()
    print(f"codec:        {cfg.name} ({cfg.architecture}, {'causal' if model.causal else 'non-causal'})")
    print(f"identity:     {model.identity_hash()[:32]}")
    print(f"sample rate:  {model.sample_rate} Hz")
    print(
        f"hop:          {model.hop_length} samples (strides {'-'.join(map(str, cfg.seanet.ratios))}), "
        f"{model.frame_rate:g} frames/s"
    )
    print(f"codebooks:    {model.n_codebooks} x {model.codebook_size} ({cfg.quantizer.kind})")
    buffers = counts["codebook_buffers"]
    print(
        f"parameters:   {counts['total'] / 1e6:.2f} M (encoder {counts['encoder'] / 1e6:.2f} M, "
        f"quantizer {counts['quantizer'] / 1e6:.2f} M, decoder {counts['decoder'] / 1e6:.2f} M)"
        + (f" + {buffers / 1e6:.2f} M codebook buffer values" if buffers else "")
    )
    print(
        "bitrate:      "
        + ", ".join(f"{n_q}: {model.bitrate(n_q) / 1000:g} kbps" for n_q in range(1, model.n_codebooks + 1))
    )
    from codecstudy.codec.native import NativeCodec

    print(f"weights:      {NativeCodec(args.codec, model).weights()}")
    return 0


def _codec_list(args: argparse.Namespace) -> int:
    from codecstudy.codec.catalog import kind_lines
    from codecstudy.codec.registry import preset_config, preset_names

    print("codecstudy presets (untrained; train them or pass a checkpoint):")
    for name in preset_names():
        cfg = preset_config(name)
        print(
            f"{name:20s} {cfg.architecture:12s} {cfg.sample_rate} Hz, hop {cfg.hop_length}, "
            f"{cfg.quantizer.n_codebooks} x {cfg.quantizer.codebook_size} codebooks"
        )
    print("\nother codecs, by name (KIND[:MODEL][:SETTING...], e.g. opus:6kbps; `codecstudy codec info NAME`):")
    print("\n".join(kind_lines()))
    print("checkpoints: a codecstudy .pt file or espnet:PATH (an ESPnet SoundStream exp folder)")
    return 0


def _codec_export(args: argparse.Namespace) -> int:
    from codecstudy.codec.export import export_onnx, export_torchscript, verify_export
    from codecstudy.codec.registry import load_codec

    model = load_codec(args.codec)
    formats = ["torchscript", "onnx"] if args.format == "both" else [args.format]
    for fmt in formats:
        result = (export_torchscript if fmt == "torchscript" else export_onnx)(model, args.out, n_q=args.n_q)
        check = verify_export(model, result)
        print(
            f"{fmt}: {result.encoder}, {result.decoder} ({result.n_q} codebooks); matches the model: "
            f"max audio error {check['max_abs_error']:.1e}, codes differing {check['code_mismatch']:.2%}"
        )
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
