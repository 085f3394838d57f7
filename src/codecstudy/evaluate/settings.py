"""What an evaluation computes: :class:`EvalSettings`, the parsing of ``--shard`` and ``--metric-set``, the reference
cache's default folder and the delay rule (when the settings, not the codec or a calibration, decide the delay).

Everything but ``workers``, ``shard``, ``part``, ``ref_cache``, ``save_audio``, ``threads`` and ``device`` is part of
the fingerprint in meta.json that a resumed run must match (:mod:`codecstudy.evaluate.outputs`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.applicability import Validity, validity_of
from codecstudy.evaluate.applicability import parse_overrides as parse_validity
from codecstudy.evaluate.base import MetricError
from codecstudy.evaluate.cache import default_cache_dir
from codecstudy.evaluate.delay import GIVEN, OFF, RULE, CodecDelay, DelaySettings
from codecstudy.evaluate.metrics.runtime import torch_device
from codecstudy.evaluate.parts import part_specs
from codecstudy.evaluate.registry import METRICS, MetricSpec, resolve_metrics
from codecstudy.machine import available_cores


@dataclass
class EvalSettings:
    """What a run computes; everything but ``workers``, ``shard``, ``part``, ``ref_cache``, ``save_audio``,
    ``threads`` and ``device`` is part of the fingerprint that a resumed run must match (a GPU changes a model
    metric's value only by float rounding, so a run may resume on another device; meta.json records the one used).

    ``part`` (``gpu`` or ``cpu``, :mod:`codecstudy.evaluate.parts`) scores only that part's metrics; meta.json
    still describes every requested metric, so both parts of an evaluation share one meta.json and fingerprint."""

    metrics: list[str] = field(default_factory=lambda: ["default"])
    mode: str = "parity"
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    delay_compensation: bool = True
    delay_samples: int | None = None  # the codec's delay, given by the user; None: from the codec or calibrated
    max_delay_s: float = 0.1
    calibration_clips: int = 32
    max_mismatch: float = 0.1
    workers: int = 1
    shard: tuple[int, int] = (0, 1)
    ref_cache: Path | None = None
    save_audio: bool = False
    threads: int | None = None  # torch threads per worker; default: cores / workers
    device: str = "cpu"  # where the model-based metrics run (cpu, cuda, cuda:N, auto); recorded, not fingerprinted
    validity: dict[str, dict[str, Any]] = field(default_factory=dict)  # {metric: {domains, languages}} overrides
    part: str | None = None  # score only this part's metrics (gpu, cpu); None: every requested metric

    def torch_threads(self) -> int:
        return self.threads or max(1, available_cores() // max(1, self.workers))  # the allocation's cores

    def specs(self) -> list[MetricSpec]:
        """Every requested metric (what meta.json describes, whichever part this run scores)."""
        return resolve_metrics(self.metrics)

    def scored_specs(self) -> list[MetricSpec]:
        """The metrics this run computes: every requested one, or those of its ``part``."""
        specs = self.specs()
        return specs if self.part is None else part_specs(specs, self.part)

    def model_device(self) -> str:
        """The device the model-based metrics of this run run on (``cpu`` when it scores none, so that the DSP part
        of a GPU evaluation runs on a node without a GPU); a GPU that is not there is a one-line error naming the
        setting."""
        if not any(s.uses_device for s in self.scored_specs()):
            return "cpu"
        try:
            return torch_device(self.device)
        except MetricError as exc:
            raise CodecStudyError(f"evaluate device: {exc}") from None

    def metric_settings(self) -> dict[str, dict[str, Any]]:
        specs = self.specs()
        unknown = set(self.overrides) - {s.name for s in specs}
        if unknown:
            raise CodecStudyError(f"settings given for metrics not requested: {', '.join(sorted(unknown))}")
        return {s.name: s.settings(self.mode, self.overrides.get(s.name)) for s in specs}

    def validities(self) -> dict[str, Validity]:
        """Per requested metric, where it applies (declared, or the explicit ``validity`` override)."""
        overrides = parse_validity(self.validity, set(METRICS))
        return {s.name: validity_of(s, overrides) for s in self.specs()}

    def alignment(self) -> dict[str, Any]:
        return {
            "delay_compensation": self.delay_compensation,
            "delay_samples": self.delay_samples,
            "max_delay_s": self.max_delay_s,
            "calibration_clips": self.calibration_clips,
            "max_mismatch": self.max_mismatch,
            "rule": RULE,
            "method": "one delay per codec setting (from the codec's structure, given, or calibrated over up to "
            "calibration_clips clips of the set: envelope consensus, then waveform refinement), applied to every "
            "clip; estimate shifted and cut/zero-padded to the reference length; per-clip lags recorded only",
        }

    def delay_settings(self) -> DelaySettings:
        return DelaySettings(max_delay_s=self.max_delay_s, max_clips=self.calibration_clips)


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` -> (i, n); None -> torchrun's RANK/WORLD_SIZE when set, else (0, 1)."""
    if text is None:
        rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
        if rank is not None and world is not None:
            text = f"{rank}/{world}"
        else:
            return 0, 1
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise CodecStudyError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not 0 <= index < count:
        raise CodecStudyError(f"--shard {text}: need 0 <= i < n")
    return index, count


def parse_metric_overrides(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``["mcd.alpha=auto", "wer.model=base"]`` -> ``{"mcd": {"alpha": "auto"}, "wer": {"model": "base"}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        metric, dot, name = key.partition(".")
        if not sep or not dot or not metric or not name:
            raise CodecStudyError(f"--metric-set {item!r}: expected METRIC.KEY=VALUE, e.g. mcd.alpha=auto")
        out.setdefault(metric, {})[name] = yaml.safe_load(raw) if raw.strip() else None
    return out


def default_ref_cache(disabled: bool, given: Path | None) -> Path | None:
    """The reference-feature cache folder: none when disabled, else the one given, else the user's cache."""
    if disabled:
        return None
    return given or default_cache_dir()


def fixed_delay(settings: EvalSettings, sample_rate: int | None) -> CodecDelay | None:
    """The delay when the settings decide it: compensation off, or a delay given by the user; None otherwise (the
    codec states it, or it is calibrated)."""
    if not settings.delay_compensation:
        return CodecDelay(0, OFF, "compensation switched off", sample_rate=sample_rate)
    if settings.delay_samples is not None:
        return CodecDelay(int(settings.delay_samples), GIVEN, "given in the settings", sample_rate=sample_rate)
    return None


def delay_key(settings: EvalSettings, what: str) -> dict[str, Any]:
    """What a stored calibration is valid for: the codec (or decoded folder) and the alignment settings."""
    return {"for": what, "alignment": settings.alignment()}
