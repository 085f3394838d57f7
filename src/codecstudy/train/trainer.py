"""Training a codec: the run (data, the step loop, validation, checkpoints, the summary) and its entry, :func:`train`.

What one step does (and the NaN guard) is :mod:`codecstudy.train.step`; what a checkpoint holds and how a run
resumes exactly is :mod:`codecstudy.train.resume`. A step whose loss or gradient is not finite is counted here;
more than ``train.nan_guard_max_skips`` such steps stop the run with a message that names the setting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from codecstudy.codec.config import CodecConfig
from codecstudy.codec.quantize import CodebookUsage
from codecstudy.codec.registry import codec_payload
from codecstudy.codec.training_config import TrainConfig
from codecstudy.corpus.manifest import load_manifest
from codecstudy.errors import CodecStudyError
from codecstudy.files import write_json_atomic
from codecstudy.provenance import environment_info
from codecstudy.train import checkpoint as ckpt
from codecstudy.train import distributed as D
from codecstudy.train.data import (
    AudioCache,
    CachedClip,
    CropDataset,
    CropSampler,
    crop_loader,
    even_subset,
    training_entries,
)
from codecstudy.train.interrupt import TrainingInterrupted, stop_requested
from codecstudy.train.logging import NullLogger, TrainLogger
from codecstudy.train.resume import claim_run_folder, restore_rng_states, training_payload
from codecstudy.train.step import GanStep
from codecstudy.train.validation import ValidationResult, better, load_validation_audio, summarize, validate

CHECKPOINT_DIR = "checkpoints"
CODEC_NAME = "codec.pt"
SUMMARY_NAME = "summary.json"


@dataclass
class TrainResult:
    out_dir: Path
    step: int
    codec_path: Path
    best_path: Path | None
    seconds: float
    skipped_steps: int
    resumed_from: int | None
    is_main: bool
    valid_metrics: dict[str, float] = field(default_factory=dict)


class _Accumulator:
    """Sums of logged terms over a log interval (skipped steps excluded)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.usage: CodebookUsage | None = None

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        out = {k: self.sums[k] / self.counts[k] for k in self.sums}
        if self.usage is not None:
            perplexity = self.usage.perplexity()
            for k, value in enumerate(perplexity.tolist()):
                out[f"train/usage/perplexity/q{k}"] = value
            out["train/usage/perplexity/mean"] = float(perplexity.mean())
        return out


class Trainer:
    """One training run in ``out_dir``; construct on every process, then :meth:`run`."""

    def __init__(
        self,
        config: CodecConfig,
        data: str | Path,
        out_dir: str | Path,
        *,
        valid: str | Path | None = None,
        cache_dir: str | Path | None = None,
        show_progress: bool = True,
        ctx: D.DistContext | None = None,
    ) -> None:
        self.config = config
        self.tc: TrainConfig = config.train_config()
        # Without a context (benchmarks, the study's time calibration): one process on the GPU where there is one,
        # as `codecstudy train` runs, so that a calibration or a benchmark never times the CPU on a GPU machine.
        self.ctx = ctx or D.local_context()
        self.data_path = Path(data)
        self.valid_path = Path(valid) if valid is not None else None
        self.out_dir = Path(out_dir)
        self.ckpt_dir = self.out_dir / CHECKPOINT_DIR
        self.cache = AudioCache(Path(cache_dir) if cache_dir else self.out_dir / "cache", config.sample_rate)
        self.show_progress = show_progress and self.ctx.is_main
        self.device = self.ctx.device
        self.amp_device: str | None = "cuda" if self.tc.bf16 and self.device.type == "cuda" else None
        self._configure_backend()
        self.local_batch = D.shard_size(self.tc.batch_size, self.ctx)
        self.segment = int(round(self.tc.segment_seconds * config.sample_rate))

    # ------------------------------------------------------------------------------------------------ set-up
    def _configure_backend(self) -> None:
        if self.tc.threads:
            torch.set_num_threads(self.tc.threads)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = self.tc.tf32
            torch.backends.cudnn.allow_tf32 = self.tc.tf32

    def _on_main(self, fn: Any) -> Any:
        """Run ``fn`` on rank 0 only; a user error there is raised on every process (no rank is left waiting)."""
        error = None
        value = None
        if self.ctx.is_main:
            try:
                value = fn()
            except CodecStudyError as exc:
                error = str(exc)
        error = D.broadcast_object(self.ctx, error)
        if error:
            raise CodecStudyError(error)
        return value

    def _load_clips(self, path: Path, what: str) -> list[CachedClip]:
        clips = load_manifest(path)
        if not clips:
            raise CodecStudyError(f"{path}: the {what} manifest has no clips")
        entries = self._on_main(lambda: self.cache.build(clips, self.tc.num_workers, self.show_progress))
        D.barrier(self.ctx)
        if not self.ctx.is_main:
            entries = self.cache.build(clips, 0, show_progress=False)
        if not entries:
            raise CodecStudyError(f"{path}: none of the {what} clips could be decoded")
        return entries

    def _prepare_folder(self) -> None:
        self._on_main(lambda: claim_run_folder(self.out_dir, self.ckpt_dir, self.config))

    def build(self) -> None:
        """Models, losses and optimizers (also used alone by benchmarks/train_speed.py)."""
        self.gan = GanStep(self.config, self.tc, self.ctx, self.device, self.amp_device)

    # ------------------------------------------------------------------------------------------- checkpoints
    def _payload(self, step: int, rng_states: list[dict[str, Any]]) -> dict[str, Any]:
        return training_payload(
            self.gan,
            step,
            tc=self.tc,
            sampler=self.sampler,
            rng_states=rng_states,
            world_size=self.ctx.world_size,
            nan_skips=self.nan_skips,
            best=self.best,
            config=self.config,
            data=self._data_paths(),
        )

    def _data_paths(self) -> dict[str, str | None]:
        return {"train": str(self.data_path), "valid": str(self.valid_path) if self.valid_path else None}

    def save_checkpoint(self, step: int) -> None:
        rng_states = D.gather_objects(self.ctx, ckpt.capture_rng())

        def write() -> None:
            path = ckpt.atomic_save(self._payload(step, rng_states), self.ckpt_dir / ckpt.step_name(step))
            ckpt.prune(self.ckpt_dir, self.tc.keep_last)
            self.logger.message(f"checkpoint: {path}")

        self._on_main(write)

    def _resume(self) -> int:
        def find() -> str | None:
            found = ckpt.latest_checkpoint(self.ckpt_dir)
            return str(found[0]) if found else None

        path = D.broadcast_object(self.ctx, self._on_main(find))  # every rank resumes from rank 0's choice
        if path is None:
            return 0
        payload = ckpt.load_checkpoint(path)
        self.gan.load_checkpoint_state(payload)
        self.sampler.load_state_dict(payload["sampler"])
        self.nan_skips = int(payload.get("nan_skips", 0))
        self.best = dict(payload.get("best") or {})
        step = int(payload["step"])
        written_by = restore_rng_states(payload, rank=self.ctx.rank, world_size=self.ctx.world_size, seed=self.tc.seed)
        if written_by != self.ctx.world_size and self.ctx.is_main:
            print(
                f"note: {path} was written by {written_by} processes, this run has {self.ctx.world_size}: "
                "training continues, but not bit-identically to an uninterrupted run"
            )
        self.resumed_path = Path(path)
        return step

    def _write_codec(self, step: int) -> Path:
        path = self.out_dir / CODEC_NAME

        def write() -> None:
            payload = codec_payload(self.gan.model)
            payload["training"] = {"step": step, "best": dict(self.best), "data": str(self.data_path)}
            ckpt.atomic_save(payload, path)

        self._on_main(write)
        return path

    # -------------------------------------------------------------------------------------------- one step
    def train_step(self, wave: Tensor, index: int) -> tuple[dict[str, float], bool]:
        """One G (and D) update for the step with 0-based ``index``; returns (logged terms, skipped)."""
        return self.gan.update(wave, index)

    # ------------------------------------------------------------------------------------------ validation
    def _validate(self, step: int) -> None:
        if not self.valid_clips:
            return

        def run() -> None:
            start = time.perf_counter()
            with torch.random.fork_rng(devices=[]):
                result: ValidationResult = validate(self.gan.model, self.valid_clips, self.tc.valid, self.device)
            metrics = dict(result.metrics)
            metrics["valid/seconds"] = time.perf_counter() - start
            self.logger.scalars(step, "valid", metrics)
            for clip_id, ref, recon in result.samples:
                tag = clip_id.replace("/", "_")
                if clip_id not in self._logged_references:
                    self.logger.audio(step, f"audio/{tag}/reference", ref, self.config.sample_rate)
                    self._logged_references.add(clip_id)
                self.logger.audio(step, f"audio/{tag}/decoded", recon, self.config.sample_rate)
            self.logger.message(f"step {step} validation on {result.clips} clips: {summarize(metrics)}")
            self.last_valid = metrics
            name = self.tc.valid.best_metric
            value = metrics.get(f"valid/{name}")
            if value is not None and better(name, value, self.best.get("value")):
                self.best = {"metric": name, "value": float(value), "step": step}
                self._best_pending = True

        self._on_main(run)
        self._best_pending = D.broadcast_object(self.ctx, self._best_pending)

    def _save_best(self, step: int) -> None:
        if not self._best_pending:
            return
        self._best_pending = False
        rng_states = D.gather_objects(self.ctx, ckpt.capture_rng())
        self._on_main(lambda: ckpt.atomic_save(self._payload(step, rng_states), self.ckpt_dir / ckpt.BEST_NAME))

    # ------------------------------------------------------------------------------------------------- loop
    def _batches(self, start: int) -> Iterator[Tensor]:
        dataset = CropDataset(self.train_entries, self.sampler)
        loader = crop_loader(dataset, start, self.tc.steps, self.tc.num_workers, self.tc.seed)
        for batch in loader:
            yield batch.to(self.device, non_blocking=True)

    def _stop_for_nans(self, step: int) -> None:
        last = ckpt.step_checkpoints(self.ckpt_dir)
        where = f"; the last checkpoint is {last[-1][1]}" if last else ""
        raise CodecStudyError(
            f"training stopped at step {step}: {self.nan_skips} steps had a non-finite loss or gradient "
            f"(train.nan_guard_max_skips={self.tc.nan_guard_max_skips}){where}. Lower train.generator.lr or "
            "set train.generator.grad_clip"
        )

    def run(self) -> TrainResult:
        started = time.perf_counter()
        tc = self.tc
        self._prepare_folder()
        train_entries = self._load_clips(self.data_path, "training")
        self.train_entries = training_entries(train_entries, tc.segment_seconds, self.config.sample_rate,
                                              str(self.data_path))
        self.valid_clips: list[Any] = []
        if self.valid_path is not None:
            valid_entries = even_subset(self._load_clips(self.valid_path, "validation"), tc.valid.max_clips)
            self.valid_clips = load_validation_audio(valid_entries, tc.valid, self.config.sample_rate)
        self.sampler = CropSampler(
            self.train_entries, self.segment, tc.batch_size, tc.seed,
            balanced=tc.sampling == "balanced", rank=self.ctx.rank, world_size=self.ctx.world_size,
        )
        self.build()
        self.nan_skips = 0
        self.best: dict[str, Any] = {}
        self._best_pending = False
        self._logged_references: set[str] = set()
        self.last_valid: dict[str, float] = {}
        self.resumed_path: Path | None = None
        start = self._resume()
        resumed_from = start if self.resumed_path else None
        self.logger = (
            TrainLogger(self.out_dir, tc.steps, start, show_progress=self.show_progress)
            if self.ctx.is_main else NullLogger()
        )
        try:
            self._announce(start)
            step = self._loop(start)
        finally:
            self.logger.close()
        self.rank_hashes = D.gather_objects(self.ctx, self.gan.weights_hash())
        if len(set(self.rank_hashes)) > 1:
            raise CodecStudyError(
                f"the {self.ctx.world_size} processes ended with different weights ({self.rank_hashes}); "
                "this is a bug in the distributed set-up, please report it"
            )
        codec_path = self._write_codec(step)
        best = self.ckpt_dir / ckpt.BEST_NAME
        result = TrainResult(
            out_dir=self.out_dir,
            step=step,
            codec_path=codec_path,
            best_path=best if best.is_file() else None,
            seconds=time.perf_counter() - started,
            skipped_steps=self.nan_skips,
            resumed_from=resumed_from,
            is_main=self.ctx.is_main,
            valid_metrics=self.last_valid,
        )
        self._on_main(lambda: self._write_summary(result))
        return result

    def _announce(self, start: int) -> None:
        tc = self.tc
        counts = self.gan.model.parameter_counts()
        minutes = sum(e.frames for e in self.train_entries) / self.config.sample_rate / 60
        text = (
            f"{self.config.name}: {counts['total'] / 1e6:.2f} M generator and "
            f"{sum(p.numel() for p in self.gan.d_params) / 1e6:.3f} M discriminator parameters; "
            f"{len(self.train_entries)} training clips ({minutes:.1f} min) from {self.data_path}; "
            f"{len(self.valid_clips)} validation clips; batch {tc.batch_size} x {tc.segment_seconds:g} s on "
            f"{self.ctx.world_size} process(es), {self.device}, {torch.get_num_threads()} threads"
        )
        if self.resumed_path is not None:
            text += f"; resumed from {self.resumed_path} (step {start})"
        self.logger.message(text)
        self.logger.event(start, "resume" if self.resumed_path else "start", world_size=self.ctx.world_size)

    def _loop(self, start: int) -> int:
        tc = self.tc
        acc = _Accumulator()
        step = start
        if start >= tc.steps:
            self.logger.message(f"already trained to step {start} (train.steps={tc.steps})")
            return start
        for index, wave in zip(range(start, tc.steps), self._batches(start)):
            terms, skipped = self.train_step(wave, index)
            step = index + 1
            self.sampler.position = step
            if skipped:
                self.nan_skips += 1
                self.logger.message(f"step {step}: non-finite loss or gradient, step skipped ({self.nan_skips} so far)")
                if self.nan_skips > tc.nan_guard_max_skips:
                    self._stop_for_nans(step)
            else:
                acc.add(terms)
                usage = self.gan.last_usage
                if usage is not None:
                    acc.usage = usage if acc.usage is None else acc.usage + usage
            self.logger.step(step, terms)
            if step % tc.log_interval == 0 or step == tc.steps:
                values = D.mean_scalars(self.ctx, acc.means())
                values["train/steps_per_second"] = self.logger.steps_per_second(step)
                values["train/lr/generator"] = self.gan.g_opt.param_groups[0]["lr"]
                values["train/skipped_steps"] = float(self.nan_skips)
                self.logger.scalars(step, "train", values)
                acc = _Accumulator()
            if step % tc.valid_interval == 0 or step == tc.steps:
                self._validate(step)
                self._save_best(step)
            stop = D.any_true(self.ctx, stop_requested())  # every rank stops after the same step
            if step % tc.checkpoint_interval == 0 or step == tc.steps or stop:
                self.save_checkpoint(step)
                self.logger.flush()
            if stop and step < tc.steps:
                raise TrainingInterrupted(step)  # preempted or near the time limit: resume from this step
        return step

    def _write_summary(self, result: TrainResult) -> None:
        write_json_atomic(
            self.out_dir / SUMMARY_NAME,
            {
                "codec": str(result.codec_path),
                "step": result.step,
                "seconds": round(result.seconds, 1),
                "skipped_steps": result.skipped_steps,
                "resumed_from": result.resumed_from,
                "best": self.best,
                "valid": result.valid_metrics,
                "world_size": self.ctx.world_size,
                "rank_weight_hashes": self.rank_hashes,
                "data": self._data_paths(),
                "environment": environment_info(),
            },
        )


def train(
    config: CodecConfig,
    data: str | Path,
    out_dir: str | Path,
    *,
    valid: str | Path | None = None,
    cache_dir: str | Path | None = None,
    show_progress: bool = True,
) -> TrainResult:
    """Train (or resume) a codec; joins the process group when started by torchrun."""
    ctx = D.init_distributed()
    try:
        trainer = Trainer(
            config, data, out_dir, valid=valid, cache_dir=cache_dir, show_progress=show_progress, ctx=ctx
        )
        return trainer.run()
    finally:
        D.shutdown(ctx)
