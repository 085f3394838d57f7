"""Initial weights of the SEANet encoder and decoder (``seanet.init``).

PyTorch's default conv init draws weights whose filters have a norm of about 1/sqrt(3) and biases up to
1/sqrt(fan_in). Through SEANet's ten or so convolutions the input's variation shrinks by ~sqrt(3) per layer while
the biases add constant offsets, so an untrained encoder's latent is almost constant over time (on speech, its
variation over time is ~3 % of its magnitude at the tiny width) and hardly depends on the input. Training then
sits on a plateau where the decoder outputs near-silence and k-means initialises the codebooks on that constant
latent (every frame maps to one or two codes); the reference recipes outgrow it in their first thousand GPU steps,
but on a CPU budget of a few thousand steps the plateau is most of the run (measured: soundstream-tiny did not
leave it in 500 steps of batch 16).

``unit`` starts every conv of the encoder and decoder as unit-norm filters (the weight-norm magnitude, or the
filter norm without weight norm, set to 1) with zero bias: the signal keeps its scale through the stack, the
latent follows the input from step 1 and the codebooks are initialised on meaningful vectors. Only scales change,
so ``unit`` keeps the seeded random directions of the filters. The SoundStream and EnCodec presets use it.

``torch`` (the default) keeps PyTorch's init, as the reference implementations do. It is also what the DAC
presets use: with Snake activations, unit-norm filters make the untrained latent explode (DAC itself starts from
much smaller weights, ``trunc_normal(std=0.02)``).
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def unit_init(module: nn.Module) -> int:
    """Scale every conv's filters to unit norm per output (or, transposed, input) channel and zero its bias."""
    count = 0
    for conv in module.modules():
        if not isinstance(conv, (nn.Conv1d, nn.ConvTranspose1d)):
            continue
        parametrizations = getattr(conv, "parametrizations", None)
        if parametrizations is not None and hasattr(parametrizations, "weight"):
            parametrizations.weight.original0.fill_(1.0)  # weight norm: weight = g * v / |v|
        else:
            weight = conv.weight
            norms = weight.flatten(1).norm(dim=1).clamp_min(1e-12)
            weight.div_(norms.view(-1, *([1] * (weight.dim() - 1))))
        if conv.bias is not None:
            conv.bias.zero_()
        count += 1
    return count


def initialize(module: nn.Module, scheme: str) -> None:
    """Apply ``seanet.init`` to an encoder or decoder (``torch`` leaves PyTorch's default in place)."""
    if scheme == "unit":
        unit_init(module)
    elif scheme != "torch":
        raise ValueError(f"unknown init {scheme!r}; expected 'unit' or 'torch'")
