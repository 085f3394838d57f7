"""Encode + decode speed of our codec in EnCodec's 24 kHz configuration, against the ``encodec`` package itself.

    .venv/bin/python benchmarks/codec_speed.py [--json runs/bench/codec_speed.json]     (or: make bench)

Both models are built in this process with random weights, at equal size: ours from the ``encodec-24k`` preset
(``configs/codecs/encodec-24k.yaml``), the reference with ``EncodecModel.encodec_model_24khz(pretrained=False)``.
Ours is then loaded with the reference's weights and checked to compute the same function (same codes, same
audio from the same codes), so the timings compare two implementations of one model, not two models.

Rows: ours after ``prepare_for_inference()`` (weight norm folded, fast inference kernels); ours with the plain
layers (``kernels.FAST_INFERENCE = False``, what the kernels gain); the reference as its README uses it (weight
norm recomputed on every call) and the reference with weight norm removed. Everything runs under
``torch.inference_mode``, batch 1, at 6 kbps (8 codebooks) by default. In each repeat the models run one after
another in rotating order, so background load hits them alike; the tables give medians over repeats.

The whole grid runs twice: with glibc's default allocator, then with freed memory retained
(:func:`codecstudy.bench.retain_freed_memory`), because fresh-page faults on the large activations cost as much
as some layers' arithmetic on this kind of machine and the default setting makes them vary from run to run.

FLOPs are counted with ``FlopCounterMode`` on 1 s of audio; it does not see LSTMs, whose matrix products are added
analytically (``codecstudy.bench.lstm_flops``). The machine's float32 ``torch.mm`` rate at each thread count is
measured in the same run, and the achieved rate of each model is given against it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from codecstudy.bench import (
    OtherLoad,
    Timing,
    count_flops,
    load_average,
    machine_info,
    matmul_gflops,
    num_threads,
    retain_freed_memory,
    time_call,
)
from codecstudy.codec.models.base import CodecModel
from codecstudy.codec.registry import codec_from_preset
from codecstudy.codec.seanet import kernels

PRESET = "encodec-24k"
KBPS_PER_CODEBOOK = 0.75  # 75 frames/s x 10 bits


# ---------------------------------------------------------------------------------------------------- reference
def import_encodec() -> Any:
    """``encodec.EncodecModel`` without torchaudio.

    ``encodec/__init__`` imports ``encodec.utils``, which imports torchaudio at module level for its audio file
    helpers only; no torchaudio build matches torch 2.13. When torchaudio cannot be imported, an empty stub module
    (any attribute access raises) stands in for it: building and running the model never touches it.
    """
    try:
        import torchaudio  # noqa: F401
    except Exception:  # ImportError, or OSError from a torchaudio binary built for another torch
        stub = types.ModuleType("torchaudio")

        def __getattr__(name: str) -> Any:
            # AttributeError, so that hasattr() probes (inspect, torch.library) see a module without that name.
            raise AttributeError(f"torchaudio.{name}: torchaudio is not installed (stub used by codec_speed.py)")

        stub.__getattr__ = __getattr__  # type: ignore[method-assign]
        sys.modules["torchaudio"] = stub
    try:
        from encodec import EncodecModel
    except ImportError as exc:
        raise SystemExit(
            f"cannot import the reference ({exc}); install it with `make bench` or "
            "`.venv/bin/pip install --no-deps encodec==0.1.1 einops==0.8.2`"
        ) from None
    return EncodecModel


def build_reference(encodec_model: Any, bandwidth: float) -> nn.Module:
    with warnings.catch_warnings():  # encodec uses the deprecated torch.nn.utils.weight_norm
        warnings.simplefilter("ignore", FutureWarning)
        model = encodec_model.encodec_model_24khz(pretrained=False)
    model.set_target_bandwidth(bandwidth)
    return model.eval()


def remove_reference_weight_norm(model: nn.Module) -> int:
    """Fold the reference's hook-based weight norm into plain weights; returns how many layers were folded."""
    folded = 0
    for module in model.modules():
        if hasattr(module, "weight_g") and hasattr(module, "weight_v"):
            torch.nn.utils.remove_weight_norm(module)
            folded += 1
    return folded


_KEY_RULES = [
    (r"^(encoder|decoder)\.layers\.(\d+)\.conv1\.", r"\1.model.\2.block.1."),
    (r"^(encoder|decoder)\.layers\.(\d+)\.conv2\.", r"\1.model.\2.block.3."),
    (r"^(encoder|decoder)\.layers\.(\d+)\.", r"\1.model.\2."),
    (r"\.conv\.parametrizations\.weight\.original0$", ".conv.conv.weight_g"),
    (r"\.conv\.parametrizations\.weight\.original1$", ".conv.conv.weight_v"),
    (r"\.conv\.bias$", ".conv.conv.bias"),
    (r"\.convtr\.parametrizations\.weight\.original0$", ".convtr.convtr.weight_g"),
    (r"\.convtr\.parametrizations\.weight\.original1$", ".convtr.convtr.weight_v"),
    (r"\.convtr\.bias$", ".convtr.convtr.bias"),
    (r"^quantizer\.layers\.(\d+)\.", r"quantizer.vq.layers.\1._codebook."),
]


def reference_key(ours: str) -> str:
    """Our state-dict key -> the ``encodec`` package's (layer indices coincide: both stacks list the same layers)."""
    for pattern, repl in _KEY_RULES:
        ours = re.sub(pattern, repl, ours)
    return ours


def load_reference_weights(model: CodecModel, reference: nn.Module) -> None:
    """Copy the reference's weights and codebooks into our (unfolded) model; every tensor must find its match."""
    ref_state = reference.state_dict()
    state = {}
    for key, tensor in model.state_dict().items():
        if key.endswith(".initialized"):
            state[key] = torch.tensor(True)
            continue
        source = ref_state[reference_key(key)]
        if source.shape != tensor.shape:
            raise SystemExit(f"{key}: shape {tuple(tensor.shape)} but the reference has {tuple(source.shape)}")
        state[key] = source
    model.load_state_dict(state)


# ---------------------------------------------------------------------------------------------------- contenders
@dataclass
class Contender:
    """One implementation under test: how it encodes and decodes, and what it is."""

    name: str
    encode: Callable[[Tensor], Any]
    decode: Callable[[Any], Tensor]
    params: int
    note: str


def our_contender(model: CodecModel, n_q: int, fast: bool, params: int) -> Contender:
    def with_kernels(fn: Callable[[], Any]) -> Any:
        before = kernels.FAST_INFERENCE
        kernels.FAST_INFERENCE = fast
        try:
            return fn()
        finally:
            kernels.FAST_INFERENCE = before

    name = "ours" if fast else "ours, plain layers"
    note = "prepare_for_inference(); " + ("fast inference kernels" if fast else "kernels.FAST_INFERENCE = False")
    return Contender(
        name=name,
        encode=lambda x: with_kernels(lambda: model.encode(x, n_q=n_q)),
        decode=lambda codes: with_kernels(lambda: model.decode(codes)),
        params=params,
        note=note,
    )


def reference_contender(model: nn.Module, name: str, note: str, params: int) -> Contender:
    def encode(x: Tensor) -> Any:
        with torch.inference_mode():
            return model.encode(x)

    def decode(frames: Any) -> Tensor:
        with torch.inference_mode():
            return model.decode(frames)

    return Contender(name=name, encode=encode, decode=decode, params=params, note=note)


# ---------------------------------------------------------------------------------------------------- checks
def check_parity(ours: CodecModel, reference: nn.Module, n_q: int, seconds: float = 1.0) -> dict[str, float]:
    """Same input -> same codes; same codes -> same audio (up to float rounding)."""
    gen = torch.Generator().manual_seed(1)
    x = 0.1 * torch.randn(1, 1, int(seconds * ours.sample_rate), generator=gen)
    codes = ours.encode(x, n_q=n_q)
    with torch.inference_mode():
        ((ref_codes, _),) = reference.encode(x)
        ref_wave = reference.decode([(codes, None)])
    wave = ours.decode(codes)
    scale = float(ref_wave.abs().max()) or 1.0
    result = {
        "codes_equal_fraction": float((codes == ref_codes).float().mean()),
        "decode_max_abs_diff": float((wave - ref_wave).abs().max()),
        "decode_max_abs": scale,
    }
    if result["codes_equal_fraction"] < 0.99 or result["decode_max_abs_diff"] > 1e-4 * max(scale, 1.0):
        raise SystemExit(f"ours and the reference do not compute the same function: {result}")
    return result


# ---------------------------------------------------------------------------------------------------- measuring
def measure(
    contenders: list[Contender], x: Tensor, threads: int, repeats: int, warmup: int
) -> tuple[dict[str, dict[str, Timing]], float | None]:
    """Warm each contender up, then time encode and decode in rounds with a rotating order.

    Also returns how many cores other processes kept busy meanwhile (None where unknown): with 2 cores, one
    busy neighbour leaves a 2-thread run waiting on its descheduled thread, and such rows should be discounted.
    """
    timings = {c.name: {"encode": Timing(), "decode": Timing(), "total": Timing()} for c in contenders}
    others = OtherLoad()
    with num_threads(threads):
        for contender in contenders:
            for _ in range(warmup):
                contender.decode(contender.encode(x))
        others.start()
        for round_ in range(repeats):
            shift = round_ % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                codes, enc_wall, enc_cpu = time_call(lambda: contender.encode(x))
                _, dec_wall, dec_cpu = time_call(lambda: contender.decode(codes))
                entry = timings[contender.name]
                entry["encode"].add(enc_wall, enc_cpu)
                entry["decode"].add(dec_wall, dec_cpu)
                entry["total"].add(enc_wall + dec_wall, enc_cpu + dec_cpu)
    return timings, others.stop()


def flops_per_second(contender: Contender, sample_rate: int) -> dict[str, float]:
    """GFLOP per second of audio for encode and decode (1 s of audio, LSTMs added where uncounted)."""
    x = 0.1 * torch.randn(1, 1, sample_rate, generator=torch.Generator().manual_seed(2))
    codes = contender.encode(x)
    enc = count_flops(lambda: contender.encode(x))
    dec = count_flops(lambda: contender.decode(codes))
    return {
        "encode": enc.total / 1e9,
        "decode": dec.total / 1e9,
        "total": (enc.total + dec.total) / 1e9,
        "lstm_added": (enc.lstm_added + dec.lstm_added) / 1e9,
    }


# ---------------------------------------------------------------------------------------------------- report
def markdown_tables(result: dict[str, Any]) -> str:
    lines = [
        f"Models (n_q = {result['n_q']}, {result['kbps']:g} kbps; GFLOP per second of audio, LSTM products added "
        "analytically):",
        "",
        "| model | params (M) | GFLOP/s-audio encode | decode | total | of which LSTM | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, info in result["models"].items():
        f = info["gflop_per_audio_second"]
        lines.append(
            f"| {name} | {info['params'] / 1e6:.2f} | {f['encode']:.2f} | {f['decode']:.2f} | {f['total']:.2f} "
            f"| {f['lstm_added']:.2f} | {info['note']} |"
        )
    lines += ["", "float32 `torch.mm` 2048 x 2048 on this machine, same run:", "", "| threads | GFLOP/s |", "|---|---|"]
    for threads, rate in result["matmul_gflops"].items():
        lines.append(f"| {threads} | {rate:.0f} |")
    lines += [
        "",
        "Medians over repeats (wall time); RTF = seconds of compute per second of audio; achieved = GFLOP per "
        "second of audio / RTF; peak = the `torch.mm` rate above at the same thread count.",
        "",
        "| allocator | audio (s) | threads | model | encode (s) | decode (s) | total (s) | RTF | CPU s / audio s "
        "| achieved GFLOP/s | % of mm peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['allocator']} | {row['seconds']:g} | {row['threads']} | {row['model']} | {row['encode_s']:.3f} "
            f"| {row['decode_s']:.3f} | {row['total_s']:.3f} | {row['rtf']:.4f} | {row['cpu_rtf']:.4f} "
            f"| {row['achieved_gflops']:.0f} | {row['peak_percent']:.0f} |"
        )
    ratio_names = list(result["ratios"][0]["ratios"]) if result["ratios"] else []
    lines += [
        "",
        "Speed ratios, other model's median total time / ours (above 1: ours is faster):",
        "",
        "| allocator | audio (s) | threads | others' load (cores) | " + " | ".join(ratio_names) + " |",
        "|---|---|---|---|" + "---|" * len(ratio_names),
    ]
    for entry in result["ratios"]:
        values = " | ".join(f"{entry['ratios'][n]:.2f}" for n in ratio_names)
        lines.append(
            f"| {entry['allocator']} | {entry['seconds']:g} | {entry['threads']} | {_cores(entry['other_load_cores'])} "
            f"| {values} |"
        )
    lines += [
        "",
        "Others' load: cores kept busy by other processes during the timed rounds; on this 2-core machine a value "
        "near 1 makes 2-thread timings unreliable (OpenMP waits for its descheduled thread).",
    ]
    return "\n".join(lines)


def _cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


# ---------------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 1.0], help="audio durations (default 10 1)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts (default 1 2)")
    parser.add_argument("--n-q", type=int, default=8, help="codebooks used (8 = 6 kbps)")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per setting (default 7)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per model and setting (default 2)")
    parser.add_argument(
        "--allocator", choices=["default", "retain", "both"], default="both",
        help="glibc default, freed memory retained, or both in that order (default both)",
    )
    parser.add_argument("--no-plain", action="store_true", help="skip the 'ours, plain layers' row")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this path")
    args = parser.parse_args(argv)
    if args.n_q not in (2, 4, 8, 16, 32):
        parser.error("--n-q must be one of EnCodec's bandwidths: 2, 4, 8, 16 or 32 codebooks")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    encodec_model = import_encodec()
    kbps = args.n_q * KBPS_PER_CODEBOOK

    reference = build_reference(encodec_model, kbps)
    ref_params = sum(p.numel() for p in reference.parameters())
    ours_model = codec_from_preset(PRESET)
    our_params = ours_model.parameter_counts()["total"]  # before folding: weight-norm g and v, as the reference
    load_reference_weights(ours_model, reference)
    ours_model.prepare_for_inference()
    reference_folded = build_reference(encodec_model, kbps)
    reference_folded.load_state_dict(reference.state_dict())
    folded_layers = remove_reference_weight_norm(reference_folded)
    folded_params = sum(p.numel() for p in reference_folded.parameters())
    folded_ours = sum(p.numel() for p in ours_model.parameters())

    print(f"parameters: ours {our_params:,} (folded {folded_ours:,}), reference {ref_params:,} "
          f"(folded {folded_params:,}); ours / reference = {our_params / ref_params:.4f}")
    if abs(our_params / ref_params - 1) > 0.03:
        raise SystemExit("the models differ in size by more than 3 %: the comparison would not be like for like")
    parity = check_parity(ours_model, reference, args.n_q)
    print(f"parity with reference weights: {parity['codes_equal_fraction']:.2%} codes equal, decoded audio max "
          f"abs diff {parity['decode_max_abs_diff']:.1e} (peak {parity['decode_max_abs']:.2f})")

    contenders = [our_contender(ours_model, args.n_q, True, our_params)]
    if not args.no_plain:
        contenders.append(our_contender(ours_model, args.n_q, False, our_params))
    contenders += [
        reference_contender(reference, "encodec 0.1.1", "weight norm recomputed each call (as shipped)", ref_params),
        reference_contender(
            reference_folded, "encodec 0.1.1, weight norm removed", f"remove_weight_norm on {folded_layers} layers",
            ref_params,
        ),
    ]
    sample_rate = ours_model.sample_rate
    models: dict[str, Any] = {}
    for contender in contenders:
        models[contender.name] = {
            "params": contender.params,
            "gflop_per_audio_second": flops_per_second(contender, sample_rate),
            "note": contender.note,
        }
    peaks: dict[int, float] = {}
    for threads in args.threads:
        with num_threads(threads):
            peaks[threads] = matmul_gflops()

    result: dict[str, Any] = {
        "benchmark": "codec_speed",
        "date": datetime.date.today().isoformat(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "preset": PRESET,
        "n_q": args.n_q,
        "kbps": kbps,
        "batch": 1,
        "parity": parity,
        "models": models,
        "matmul_gflops": peaks,
        "load_average": {"start": load_average()},
        "rows": [],
        "ratios": [],
        "timings": [],
    }
    modes = ["default", "retain"] if args.allocator == "both" else [args.allocator]
    for mode in modes:
        if mode == "retain" and not retain_freed_memory():
            print("allocator 'retain' needs glibc; skipped")
            continue
        for seconds in args.seconds:
            x = 0.1 * torch.randn(1, 1, int(seconds * sample_rate), generator=torch.Generator().manual_seed(3))
            for threads in args.threads:
                timings, other_load = measure(contenders, x, threads, args.repeats, args.warmup)
                ours_total = timings["ours"]["total"].median
                for contender in contenders:
                    t = timings[contender.name]
                    rtf = t["total"].median / seconds
                    achieved = models[contender.name]["gflop_per_audio_second"]["total"] / rtf
                    result["rows"].append({
                        "allocator": mode, "seconds": seconds, "threads": threads, "model": contender.name,
                        "encode_s": t["encode"].median, "decode_s": t["decode"].median, "total_s": t["total"].median,
                        "total_min_s": t["total"].minimum, "rtf": rtf, "cpu_rtf": t["total"].cpu_median / seconds,
                        "achieved_gflops": achieved, "peak_percent": 100 * achieved / peaks[threads],
                        "other_load_cores": other_load,
                    })
                    result["timings"].append({
                        "allocator": mode, "seconds": seconds, "threads": threads, "model": contender.name,
                        **{part: timing.as_dict() for part, timing in t.items()},
                    })
                result["ratios"].append({
                    "allocator": mode, "seconds": seconds, "threads": threads, "other_load_cores": other_load,
                    "ratios": {c.name: timings[c.name]["total"].median / ours_total for c in contenders[1:]},
                })
                print(f"[{mode}, {seconds:g} s, {threads} thread(s), others' load {_cores(other_load)}] " + ", ".join(
                    f"{c.name} {timings[c.name]['total'].median:.3f} s" for c in contenders
                ), flush=True)
    result["load_average"]["end"] = load_average()
    print()
    print(markdown_tables(result))
    print()
    print(f"load average at start {result['load_average']['start']}, at end {result['load_average']['end']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
