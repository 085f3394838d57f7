"""Self-padding convolutions: :class:`SConv1d` and :class:`SConvTranspose1d`, each with its inference kernel and
its streaming step."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from codecstudy.codec.seanet.kernels import fast_kernels_active
from codecstudy.codec.seanet.norm import with_norm
from codecstudy.codec.seanet.padding import pad1d, time_mask

StreamState = dict[Any, Any]
"""Per-layer streaming state, keyed by module; owned by the caller so one model can serve several streams."""


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
        self.conv = with_norm(
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
        self.convtr = with_norm(nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride), norm)
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
