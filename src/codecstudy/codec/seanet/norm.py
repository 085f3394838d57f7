"""Weight norm on the SEANet convs: applied as a parametrization when a layer is built, folded away for inference."""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm


def with_norm(module: nn.Module, norm: str) -> nn.Module:
    """``module`` under weight norm when ``norm`` is ``weight_norm``, else unchanged."""
    return weight_norm(module) if norm == "weight_norm" else module


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
