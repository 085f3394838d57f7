"""Whether layers take their inference-only kernels, and how a residual unit is cut into blocks when they do.

Both settings are read when a layer runs, so a test or a benchmark may change them on this module
(``kernels.FAST_INFERENCE = False`` runs the plain layers).
"""

from __future__ import annotations

import torch

FAST_INFERENCE = True
"""Use the inference kernels when no gradient is recorded; set False to run the plain layers instead (to
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

