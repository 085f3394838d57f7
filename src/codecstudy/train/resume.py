"""A run folder's identity and its checkpoints' contents: what may change between a run and its resumption, and
what a training checkpoint holds.

**Exact resume.** Everything that decides the next step is in the checkpoint: weights and EMA codebooks,
optimizer moments, the learning-rate schedule (a function of the step), every process's python/numpy/torch RNG
state and the crop sampler's position (crops are a function of seed and step). Re-running the same command after
a kill (even SIGKILL) continues from the newest checkpoint and ends with the same weights as an uninterrupted
run, given the same number of processes and threads (floating-point sums depend on both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codecstudy.codec.config import CodecConfig
from codecstudy.codec.training_config import TrainConfig
from codecstudy.errors import CodecStudyError
from codecstudy.files import write_text_atomic
from codecstudy.train import checkpoint as ckpt
from codecstudy.train.data import CropSampler
from codecstudy.train.step import GanStep

CONFIG_NAME = "config.yaml"

# Settings that may change between a run and its resumption: they do not change what the next step computes.
RESUMABLE_CHANGES = (
    "name",
    "train.steps",
    "train.log_interval",
    "train.valid_interval",
    "train.checkpoint_interval",
    "train.keep_last",
    "train.num_workers",
    "train.nan_guard_max_skips",
    "train.valid",
)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def config_difference(stored: dict[str, Any], current: dict[str, Any]) -> str | None:
    """The first setting that differs in a way that forbids resuming, as ``key: stored -> current``."""
    old, new = _flatten(stored), _flatten(current)
    for key in sorted(set(old) | set(new)):
        if any(key == p or key.startswith(p + ".") for p in RESUMABLE_CHANGES):
            continue
        if old.get(key) != new.get(key):
            return f"{key}: {old.get(key)!r} in the run, {new.get(key)!r} now"
    return None


def claim_run_folder(out_dir: Path, ckpt_dir: Path, config: CodecConfig) -> None:
    """Write the run's ``config.yaml``, unless the folder holds checkpoints of a run with another config (an error
    naming the first setting that differs); temporaries of writes killed mid-way are removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stored = out_dir / CONFIG_NAME
    current = config.model_dump(mode="json")
    if stored.is_file() and ckpt.step_checkpoints(ckpt_dir):
        previous = yaml.safe_load(stored.read_text(encoding="utf-8")) or {}
        diff = config_difference(previous, current)
        if diff:
            raise CodecStudyError(
                f"{out_dir} holds a run with another config ({diff}); use another --out, or the "
                "run's own settings to resume it"
            )
    write_text_atomic(stored, yaml.safe_dump(current, sort_keys=False, allow_unicode=True))
    ckpt.remove_stale_temporaries(ckpt_dir)
    ckpt.remove_stale_temporaries(out_dir)


def training_payload(
    gan: GanStep,
    step: int,
    *,
    tc: TrainConfig,
    sampler: CropSampler,
    rng_states: list[dict[str, Any]],
    world_size: int,
    nan_skips: int,
    best: dict[str, Any],
    config: CodecConfig,
    data: dict[str, str | None],
) -> dict[str, Any]:
    """The training checkpoint of ``step`` (the format :mod:`codecstudy.train.checkpoint` describes)."""
    return {
        "format": ckpt.FORMAT,
        "format_version": ckpt.FORMAT_VERSION,
        "step": step,
        **gan.checkpoint_state(),
        "schedulers": {
            name: {"kind": oc.scheduler, "base_lr": oc.lr, "factor": oc.lr_factor(step), "step": step}
            for name, oc in (("generator", tc.generator), ("discriminator", tc.discriminator))
        },
        "sampler": sampler.state_dict(),
        "rng": rng_states[0],
        "rng_per_rank": rng_states,
        "world_size": world_size,
        "nan_skips": nan_skips,
        "best": dict(best),
        "config": config.model_dump(mode="json"),
        "data": data,
    }


def restore_rng_states(payload: dict[str, Any], *, rank: int, world_size: int, seed: int) -> int:
    """Put back this process's RNG states from a checkpoint; returns how many processes wrote it.

    A checkpoint written by another number of processes has no state for this rank: the RNGs are reseeded from
    the seed and the step instead, and training continues, though not bit-identically to an uninterrupted run.
    """
    states = payload.get("rng_per_rank") or [payload["rng"]]
    if len(states) == world_size:
        ckpt.restore_rng(states[rank])
    else:
        ckpt.seed_everything(seed + int(payload["step"]), rank)
    return len(states)
