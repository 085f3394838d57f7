"""SEANet encoder and decoder (SoundStream, EnCodec, and with Snake + wide decoder, DAC).

Three properties shape this module:

* **Batches with lengths give the same result as clips alone.** Every conv pads itself, and when a batch carries
  per-item lengths the right-hand padding of each item is rebuilt at that item's own end (zeros, or a reflection of
  its own samples) instead of reading the next item's padding. Transposed convs see zeros past an item's end, as a
  clip alone would see no frames there. LSTMs are unidirectional, so padding after an item cannot reach it.
* **Causal decoders stream exactly.** Each layer has a ``stream(x, state)`` method that keeps what the next chunk
  needs (conv input history, transposed-conv overlap, LSTM hidden state) in a caller-owned dict, so chunked decoding
  equals offline decoding to float rounding.
* **Inference is cheap.** Weight norm is a parametrization that :func:`fold_weight_norm` removes, after which every
  layer is a plain conv; padding uses ``F.pad`` unless lengths differ across the batch. When no gradient is
  recorded (``encode``/``decode`` run under ``torch.inference_mode``), layers switch to equivalent kernels that
  move less memory on CPU (see :func:`fast_kernels_active`); training and export tracing use the plain layers.

Strided layers assume their input length is a multiple of the stride; the models pad waveforms to a multiple of
the hop length before encoding, which guarantees it and makes ``frames = ceil(samples / hop)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from codecstudy.codec.config import SEANetConfig

StreamState = dict[Any, Any]
"""Per-layer streaming state, keyed by module; owned by the caller so one model can serve several streams."""

FAST_INFERENCE = True
"""Use the inference kernels below when no gradient is recorded; set False to run the plain layers instead (to
check that both compute the same function, or to measure what the kernels gain)."""


RESIDUAL_BLOCK = 8192
"""Time steps per block when a residual unit runs block by block at inference (inputs longer than two blocks)."""


def fast_kernels_active() -> bool:
    """True when layers may take their inference-only kernels.

    Those kernels compute the same function as the plain layers (up to float rounding) with fewer passes over
    memory and fewer large allocations: convolutions pad inside the conv instead of copying the input, transposed
    convolutions become one dense conv (polyphase form), residual units run block by block with their two 1x1
    convs and their sum as one conv, and activations overwrite their input. They write into intermediate tensors
    in place, so they are only taken without autograd, and not while tracing for export, whose graph must be the
    plain one that ONNX and TorchScript runtimes know.
    """
    return FAST_INFERENCE and not torch.is_grad_enabled() and not torch.jit.is_tracing()


def time_mask(lengths: Tensor, size: int) -> Tensor:
    """``[B, 1, size]`` boolean mask, True inside each item's length."""
    steps = torch.arange(size, device=lengths.device)
    return (steps[None, :] < lengths[:, None]).unsqueeze(1)


def reflect_index(positions: Tensor, lengths: Tensor) -> Tensor:
    """Source index of each position under reflect padding of a signal of length ``lengths[b]``.

    The reflection is extended periodically, so it is defined for any pad width and any length >= 1; wherever
    ``F.pad(mode="reflect")`` is defined the two agree.
    """
    length = lengths.clamp(min=1)[:, None]
    period = (2 * (length - 1)).clamp(min=1)
    r = torch.remainder(positions[None, :], period)
    return torch.where(r < length, r, period - r)


def pad1d(x: Tensor, left: int, right: int, mode: str, lengths: Tensor | None = None) -> Tensor:
    """Pad the time axis; with ``lengths``, each item is padded as if it ended at its own length."""
    if left == 0 and right == 0:
        return x
    if mode == "constant":
        if lengths is not None and right > 0:
            x = x * time_mask(lengths, x.shape[-1]).to(x.dtype)
        return F.pad(x, (left, right))
    size = x.shape[-1]
    if lengths is None:
        if size > max(left, right):
            return F.pad(x, (left, right), mode="reflect")
        lengths = torch.full((x.shape[0],), size, dtype=torch.long, device=x.device)
    positions = torch.arange(-left, size + right, device=x.device)
    index = reflect_index(positions, lengths.to(x.device))
    return x.gather(2, index[:, None, :].expand(x.shape[0], x.shape[1], index.shape[-1]))


def _maybe_weight_norm(module: nn.Module, norm: str) -> nn.Module:
    return weight_norm(module) if norm == "weight_norm" else module


class SConv1d(nn.Module):
    """Conv1d that pads itself: all on the left when causal, centred otherwise (extra sample on the left)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        *,
        causal: bool = False,
        pad_mode: str = "reflect",
        norm: str = "weight_norm",
    ) -> None:
        super().__init__()
        effective = (kernel_size - 1) * dilation + 1
        total = effective - stride
        if total < 0:
            raise ValueError(f"kernel {kernel_size} (dilation {dilation}) shorter than stride {stride}")
        self.conv = _maybe_weight_norm(
            nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation), norm
        )
        self.stride = stride
        self.causal = causal
        self.pad_mode = pad_mode
        self.pad_left, self.pad_right = (total, 0) if causal else (total - total // 2, total // 2)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if lengths is None and fast_kernels_active() and x.shape[-1] >= self._min_fast_size():
            return self._forward_fast(x)
        return self.conv(pad1d(x, self.pad_left, self.pad_right, self.pad_mode, lengths))

    def _min_fast_size(self) -> int:
        """Input length from which :meth:`_forward_fast` is correct and worth it.

        Correct: the head and tail corrections must not overlap. Worth it: with reflect padding the corrections are
        extra conv calls, each of which makes the conv library re-layout the whole weight, so the padding copy they
        replace (input channels x length) must outweigh the weight (input x output channels x kernel).
        """
        conv = self.conv
        effective = (conv.kernel_size[0] - 1) * conv.dilation[0] + 1
        size = 2 * (effective + self.stride) + self.pad_left + self.pad_right
        if self.pad_mode == "reflect":
            size = max(size, conv.out_channels * conv.kernel_size[0])
        return size

    def _forward_fast(self, x: Tensor) -> Tensor:
        """The same output without materialising the padded input.

        ``F.pad`` copies the whole input once per conv, which at the outer layers (32 channels at the sample rate)
        costs about as much as a 3-tap conv. Here the conv pads with zeros internally (``padding=pad_left`` on both
        sides, outputs past the wanted ones dropped); with reflect padding only the few outputs whose window reaches
        into the padding differ, and they are recomputed from a short reflect-padded head (and tail) and written
        over. The result may be a view with a longer row stride; the next layers accept it as it is.
        """
        conv = self.conv
        weight, bias = conv.weight, conv.bias
        stride, dilation = self.stride, conv.dilation[0]
        left, right = self.pad_left, self.pad_right
        size = x.shape[-1]
        effective = (conv.kernel_size[0] - 1) * dilation + 1
        n_out = (size + left + right - effective) // stride + 1
        y = F.conv1d(x, weight, bias, stride, left, dilation)
        if y.shape[-1] != n_out:
            y = y[..., :n_out]
        if self.pad_mode == "reflect":
            n_head = -(-left // stride)  # outputs whose window starts inside the left padding
            if n_head:
                # Those outputs read this many input samples; the reflection itself needs left + 1.
                need = max((n_head - 1) * stride + effective - left, left + 1)
                head = F.pad(x[..., :need], (left, 0), mode="reflect")
                y[..., :n_head] = F.conv1d(head, weight, bias, stride, 0, dilation)[..., :n_head]
            if right:
                first = -(-(left + size - effective + 1) // stride)  # first output reaching the right padding
                start = first * stride - left
                tail = F.pad(x[..., start:], (0, right), mode="reflect")
                y[..., first:] = F.conv1d(tail, weight, bias, stride, 0, dilation)
        return y

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        if not self.causal or self.stride != 1:
            raise RuntimeError("streaming needs causal, stride-1 convolutions")
        history = state.get(self)
        if history is None:
            if self.pad_mode == "reflect" and x.shape[-1] <= self.pad_left:
                raise ValueError(
                    f"reflect padding needs a first chunk longer than {self.pad_left} steps at this layer; "
                    "send a longer first chunk or use pad_mode: constant"
                )
            padded = pad1d(x, self.pad_left, 0, self.pad_mode)
        else:
            padded = torch.cat([history, x], dim=-1)
        if self.pad_left:
            state[self] = padded[..., padded.shape[-1] - self.pad_left :]
        return self.conv(padded)


class SConvTranspose1d(nn.Module):
    """Transposed conv trimmed to exactly ``stride`` outputs per input step (causal: trim on the right only)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, *, causal: bool, norm: str
    ) -> None:
        super().__init__()
        if kernel_size < stride:
            raise ValueError(f"kernel {kernel_size} shorter than stride {stride}")
        self.convtr = _maybe_weight_norm(nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride), norm)
        self.stride = stride
        self.causal = causal
        total = kernel_size - stride
        self.trim_left, self.trim_right = (0, total) if causal else (total - total // 2, total // 2)
        self._phase_cache: tuple[Any, ...] | None = None  # (key, (weight, bias), phases, phase bias)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if lengths is not None and not self.causal:
            # Frames past an item's end would leak into its last outputs; alone, that item has no such frames.
            x = x * time_mask(lengths, x.shape[-1]).to(x.dtype)
        if fast_kernels_active():
            return self._forward_polyphase(x)
        y = self.convtr(x)
        return y[..., self.trim_left : y.shape[-1] - self.trim_right]

    def _forward_polyphase(self, x: Tensor) -> Tensor:
        """The transposed conv as one ordinary conv with ``stride`` times the output channels, then interleaved.

        Output sample ``t * stride + r`` is ``sum_j x[t - j] @ W[..., j * stride + r]``: for each phase r a plain
        conv over input frames with ``ceil(K / stride)`` taps. Stacking the phases as output channels makes one dense
        conv (a large matrix product), where PyTorch's CPU transposed conv scatters into an oversized buffer and
        copies it out; on the outer, wide-in-time layers this is 2-3x faster.
        """
        phases, phase_bias = self._phase_weights()
        stride, c_out, taps = self.stride, phases.shape[0] // self.stride, phases.shape[-1]
        batch, _, frames = x.shape
        extra = -(-self.trim_left // stride)  # frames past the end that the kept outputs still read (non-causal)
        y = F.conv1d(x, phases, phase_bias, padding=taps - 1)[..., : frames + extra]
        y = y.unflatten(1, (c_out, stride)).transpose(2, 3).reshape(batch, c_out, (frames + extra) * stride)
        return y[..., self.trim_left : self.trim_left + frames * stride]

    def _phase_weights(self) -> tuple[Tensor, Tensor | None]:
        """``[C_out * stride, C_in, taps]`` weight and bias of the polyphase conv.

        Rearranging the weight copies it (8 MB for EnCodec's first decoder layer), which for short inputs costs more
        than the conv; once weight norm is folded the weights are fixed tensors, so the result is kept until the
        weight or bias is replaced, moved or modified in place.
        """
        conv = self.convtr
        weight, bias = conv.weight, conv.bias  # [C_in, C_out, K]
        # A parametrized weight is recomputed on every access, and inference tensors have no version counter:
        # neither can be cached safely.
        cacheable = not parametrize.is_parametrized(conv, "weight") and not any(
            t is not None and t.is_inference() for t in (weight, bias)
        )
        # Identity, storage and version of both: in-place updates bump the version, .to()/.data swaps the storage.
        # The cache keeps the tensors themselves alive, so their ids cannot be reused by other tensors.
        key = tuple((id(t), t.data_ptr(), t._version) if t is not None else None for t in (weight, bias)) \
            if cacheable else None
        cache = self._phase_cache
        if key is not None and cache is not None and cache[0] == key:
            return cache[2], cache[3]
        stride = self.stride
        c_in, c_out, kernel = weight.shape
        taps = -(-kernel // stride)
        padded = F.pad(weight, (0, taps * stride - kernel)) if taps * stride != kernel else weight
        # Kernel tap j * stride + r multiplies frame t - j; conv1d wants the oldest frame first, hence the flip.
        phases = padded.reshape(c_in, c_out, taps, stride).flip(2).permute(1, 3, 0, 2)
        phases = phases.reshape(c_out * stride, c_in, taps)
        phase_bias = None if bias is None else bias.repeat_interleave(stride)
        if key is not None:
            self._phase_cache = (key, (weight, bias), phases, phase_bias)
        return phases, phase_bias

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        if not self.causal:
            raise RuntimeError("streaming needs a causal decoder")
        conv = self.convtr
        # Bias is added once per output below; the overlap carried to the next chunk must not include it.
        y = F.conv_transpose1d(x, conv.weight, None, self.stride)
        tail = state.get(self)
        if tail is not None:
            y = torch.cat([y[..., : tail.shape[-1]] + tail, y[..., tail.shape[-1] :]], dim=-1)
        n_out = x.shape[-1] * self.stride
        state[self] = y[..., n_out:]
        out = y[..., :n_out]
        if conv.bias is not None:
            out = out + conv.bias[None, :, None]
        return out


class Snake1d(nn.Module):
    """Snake activation ``x + sin^2(a x) / a`` with a learned frequency per channel (DAC); suits periodic audio."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        s = torch.sin(self.alpha * x)
        return x + (self.alpha + 1e-9).reciprocal() * (s * s)


class Activation(nn.Module):
    """Pointwise activation with the layer interface (``lengths`` ignored, stateless in streaming)."""

    def __init__(self, kind: str, channels: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "elu":
            self.fn: nn.Module = nn.ELU()
        elif kind == "snake":
            self.fn = Snake1d(channels)
        elif kind == "tanh":
            self.fn = nn.Tanh()
        elif kind == "none":
            self.fn = nn.Identity()
        else:
            raise ValueError(f"unknown activation {kind!r}")

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.fn(x)

    def inplace(self, x: Tensor) -> Tensor:
        """The activation written over ``x`` where that is possible (ELU), saving a full-size allocation.

        Only for tensors the caller owns and will not read again, and only without autograd.
        """
        if self.kind == "elu":
            return F.elu_(x)
        return self.fn(x)

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        return self.fn(x)


class ResidualUnit(nn.Module):
    """act -> dilated conv -> act -> 1x1 conv, plus a shortcut (identity when ``true_skip``)."""

    def __init__(self, dim: int, dilation: int, cfg: SEANetConfig) -> None:
        super().__init__()
        hidden = max(1, dim // cfg.compress)
        conv = {"causal": cfg.causal, "pad_mode": cfg.pad_mode, "norm": cfg.norm}
        self.act1 = Activation(cfg.activation, dim)
        self.conv1 = SConv1d(dim, hidden, cfg.residual_kernel_size, dilation=dilation, **conv)
        self.act2 = Activation(cfg.activation, hidden)
        self.conv2 = SConv1d(hidden, dim, 1, **conv)
        self.shortcut = None if cfg.true_skip else SConv1d(dim, dim, 1, **conv)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if fast_kernels_active() and self._pointwise_tail():
            if lengths is None:
                return self._forward_blocked(x)
            return self._tail(x, self.act2.inplace(self.conv1(self.act1(x), lengths)))
        y = self.conv2(self.act2(self.conv1(self.act1(x), lengths)))
        return (x if self.shortcut is None else self.shortcut(x)) + y

    def _pointwise_tail(self) -> bool:
        return (
            self.conv2.conv.kernel_size[0] == 1
            and self.conv1.stride == 1
            and (self.shortcut is None or self.shortcut.conv.kernel_size[0] == 1)
        )

    def _tail_params(self) -> tuple[Tensor, Tensor | None]:
        """Weight and bias of ``shortcut(x) + conv2(hidden)`` as one 1x1 conv over ``[x; hidden]``.

        One matrix product with a deeper reduction instead of two products and a sum: a single output tensor is
        written, and the wider input keeps the kernel efficient at 16-64 channels. With an identity shortcut the
        weight is conv2's alone and ``x`` is added afterwards.
        """
        conv2 = self.conv2.conv
        if self.shortcut is None:
            return conv2.weight, conv2.bias
        short = self.shortcut.conv
        bias = conv2.bias
        if short.bias is not None:
            bias = short.bias if bias is None else short.bias + bias
        return torch.cat([short.weight, conv2.weight], dim=1), bias

    def _tail(self, x: Tensor, hidden: Tensor, params: tuple[Tensor, Tensor | None] | None = None) -> Tensor:
        weight, bias = params or self._tail_params()
        # dilation=2 is a no-op for a 1x1 kernel; it makes PyTorch use oneDNN, which is faster on one thread than
        # the BLAS path it takes for plain 1x1 convs.
        if self.shortcut is None:
            return F.conv1d(hidden, weight, bias, dilation=2).add_(x)
        return F.conv1d(torch.cat([x, hidden], dim=1), weight, bias, dilation=2)

    def _forward_blocked(self, x: Tensor) -> Tensor:
        """The whole unit, :data:`RESIDUAL_BLOCK` time steps at a time (no lengths: every item has them all).

        Layer by layer, the outer units (16-64 channels at the full rate) stream several full-size intermediates
        through memory, and each is a fresh allocation, which glibc serves as new pages that fault on first touch.
        Block by block, the intermediates are small enough to stay in cache and to be reused by the allocator; only
        the output is full size. Each block reads the dilated conv's receptive field around it from ``x``, and the
        signal's own padding is applied to the first and last blocks, so the result equals the layer-wise one.
        """
        conv1 = self.conv1
        left, right, mode = conv1.pad_left, conv1.pad_right, conv1.pad_mode
        size, block = x.shape[-1], RESIDUAL_BLOCK
        # Two blocks or fewer: the intermediates are small anyway, and whole-tensor calls have less overhead.
        if size <= 2 * block or block <= max(left, right):
            return self._tail(x, self.act2.inplace(conv1(self.act1(x))))
        weight, bias, dilation = conv1.conv.weight, conv1.conv.bias, conv1.conv.dilation[0]
        params = self._tail_params()
        out = x.new_empty(x.shape)
        for start in range(0, size, block):
            stop = min(start + block, size)
            low, high = max(0, start - left), min(size, stop + right)
            act = self.act1(x[..., low:high])
            pad_left, pad_right = left - (start - low), right - (high - stop)
            if pad_left or pad_right:  # the signal's ends: pad as the plain conv pads the activated signal
                act = pad1d(act, pad_left, pad_right, mode)
            hidden = self.act2.inplace(F.conv1d(act, weight, bias, 1, 0, dilation))
            out[..., start:stop] = self._tail(x[..., start:stop], hidden, params)
        return out

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        y = self.conv2.stream(self.act2(self.conv1.stream(self.act1(x), state)), state)
        return (x if self.shortcut is None else self.shortcut.stream(x, state)) + y


class BottleneckLSTM(nn.Module):
    """Unidirectional LSTM with a skip connection; unidirectional so that it stays causal and streamable."""

    def __init__(self, dim: int, num_layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, num_layers, batch_first=True)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        y, _ = self.lstm(x.transpose(1, 2))
        return y.transpose(1, 2) + x

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        y, hidden = self.lstm(x.transpose(1, 2), state.get(self))
        state[self] = hidden
        return y.transpose(1, 2) + x


class _Stack(nn.Module):
    """Layers applied in order; ``scales[i]`` is how layer i changes the time resolution (for lengths)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        self.scales: list[tuple[str, int]] = []

    def add(self, layer: nn.Module, scale: tuple[str, int] = ("same", 1)) -> None:
        self.layers.append(layer)
        self.scales.append(scale)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        fast = fast_kernels_active()
        owned = False  # x was produced inside this stack, so no one else reads it
        for layer, (kind, factor) in zip(self.layers, self.scales):
            if fast and owned and isinstance(layer, Activation):
                y = layer.inplace(x)  # saves a full-size allocation per activation
            else:
                y = layer(x, lengths)
            # No layer returns a view of its input, so a result other than x itself is ours.
            owned = owned or y is not x
            x = y
            if lengths is not None and kind == "down":
                lengths = torch.div(lengths, factor, rounding_mode="floor")
            elif lengths is not None and kind == "up":
                lengths = lengths * factor
        return x

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        for layer in self.layers:
            x = layer.stream(x, state)
        return x


class SEANetEncoder(_Stack):
    """Waveform ``[B, 1, T]`` -> latent ``[B, dimension, T / hop]``."""

    def __init__(self, cfg: SEANetConfig) -> None:
        super().__init__()
        conv = {"causal": cfg.causal, "pad_mode": cfg.pad_mode, "norm": cfg.norm}
        width = cfg.channels
        self.add(SConv1d(1, width, cfg.kernel_size, **conv))
        for ratio in reversed(cfg.ratios):
            for j in range(cfg.n_residual_layers):
                self.add(ResidualUnit(width, cfg.dilation_base**j, cfg))
            self.add(Activation(cfg.activation, width))
            self.add(SConv1d(width, 2 * width, 2 * ratio, stride=ratio, **conv), ("down", ratio))
            width *= 2
        if cfg.lstm_layers:
            self.add(BottleneckLSTM(width, cfg.lstm_layers))
        self.add(Activation(cfg.activation, width))
        self.add(SConv1d(width, cfg.dimension, cfg.last_kernel_size, **conv))


class SEANetDecoder(_Stack):
    """Latent ``[B, dimension, F]`` -> waveform ``[B, 1, F * hop]``."""

    def __init__(self, cfg: SEANetConfig) -> None:
        super().__init__()
        conv = {"causal": cfg.causal, "pad_mode": cfg.pad_mode, "norm": cfg.norm}
        base = cfg.decoder_channels or cfg.channels
        width = base * 2 ** len(cfg.ratios)
        self.add(SConv1d(cfg.dimension, width, cfg.kernel_size, **conv))
        if cfg.lstm_layers:
            self.add(BottleneckLSTM(width, cfg.lstm_layers))
        for ratio in cfg.ratios:
            self.add(Activation(cfg.activation, width))
            self.add(
                SConvTranspose1d(width, width // 2, 2 * ratio, ratio, causal=cfg.causal, norm=cfg.norm), ("up", ratio)
            )
            width //= 2
            for j in range(cfg.n_residual_layers):
                self.add(ResidualUnit(width, cfg.dilation_base**j, cfg))
        self.add(Activation(cfg.activation, width))
        self.add(SConv1d(width, 1, cfg.last_kernel_size, **conv))
        self.add(Activation(cfg.final_activation, 1))


def fold_weight_norm(module: nn.Module) -> int:
    """Replace every weight-norm parametrization by the plain weight it computes; returns how many were folded.

    Weight norm recomputes ``g * v / |v|`` on every call, which costs time at inference and breaks tracing tools;
    the folded module computes the same function.
    """
    folded = 0
    for sub in module.modules():
        if parametrize.is_parametrized(sub, "weight"):
            parametrize.remove_parametrizations(sub, "weight", leave_parametrized=True)
            folded += 1
    return folded


def has_weight_norm(module: nn.Module) -> bool:
    return any(parametrize.is_parametrized(sub, "weight") for sub in module.modules())
