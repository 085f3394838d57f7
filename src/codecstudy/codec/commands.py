"""``codecstudy encode|decode|codec info|list|export``: options and handlers (the main CLI only attaches them).

The codec modules import torch; the handlers import them when a command runs, so that building the parser (every
``--help``) does not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from codecstudy.commandline import add_parser
from codecstudy.errors import CodecStudyError

if TYPE_CHECKING:
    from codecstudy.codec.models.base import CodecModel

CODEC_HELP = (
    "CODEC is a checkpoint file, a codec YAML or a preset name (see `codecstudy codec list`). A preset builds an\n"
    "UNTRAINED model with fixed random weights (seed in the preset): useful to test the plumbing, not to listen to."
)


def add_commands(commands: argparse._SubParsersAction) -> None:
    encode = add_parser(
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

    decode = add_parser(
        commands,
        "decode",
        "decode a token file into a WAV file",
        "--codec must be the codec that encoded the file (its identity hash is checked).\n\n" + CODEC_HELP,
    )
    decode.add_argument("input", type=Path, help="token file")
    decode.add_argument("output", type=Path, help="audio file to write (WAV, FLAC, ...), at the codec's rate")
    decode.add_argument("--codec", required=True, metavar="CODEC", help="checkpoint, codec YAML or preset name")
    decode.set_defaults(handler=_decode)

    codec = add_parser(commands, "codec", "inspect, list and export codecs", CODEC_HELP)
    codec_commands = codec.add_subparsers(dest="codec_command", metavar="ACTION", required=True)
    info = add_parser(
        codec_commands, "info", "print parameters, hop, frame rate and bitrate per number of codebooks", CODEC_HELP
    )
    info.add_argument("codec", metavar="CODEC", help="checkpoint, codec YAML, preset or codec name (opus:6kbps)")
    info.add_argument("--card", action="store_true", help="measure and print the codec card: parameters, MACs/s, "
                      "latency, token rate, bitrates, streaming, real-time factors (one thread; takes a while)")
    info.add_argument("--json", action="store_true", help="print the codec card as JSON (for scripts)")
    info.add_argument("--settings", default=None, metavar="S1,S2", help="card: only these settings (default: the "
                      "codec's default settings)")
    info.set_defaults(handler=_codec_info)
    listing = add_parser(codec_commands, "list", "list the codec presets and every other codec kind", "")
    listing.set_defaults(handler=_codec_list)
    export = add_parser(
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


def _load_inference_codec(source: str) -> CodecModel:
    from codecstudy.codec.catalog import load_codec
    from codecstudy.codec.presets import preset_names

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
    from codecstudy.codec.catalog import adapter_kind, info_lines, load_codec

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
    from codecstudy.codec.presets import preset_config, preset_names

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
    from codecstudy.codec.catalog import load_codec
    from codecstudy.codec.export import export_onnx, export_torchscript, verify_export

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
