"""What running a codec costs, read off its actual torch modules: parameters per part, multiply-accumulates per second
of audio, and the look-ahead of a SEANet encoder/decoder computed from its layers.

Why counted and not declared: a card's numbers must follow the model that is loaded (a checkpoint of another size, a
preset edited by hand), so MACs come from ``torch.utils.flop_counter.FlopCounterMode`` running the codec's own
encode and decode, and the look-ahead from the kernel, dilation, stride and padding of the layers themselves.
Classic codecs run in C libraries that no counter sees: their MACs are "not counted", never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from codecstudy.bench.harness import count_flops
from codecstudy.codec.external.neural import NeuralCodec
from codecstudy.codec.interface import Codec, Latency
from codecstudy.codec.seanet import kernels

MAC_CONVENTION = (
    "MACs = FLOPs / 2 as torch.utils.flop_counter.FlopCounterMode counts them on the codec's own encode and decode "
    "(matrix products and convolutions, whole computed outputs; bias adds, activations and other elementwise work "
    "not counted); LSTM products added by formula, which the counter cannot see on CPU; codecstudy models with "
    "their plain layers (the inference kernels compute the same function)"
)


@dataclass(frozen=True)
class MacCount:
    """Multiply-accumulates per second of audio for encoding and decoding, or None with the reason in ``note``."""

    encode: float | None
    decode: float | None
    note: str


def torch_model(codec: Codec) -> nn.Module | None:
    """The torch module behind a codec (codecstudy models and the neural adapters keep it as ``model``), else None."""
    model = getattr(codec, "model", None)
    return model if isinstance(model, nn.Module) else None


@contextmanager
def plain_layers() -> Iterator[None]:
    """Run SEANet layers as plain convolutions for the block (counting must not see the inference kernels' extra
    head/tail convolutions, an implementation detail), restoring the switch afterwards."""
    before = kernels.FAST_INFERENCE
    kernels.FAST_INFERENCE = False
    try:
        yield
    finally:
        kernels.FAST_INFERENCE = before


def count_macs(fn: Callable[[], Any]) -> int:
    """Multiply-accumulates of one call of ``fn`` (FLOPs / 2, LSTMs included), plain layers."""
    with plain_layers():
        return count_flops(fn).total // 2


def codec_macs(codec: Codec, setting: str, wave: np.ndarray) -> MacCount:
    """MACs per second of audio of encoding ``wave`` at ``setting`` and decoding its codes; "not counted" with the
    reason for codecs without a torch model or whose modules the counter cannot run."""
    if torch_model(codec) is None:
        return MacCount(None, None, "not counted: a classic codec (its C library is no torch module to count)")
    if not codec.has_tokens:
        return MacCount(None, None, "not counted: no separate encode and decode to count")
    seconds = wave.size / codec.sample_rate
    try:
        encode_call, decode_call = _coding_calls(codec, setting, wave)
        encode = count_macs(encode_call)
        decode = count_macs(decode_call)
    except Exception as exc:  # noqa: BLE001 - any failure of the counter means "not counted", with its reason
        first = (str(exc).strip().splitlines() or [""])[0]
        return MacCount(None, None, f"not counted: FlopCounterMode failed ({type(exc).__name__}: {first})")
    return MacCount(encode / seconds, decode / seconds, MAC_CONVENTION)


def _coding_calls(codec: Codec, setting: str, wave: np.ndarray) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The encode and decode calls to count. For the pretrained adapters these are the package model's own calls
    (``_encode``/``_decode``) outside the adapter's ``inference_mode``, under which FlopCounterMode cannot read
    parametrized weight-norm weights (SNAC); :func:`count_flops` runs them under ``no_grad``."""
    if isinstance(codec, NeuralCodec):
        chosen = codec.setting(setting)
        batch = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)).view(1, 1, -1)
        with torch.no_grad():
            codes = codec._encode(batch, chosen)
        return (lambda: codec._encode(batch, chosen)), (lambda: codec._decode(codes, chosen))
    codes = codec.encode(wave, setting)
    return (lambda: codec.encode(wave, setting)), (lambda: codec.decode(codes, setting, wave.size))


def parameter_counts(codec: Codec) -> dict[str, int] | None:
    """Trainable parameters per part (``encoder``, ``quantizer``, ``decoder`` where the model has them, ``other``
    for the rest, ``total``), plus ``quantizer_buffers``: floating-point buffers of the quantizer (EMA codebooks and
    their statistics, which are not parameters). None for codecs without a torch model."""
    model = torch_model(codec)
    if model is None:
        return None
    counts: dict[str, int] = {}
    for part in ("encoder", "quantizer", "decoder"):
        module = getattr(model, part, None)
        if isinstance(module, nn.Module):
            counts[part] = sum(p.numel() for p in module.parameters())
    total = sum(p.numel() for p in model.parameters())
    if counts and total - sum(counts.values()):
        counts["other"] = total - sum(counts.values())
    counts["total"] = total
    quantizer = getattr(model, "quantizer", None)
    if isinstance(quantizer, nn.Module):
        buffers = sum(b.numel() for b in quantizer.buffers() if b.is_floating_point())
        if buffers:
            counts["quantizer_buffers"] = buffers
    return counts


# ------------------------------------------------------------------------------------------------ latency
def last_input_needed(layer: nn.Module, t: int) -> int:
    """Index of the last input step that output step ``t`` of one SEANet layer reads (far from the signal's ends).

    The layer is recognised by what it holds, not by its class, so this reads any stack of such layers: a padded
    conv (``conv``, ``pad_left``, ``stride``), a trimmed transposed conv (``convtr``, ``trim_left``), a residual unit
    (``conv1``, ``conv2``, ``shortcut``), a unidirectional LSTM (``lstm``) or a pointwise activation (``fn``).
    """
    convtr = getattr(layer, "convtr", None)
    if isinstance(convtr, nn.ConvTranspose1d):
        # Untrimmed output u = t + trim_left sums input frames i with 0 <= u - i * stride < kernel.
        return (t + int(layer.trim_left)) // int(layer.stride)
    conv = getattr(layer, "conv", None)
    if isinstance(conv, nn.Conv1d) and hasattr(layer, "pad_left"):
        return t * conv.stride[0] - int(layer.pad_left) + (conv.kernel_size[0] - 1) * conv.dilation[0]
    if hasattr(layer, "conv1") and hasattr(layer, "conv2"):
        through = last_input_needed(layer.conv1, last_input_needed(layer.conv2, t))
        shortcut = getattr(layer, "shortcut", None)
        return max(through, t if shortcut is None else last_input_needed(shortcut, t))
    lstm = getattr(layer, "lstm", None)
    if isinstance(lstm, nn.LSTM):
        if lstm.bidirectional:
            raise ValueError("a bidirectional LSTM reads the whole signal: no finite look-ahead")
        return t
    if hasattr(layer, "fn"):
        return t
    raise ValueError(f"cannot follow the time dependency of layer {type(layer).__name__}")


def stack_last_input(layers: Sequence[nn.Module], t: int) -> int:
    """:func:`last_input_needed` through layers applied in order (walked from the last to the first)."""
    for layer in reversed(list(layers)):
        t = last_input_needed(layer, t)
    return t


def seanet_right_context(model: nn.Module) -> int:
    """Samples past an output sample that decoding it needs from the input, at worst, through encoder and decoder.

    The dependency repeats every hop (the stacks' total stride), so one hop of output positions far from the
    start is enough; the quantizer and the LSTMs work frame by frame on the past only.
    """
    hop = int(model.hop_length)
    start = 1000 * hop
    return max(stack_last_input(model.encoder.layers, stack_last_input(model.decoder.layers, t)) - t
               for t in range(start, start + hop))


def seanet_latency(model: nn.Module) -> Latency:
    """Algorithmic latency of a codecstudy model from its layers: right context R -> latency R + 1 samples (the
    sample itself and everything after it that it waits for), split into the frame (hop) and the look-ahead."""
    hop = int(model.hop_length)
    latency = seanet_right_context(model) + 1
    kind = "causal" if getattr(model, "causal", False) else "non-causal"
    return Latency(hop, latency - hop, f"computed from the {kind} encoder and decoder layers (kernel, dilation, "
                   "stride, padding): frame = hop, look-ahead = the right context past it")
