"""``codecstudy tts train|synthesize|evaluate``: options and handlers (the CLI module only registers them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from codecstudy.commandline import add_parser

TRAIN_HELP = (
    "Trains a FastSpeech2-style model that predicts the codec's first n_q token streams (model.n_q, default 8)\n"
    "from phonemes; durations come from an aligner trained jointly (no external model).\n\n"
    "Example:\n"
    "  codecstudy tts train --codec runs/demo/codecs/english-soundstream/codec.pt \\\n"
    "      --data runs/demo/corpus/conditions/english.jsonl --out runs/demo/tts/english-soundstream\n\n"
    "Presets: tiny (minutes on 2 CPU cores), small (hours on CPU); override keys with --set train.steps=500.\n"
    "OUT gets model.pt (self-contained: frontend tables, weights, codec), checkpoint.pt (resume), config.yaml,\n"
    "train.log, metrics.jsonl, summary.json and cache/ (tokens and features of the clips). A re-run resumes."
)
EVAL_HELP = (
    "Rows per language: reference (the recording), codec (ground-truth tokens decoded: the upper bound),\n"
    "tts (the model's output) and, with --systems ...,mel, Griffin-Lim from the ground-truth mel. Metrics:\n"
    "ASR WER/CER (offline Whisper: tiny.en for English, base otherwise), DNSMOS, speaker similarity.\n"
    "OUT gets results.jsonl (one line per clip and system; resumable), table.md, table.csv, summary.json, audio/."
)


def add_commands(commands: argparse._SubParsersAction) -> None:
    tts = add_parser(commands, "tts", "downstream TTS on codec tokens: train, synthesize, evaluate", TRAIN_HELP)
    sub = tts.add_subparsers(dest="tts_command", metavar="ACTION", required=True)

    train = add_parser(sub, "train", "train a TTS model on a codec's tokens of transcribed clips", TRAIN_HELP)
    train.add_argument("--codec", required=True, metavar="CODEC", help="codec checkpoint (or preset name)")
    train.add_argument("--data", required=True, type=Path, metavar="MANIFEST", help="transcribed clips (JSONL)")
    train.add_argument("--out", required=True, type=Path, help="model folder (created, or resumed)")
    train.add_argument("--config", default="tiny", help="TTS preset (tiny, small) or YAML (default: %(default)s)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=run_train)

    synth = add_parser(sub, "synthesize", "speak a text with a trained TTS model and its codec", "")
    synth.add_argument("--model", required=True, type=Path, help="model folder (or its model.pt)")
    synth.add_argument("--text", required=True)
    synth.add_argument("--language", default="en", help="ISO 639-1 code (default: %(default)s)")
    synth.add_argument("--speaker", help="speaker name (default: the model's first)")
    synth.add_argument("--pace", type=float, default=1.0, help="duration factor; >1 is slower")
    synth.add_argument("--temperature", type=float, default=0.0, help="0: most likely tokens; >0 samples")
    synth.add_argument("--out", required=True, type=Path, help="audio file to write")
    synth.set_defaults(handler=run_synthesize)

    ev = add_parser(sub, "evaluate", "score TTS output against the codec alone and the recordings", EVAL_HELP)
    ev.add_argument("--model", required=True, type=Path, help="model folder (or its model.pt)")
    ev.add_argument("--data", required=True, type=Path, metavar="MANIFEST", help="evaluation clips (JSONL)")
    ev.add_argument("--out", required=True, type=Path, help="results folder (resumed)")
    ev.add_argument("--systems", default="reference,codec,tts", help="comma list of reference,codec,tts,mel")
    ev.add_argument("--metrics", default="asr,dnsmos,spk", help="comma list of asr,dnsmos,spk")
    ev.add_argument("--max-clips", type=int, default=None, help="evenly spaced subset of the clips")
    ev.add_argument("--asr-model", help="override the ASR model (default: tiny.en for en, base otherwise)")
    ev.add_argument("--no-audio", action="store_true", help="do not keep the WAV files")
    ev.add_argument("--quiet", action="store_true")
    ev.set_defaults(handler=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    from codecstudy.tts.config import load_tts_config
    from codecstudy.tts.train import train_tts

    config = load_tts_config(args.config, args.overrides)
    result = train_tts(args.codec, args.data, args.out, config, show_progress=not args.quiet)
    final = result.final
    print(
        f"\ntts model: {result.out_dir / 'model.pt'} ({result.steps} steps on {result.clips} clips in "
        f"{result.seconds / 60:.1f} min; token accuracy q1 {final.get('acc_q1', float('nan')):.3f}, "
        f"mean {final.get('acc_mean', float('nan')):.3f})"
    )
    return 0


def run_synthesize(args: argparse.Namespace) -> int:
    from codecstudy import audio
    from codecstudy.tts.bundle import load_bundle
    from codecstudy.tts.synthesize import synthesize

    bundle = load_bundle(args.model)
    result = synthesize(bundle, args.text, args.language, args.speaker, args.pace, args.temperature)
    audio.write(args.out, result.wave, result.sample_rate)
    print(f"{args.out}: {result.wave.shape[0] / result.sample_rate:.2f} s, {result.codes.shape[-1]} frames")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from codecstudy.tts.bundle import load_bundle
    from codecstudy.tts.evaluate import evaluate_tts, format_table, summarize

    progress = None
    if not args.quiet:
        from tqdm import tqdm

        def progress(x):  # noqa: ANN001, ANN202
            return tqdm(x, desc="tts eval", unit="clip", dynamic_ncols=True)

    bundle = load_bundle(args.model)
    rows = evaluate_tts(
        bundle,
        args.data,
        args.out,
        systems=[s for s in args.systems.split(",") if s],
        metrics=[m for m in args.metrics.split(",") if m],
        max_clips=args.max_clips,
        asr_model=args.asr_model,
        save_audio=not args.no_audio,
        progress=progress,
    )
    print(format_table(summarize(rows)))
    print(f"\nwritten: {args.out / 'results.jsonl'}, {args.out / 'table.md'}")
    return 0
