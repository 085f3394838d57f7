"""Codec cards of the presets and of every installed external codec, written into docs/codecs.md.

    .venv/bin/python benchmarks/codec_card.py [--only soundstream-tiny,opus] [--repeats 3] [--json OUT.json]
        [--doc docs/codecs.md | --no-doc]

Each codec's card (:mod:`codecstudy.codec.card`): parameters, MACs per second of audio counted on its modules,
latency (frame + look-ahead), token rate, nominal and measured bitrate, streaming, and encode/decode real-time
factors at 1 s and 10 s with one torch thread (warm, median of ``--repeats``). Presets run at every number of
codebooks up to 8 and at powers of two beyond; adapters at their default settings. Neural adapters use random
weights (``:random``, no hub here): their cost is the published models', their audio is noise. A codec whose package
is missing is skipped with one line. The table replaces the section between the markers below in ``--doc``, with
the CPU (``lscpu`` model name and SIMD flags) and the load average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

import torch

from codecstudy.bench import load_average
from codecstudy.codec.card import CodecCard, card_dict, card_rows, codec_card, open_for_card
from codecstudy.codec.interface import MissingPackageError
from codecstudy.codec.presets import preset_config, preset_names
from codecstudy.files import write_json_atomic, write_text_atomic

ADAPTERS = ["opus", "codec2", "lc3", "amrwb", "g722", "mp3", "encodec:24khz:random", "dac:16khz:random:4:12",
            "snac:24khz:random", "mimi:random:8:32"]
"""Neural adapters at a few settings each (DAC's 16 kHz model runs at about real time on one thread)."""
BEGIN = "<!-- codec-card:begin (benchmarks/codec_card.py replaces this section) -->"
END = "<!-- codec-card:end -->"
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile",
              "amx_bf16", "amx_int8")


def preset_settings(name: str) -> list[str]:
    """Every number of codebooks up to 8, then powers of two and the largest."""
    n = preset_config(name).quantizer.n_codebooks
    chosen = [k for k in range(1, n + 1) if k <= 8 or (k & (k - 1)) == 0 or k == n]
    return [str(k) for k in chosen]


def cpu_description() -> str:
    """``lscpu``'s model name and the SIMD flags torch's kernels may use (falls back to /proc/cpuinfo)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8") if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^(?:Model name|model name)\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^(?:Flags|flags)\s*:\s*(.+)$", text, re.M)
    present = [f for f in SIMD_FLAGS if flags and f in flags.group(1).split()]
    return f"{model.group(1).strip() if model else 'unknown CPU'} (SIMD flags: {', '.join(present) or 'none found'})"


def _num(value: float | None, digits: int = 3, scale: float = 1.0) -> str:
    return "-" if value is None else f"{value / scale:.{digits}g}"


def _rtf(encode: float | None, decode: float | None, roundtrip: float | None) -> str:
    if encode is not None and decode is not None:
        return f"{encode:.3g} / {decode:.3g}"
    return "-" if roundtrip is None else f"{roundtrip:.3g} (rt)"


def markdown_table(cards: list[CodecCard]) -> list[str]:
    header = ("| codec | setting | params (M) | nominal kbps | measured kbps | tokens/s | bits/token | latency: "
              "frame + look-ahead (ms) | MMACs/s enc | MMACs/s dec | RTF 1 s enc / dec | RTF 10 s enc / dec | "
              "streaming | load |")
    lines = [header, "|" + "---|" * header.count(" | ") + "---|"]
    for row in card_rows(cards):
        lookahead = "?" if row["lookahead_samples"] is None else row["lookahead_samples"]
        ms = "" if row["latency_ms"] is None else f" ({row['latency_ms']:.3g})"
        latency = "-" if row["frame_samples"] is None else f"{row['frame_samples']} + {lookahead}{ms}"
        streaming = "/".join(name for name, on in (("enc", row["streaming_encode"]), ("dec", row["streaming_decode"]))
                             if on) or "no"
        cells = [row["codec"], row["setting"], _num(row["params_total"], 3, 1e6), _num(row["nominal_bps"], 4, 1000),
                 _num(row["measured_bps"], 4, 1000), _num(row["tokens_per_s"], 4),
                 "-" if row["bits_per_token"] is None else str(row["bits_per_token"]), latency,
                 _num(row["macs_encode_per_s"], 4, 1e6), _num(row["macs_decode_per_s"], 4, 1e6),
                 _rtf(row["rtf_encode_1s"], row["rtf_decode_1s"], row["rtf_roundtrip_1s"]),
                 _rtf(row["rtf_encode_10s"], row["rtf_decode_10s"], row["rtf_roundtrip_10s"]), streaming,
                 _num(row["load_average"], 3)]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


def section(cards: list[CodecCard], skipped: list[str], started: tuple[float, ...] | None, cpu: str) -> str:
    ended = load_average()
    loads = " -> ".join("?" if lv is None else f"{lv[0]:.1f}" for lv in (started, ended))
    sources = sorted({(c.kind, s.latency.source) for c in cards for s in c.settings if s.latency.frame_samples})
    lines = [
        BEGIN,
        "",
        "### Codec cards (measured)",
        "",
        f"`benchmarks/codec_card.py`, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu}, "
        f"torch {torch.__version__}, one torch thread; 1-minute load average {loads} over the run (the machine is "
        "shared: RTFs under load read high; the `load` column is the value when each codec's card began). "
        "MACs = FLOPs / 2 of `torch.utils.flop_counter.FlopCounterMode` on the codec's own encode and decode of 1 s "
        "(convolutions and matrix products; LSTMs added by formula; bias and activations not counted); classic codecs: "
        "not counted (C libraries). Latency = frame + look-ahead in samples at the codec's rate (ms in brackets). RTF: "
        "seconds per second of audio, warm, median of the repeats; `(rt)` = the round trip (classic libraries code "
        "frame by frame inside one call). Measured kbps: bytes of a 10 s round trip of a speech-like signal. Neural "
        "adapters have random weights (their cost is the published models'). Presets are untrained.",
        "",
        *markdown_table(cards),
        "",
        "Where the latencies come from:",
        "",
        *[f"* {kind}: {source}" for kind, source in sources],
    ]
    if skipped:
        lines += ["", "Not measured here: " + "; ".join(skipped)]
    lines += ["", END]
    return "\n".join(lines)


def replace_section(text: str, new: str) -> str:
    """``text`` with the marked section replaced by ``new`` (appended at the end when there is none)."""
    start, end = text.find(BEGIN), text.find(END)
    if start >= 0 and end > start:
        return text[:start] + new + text[end + len(END):]
    return text.rstrip("\n") + "\n\n" + new + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=None, help="comma-separated codec names (presets or adapter names)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the cards as JSON here")
    parser.add_argument("--doc", type=Path, default=Path("docs/codecs.md"))
    parser.add_argument("--no-doc", action="store_true", help="print the section instead of writing --doc")
    args = parser.parse_args(argv)
    presets = preset_names()
    names = presets + ADAPTERS
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        names = [n for n in names if n in wanted or n.partition(":")[0] in wanted]
    started = load_average()
    cpu = cpu_description()
    cards: list[CodecCard] = []
    skipped: list[str] = []
    for name in names:
        try:
            codec = open_for_card(name)
        except MissingPackageError as exc:
            skipped.append(f"{name} ({str(exc).partition('; install ')[2] or exc})")
            print(f"{name}: skipped, not installed", file=sys.stderr)
            continue
        settings = preset_settings(name) if name in presets else None
        print(f"{name}: measuring {len(settings or codec.default_settings())} settings ...", file=sys.stderr)
        cards.append(codec_card(codec, settings, repeats=args.repeats))
    text = section(cards, skipped, started, cpu)
    if args.json:
        write_json_atomic(args.json, {"cpu": cpu, "cards": [card_dict(c) for c in cards]})
    if args.no_doc:
        print(text)
    else:
        write_text_atomic(args.doc, replace_section(args.doc.read_text(encoding="utf-8"), text))
        print(f"{args.doc}: codec cards of {len(cards)} codecs written", file=sys.stderr)
    print(json.dumps({"codecs": len(cards), "skipped": len(skipped)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
