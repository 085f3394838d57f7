"""A codec's card: what it costs to run beside what it gives, per setting, measured on the codec as it is loaded.

People choosing a codec ask for latency, compute and token rate next to the bitrate (the 2025 low-resource codec
challenge caps latency and FLOPs; codec papers tabulate parameters, MACs and real-time factor). A card holds, for
any codec :func:`codecstudy.codec.catalog.open_codec` opens:

* parameters per part (encoder / quantizer / decoder where the model separates them);
* multiply-accumulates per second of audio for encode and decode, counted on the actual modules
  (:mod:`codecstudy.codec.cost`; MACs = FLOPs / 2), or "not counted" with the reason;
* algorithmic latency = frame + look-ahead: computed from the layers of codecstudy models, as documented for the
  others (the source is named), or not stated;
* token rate (frames/s x codebooks) and bits per token; nominal and measured bitrate (bytes of a round trip of a
  10 s speech-like signal);
* streaming support as the codec declares it;
* encode and decode real-time factors at 1 s and 10 s on this machine, one torch thread, warm (one run first),
  median of several runs; classic codecs' libraries code frame by frame inside one call, so theirs is the round
  trip's.

:func:`format_card` prints it for ``codecstudy codec info NAME --card``, :func:`card_json` for ``--json``, and
:func:`card_rows` flattens cards into table rows (one per codec and setting).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy.codec.catalog import adapter_kind, open_codec
from codecstudy.codec.external import KINDS
from codecstudy.codec.interface import Codec, Latency, Streaming
from codecstudy.codec.native import NativeCodec
from codecstudy.errors import CodecStudyError
from codecstudy.files import json_text

RTF_SECONDS: tuple[float, ...] = (1.0, 10.0)
"""Clip lengths at which the real-time factor is measured."""
REPEATS = 3
"""Timed runs per measurement (after one untimed warm-up run); the card reports their median."""
BITRATE_SECONDS = 10.0
"""Length of the round trip whose bytes give the measured bitrate."""
MAC_SECONDS = 1.0
"""Length of the clip whose encode and decode are counted."""


@dataclass(frozen=True)
class LatencyInfo:
    """Frame + look-ahead in samples (at the codec's rate) and milliseconds; ``source`` says where they come from."""

    frame_samples: int | None
    lookahead_samples: int | None
    total_ms: float | None
    source: str


@dataclass(frozen=True)
class RealTimeFactor:
    """Seconds of computation per second of audio (one thread, warm, median); None where not measured."""

    seconds: float
    encode: float | None = None
    decode: float | None = None
    roundtrip: float | None = None


@dataclass(frozen=True)
class SettingCard:
    """One operating point of a codec: rates, latency, compute and speed."""

    setting: str
    label: str
    n_q: int | None
    nominal_bps: float | None
    measured_bps: float | None
    tokens_per_s: float | None
    bits_per_token: int | None
    latency: LatencyInfo
    macs_encode_per_s: float | None
    macs_decode_per_s: float | None
    macs_note: str
    rtf: list[RealTimeFactor] = field(default_factory=list)


@dataclass(frozen=True)
class CodecCard:
    """Everything a reader needs to weigh a codec's cost against its bitrate, per setting."""

    codec: str
    kind: str
    name: str
    sample_rate: int
    frame_rate: float | None
    codebook_size: int | None
    has_tokens: bool
    parameters: dict[str, int] | None
    streaming: Streaming
    bitrate_counts: str
    weights: str
    settings: list[SettingCard]
    measured_on: dict[str, Any]


# ------------------------------------------------------------------------------------------------- opening
def check_codec_name(name: str) -> None:
    """Fail with one line naming what a codec can be when ``name`` is none of them (before any loading)."""
    path = Path(name)
    if adapter_kind(name) or path.exists() or path.suffix or "/" in name or name.startswith("espnet:"):
        return  # an adapter, or a file that load_codec opens or reports as missing
    from codecstudy.codec.presets import preset_names

    if name in preset_names():
        return
    raise CodecStudyError(
        f"unknown codec {name!r}: name a kind ({', '.join(KINDS)}, e.g. opus:6kbps), a preset "
        f"({', '.join(preset_names())}), a checkpoint or codec YAML file, or espnet:PATH"
    )


def open_for_card(name: str) -> Codec:
    """The codec ``name`` as a study would open it, after :func:`check_codec_name`."""
    check_codec_name(name)
    return open_codec(name)


# ------------------------------------------------------------------------------------------------ measuring
def probe_signal(seconds: float, sample_rate: int) -> np.ndarray:
    """A speech-like test signal (harmonics under a syllable-rate envelope, a little noise), seeded, 1-D float32."""
    from codecstudy.bench.harness import speechy_batch  # torch, lazy: `codec info` of a classic codec stays light

    return speechy_batch(1, max(1, round(seconds * sample_rate)), sample_rate)[0, 0].numpy()


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """Wall seconds of ``fn()``: one untimed warm-up run, then the median of ``repeats`` timed runs."""
    fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_rtf(codec: Codec, setting: str, seconds: float, repeats: int) -> RealTimeFactor:
    """Encode and decode RTF of a ``seconds`` clip (token codecs), else the round trip's."""
    wave = probe_signal(seconds, codec.sample_rate)
    duration = wave.size / codec.sample_rate
    if not codec.has_tokens:
        return RealTimeFactor(seconds, roundtrip=median_seconds(lambda: codec.roundtrip(wave, setting), repeats)
                              / duration)
    codes = codec.encode(wave, setting)
    encode = median_seconds(lambda: codec.encode(wave, setting), repeats) / duration
    decode = median_seconds(lambda: codec.decode(codes, setting, wave.size), repeats) / duration
    return RealTimeFactor(seconds, encode=encode, decode=decode, roundtrip=encode + decode)


def codec_latency(codec: Codec, setting: str) -> LatencyInfo:
    """Computed from the layers for codecstudy models, as declared for the others, else "not stated"."""
    from codecstudy.codec.cost import seanet_latency  # torch (see probe_signal)

    latency: Latency | None
    if isinstance(codec, NativeCodec):
        try:
            latency = seanet_latency(codec.model)
        except (ValueError, AttributeError) as exc:
            return LatencyInfo(None, None, None, f"not computed: {exc}")
    else:
        latency = codec.declared_latency(setting)
    if latency is None:
        reason = codec.streaming().reason if not codec.streaming().decode else "the codec states none"
        return LatencyInfo(None, None, None, f"not stated ({reason})")
    total = None if latency.lookahead is None else (latency.frame + latency.lookahead) * 1000 / codec.sample_rate
    return LatencyInfo(latency.frame, latency.lookahead, total, latency.source)


def token_rate(codec: Codec, n_q: int | None, nominal_bps: float | None) -> tuple[float | None, int | None]:
    """(tokens per second, bits per token) of a token codec: frames/s x codebooks at ceil(log2(codebook size))
    bits; where codebooks run at several rates (SNAC), the nominal bitrate / bits per token."""
    if not codec.has_tokens or not codec.codebook_size:
        return None, None
    bits = max(1, math.ceil(math.log2(codec.codebook_size)))
    if n_q is not None and codec.frame_rate:
        return codec.frame_rate * n_q, bits
    return (None if nominal_bps is None else nominal_bps / bits), bits


def _machine(load_before: tuple[float, ...] | None) -> dict[str, Any]:
    import torch  # lazy (see probe_signal)

    from codecstudy.bench.harness import load_average, machine_info  # torch

    info = machine_info()
    return {"cpu": info["cpu"], "logical_cpus": info["logical_cpus"], "torch": info["torch"],
            "cpu_capability": info["cpu_capability"], "torch_threads": 1, "load_average_before": load_before,
            "load_average_after": load_average(), "interop_threads": torch.get_num_interop_threads()}


def codec_card(codec: Codec, settings: Sequence[str] | None = None, *, timing: bool = True,
               rtf_seconds: Sequence[float] | None = None, repeats: int | None = None) -> CodecCard:
    """Measure a card for ``codec`` at ``settings`` (default: the codec's default settings).

    Everything runs with one torch thread (restored afterwards); ``timing=False`` skips the real-time factors
    (the rest is not timed and does not depend on the machine's load).
    """
    from codecstudy.bench.harness import load_average, num_threads  # torch (see probe_signal)
    from codecstudy.codec.cost import codec_macs, parameter_counts  # torch

    names = [codec.setting(s).name for s in (settings or codec.default_settings())]
    rtf_seconds = RTF_SECONDS if rtf_seconds is None else tuple(rtf_seconds)
    repeats = REPEATS if repeats is None else repeats
    load_before = load_average()
    mac_wave = probe_signal(MAC_SECONDS, codec.sample_rate)
    rate_wave = probe_signal(BITRATE_SECONDS, codec.sample_rate)
    cards = []
    with num_threads(1):
        for name in names:
            s = codec.setting(name)
            trip = codec.roundtrip(rate_wave, name)
            macs = codec_macs(codec, name, mac_wave)
            tokens, bits = token_rate(codec, s.n_q, s.nominal_bps)
            rtf = [measure_rtf(codec, name, sec, repeats) for sec in rtf_seconds] if timing else []
            cards.append(SettingCard(
                setting=name, label=s.label, n_q=s.n_q, nominal_bps=s.nominal_bps,
                measured_bps=trip.measured_bps(rate_wave.size, codec.sample_rate), tokens_per_s=tokens,
                bits_per_token=bits, latency=codec_latency(codec, name), macs_encode_per_s=macs.encode,
                macs_decode_per_s=macs.decode, macs_note=macs.note, rtf=rtf,
            ))
        machine = _machine(load_before)
    return CodecCard(
        codec=codec.source, kind=codec.kind, name=codec.name, sample_rate=codec.sample_rate,
        frame_rate=codec.frame_rate, codebook_size=codec.codebook_size, has_tokens=codec.has_tokens,
        parameters=parameter_counts(codec), streaming=codec.streaming(), bitrate_counts=codec.bitrate_counts,
        weights=codec.weights(), settings=cards, measured_on=machine if timing else {**machine, "timing": "skipped"},
    )


def card_text(name: str, *, as_json: bool = False, settings: str | None = None) -> str:
    """``codecstudy codec info NAME --card|--json``: open, measure, format (``settings``: comma-separated names)."""
    codec = open_for_card(name)
    chosen = [s.strip() for s in settings.split(",") if s.strip()] if settings else None
    card = codec_card(codec, chosen)
    return card_json(card).rstrip("\n") if as_json else format_card(card)


# ------------------------------------------------------------------------------------------------ output
def card_dict(card: CodecCard) -> dict[str, Any]:
    return dataclasses.asdict(card)


def card_json(card: CodecCard) -> str:
    """The card as JSON (``codecstudy codec info NAME --json``)."""
    return json_text(card_dict(card))


def _num(value: float | None, digits: int = 3, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value / scale:.{digits}g}"


def _rtf_cell(r: RealTimeFactor) -> str:
    if r.encode is not None and r.decode is not None:
        return f"{r.encode:.3g} / {r.decode:.3g}"
    return f"{_num(r.roundtrip)} (round trip)"


def _latency_cell(lat: LatencyInfo) -> str:
    if lat.frame_samples is None:
        return "-"
    ahead = "?" if lat.lookahead_samples is None else str(lat.lookahead_samples)
    total = "" if lat.total_ms is None else f" = {lat.total_ms:.3g} ms"
    return f"{lat.frame_samples} + {ahead}{total}"


def _parameters_line(parameters: dict[str, int] | None) -> str:
    if parameters is None:
        return "none (a classic codec)"
    parts = ", ".join(f"{k} {v / 1e6:.3g} M" for k, v in parameters.items() if k not in ("total", "quantizer_buffers"))
    text = f"{parameters['total'] / 1e6:.3g} M" + (f" ({parts})" if parts else "")
    if "quantizer_buffers" in parameters:
        buffers = parameters["quantizer_buffers"] / 1e6
        text += f" + {buffers:.3g} M quantizer buffer values (EMA codebooks, their statistics)"
    return text


def format_card(card: CodecCard) -> str:
    """The card as readable text: a header of facts, then one table row per setting."""
    frame_rate = "n/a" if card.frame_rate is None else f"{card.frame_rate:g} frames/s"
    tokens = f"codebooks of {card.codebook_size}" if card.codebook_size else ("yes" if card.has_tokens else "no")
    s = card.streaming
    machine = card.measured_on
    loads = [machine.get("load_average_before"), machine.get("load_average_after")]
    load_text = " -> ".join("?" if lv is None else f"{lv[0]:.2f}" for lv in loads)
    notes = sorted({c.macs_note for c in card.settings})
    sources = sorted({c.latency.source for c in card.settings})
    lines = [
        f"codec:          {card.codec} ({card.kind}: {card.name})",
        f"sample rate:    {card.sample_rate} Hz, {frame_rate}",
        f"tokens:         {tokens}",
        f"parameters:     {_parameters_line(card.parameters)}",
        f"streaming:      encode {'yes' if s.encode else 'no'}, decode {'yes' if s.decode else 'no'}: {s.reason}",
        f"latency:        frame + look-ahead samples; {'; '.join(sources)}",
        f"MACs:           {'; '.join(notes)}",
        f"bitrate counts: {card.bitrate_counts} (measured on a {BITRATE_SECONDS:g} s round trip)",
        f"weights:        {card.weights}",
        f"measured on:    {machine.get('cpu')}, torch {machine.get('torch')}, 1 thread, load average {load_text}"
        + (" (timing skipped)" if machine.get("timing") == "skipped" else ""),
        "",
    ]
    seconds = [r.seconds for r in card.settings[0].rtf] if card.settings and card.settings[0].rtf else []
    header = ["setting", "nominal kbps", "measured kbps", "tokens/s", "bits/token", "latency samples",
              "MMACs/s enc", "MMACs/s dec"] + [f"RTF {sec:g} s enc / dec" for sec in seconds]
    rows = [[c.setting, _num(c.nominal_bps, 4, 1000), _num(c.measured_bps, 4, 1000), _num(c.tokens_per_s, 4),
             "-" if c.bits_per_token is None else str(c.bits_per_token), _latency_cell(c.latency),
             _num(c.macs_encode_per_s, 4, 1e6), _num(c.macs_decode_per_s, 4, 1e6)]
            + [_rtf_cell(r) for r in c.rtf] for c in card.settings]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    for row in [header, ["-" * w for w in widths], *rows]:
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


ROW_FIELDS = (
    "codec", "kind", "setting", "n_q", "sample_rate", "nominal_bps", "measured_bps", "tokens_per_s", "bits_per_token",
    "frame_samples", "lookahead_samples", "latency_ms", "latency_source", "macs_encode_per_s", "macs_decode_per_s",
    "macs_note", "params_total", "params_encoder", "params_quantizer", "params_decoder", "streaming_encode",
    "streaming_decode", "rtf_encode_1s", "rtf_decode_1s", "rtf_roundtrip_1s", "rtf_encode_10s", "rtf_decode_10s",
    "rtf_roundtrip_10s", "load_average",
)
"""Columns of :func:`card_rows` (a future ``tables/codecs.csv``), in order."""


def card_rows(cards: Sequence[CodecCard]) -> list[dict[str, Any]]:
    """One flat row per codec and setting with the columns :data:`ROW_FIELDS` (None where a value does not exist;
    real-time factors at lengths other than 1 s and 10 s are left out)."""
    rows = []
    for card in cards:
        params = card.parameters or {}
        load = card.measured_on.get("load_average_before")
        for c in card.settings:
            row: dict[str, Any] = dict.fromkeys(ROW_FIELDS)
            row.update(
                codec=card.name if card.kind == "native" else card.codec, kind=card.kind, setting=c.setting,
                n_q=c.n_q, sample_rate=card.sample_rate, nominal_bps=c.nominal_bps, measured_bps=c.measured_bps,
                tokens_per_s=c.tokens_per_s, bits_per_token=c.bits_per_token, frame_samples=c.latency.frame_samples,
                lookahead_samples=c.latency.lookahead_samples, latency_ms=c.latency.total_ms,
                latency_source=c.latency.source, macs_encode_per_s=c.macs_encode_per_s,
                macs_decode_per_s=c.macs_decode_per_s, macs_note=c.macs_note, params_total=params.get("total"),
                params_encoder=params.get("encoder"), params_quantizer=params.get("quantizer"),
                params_decoder=params.get("decoder"), streaming_encode=card.streaming.encode,
                streaming_decode=card.streaming.decode, load_average=None if load is None else round(load[0], 2),
            )
            for r in c.rtf:
                if r.seconds in (1.0, 10.0):
                    tag = f"{r.seconds:g}s"
                    row[f"rtf_encode_{tag}"], row[f"rtf_decode_{tag}"] = r.encode, r.decode
                    row[f"rtf_roundtrip_{tag}"] = r.roundtrip
            rows.append(row)
    return rows
