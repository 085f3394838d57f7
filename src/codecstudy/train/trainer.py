"""The codec training loop: generator/discriminator alternation, NaN guard, validation, checkpoints, resume.

One step, in ESPnet's order (``generator_first: true`` with cached generator output):

1. the generator (encoder, quantizer with bandwidth dropout, decoder) reconstructs the batch;
2. from ``train.discriminator_start`` on, the discriminator scores the reconstruction and the real audio in one
   batched call with its weights frozen, for the adversarial and feature-matching terms;
3. the generator takes its step on the weighted loss of the ``loss:`` section;
4. the discriminator takes its step on the same (detached) reconstruction, which saves a second generator pass.

Before ``discriminator_start`` only the reconstruction and quantizer terms train the generator: a GAN that
starts on random reconstructions mostly teaches the discriminator to spot noise, and on a CPU budget the early
steps are better spent on the mel loss.

**NaN guard.** A step whose loss or gradient norm is not finite (on any process) changes nothing: no optimizer
update, and the EMA codebooks, which the forward pass already moved, are put back. It is counted; more than
``train.nan_guard_max_skips`` such steps stop the run with a message that names the setting.

**Exact resume.** Everything that decides the next step is in the checkpoint: weights and EMA codebooks,
optimizer moments, the learning-rate schedule (a function of the step), every process's python/numpy/torch RNG
state and the crop sampler's position (crops are a function of seed and step). Re-running the same command after
a kill (even SIGKILL) continues from the newest checkpoint and ends with the same weights as an uninterrupted
run, given the same number of processes and threads (floating-point sums depend on both).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor, nn

from codecstudy.codec.config import CodecConfig
from codecstudy.codec.discriminators import build_discriminator
from codecstudy.codec.losses import DiscriminatorLoss, DiscriminatorLossConfig, GeneratorLoss
from codecstudy.codec.quantize import CodebookUsage, EMACodebook
from codecstudy.codec.registry import build_codec, codec_payload
from codecstudy.codec.training_config import OptimizerConfig, TrainConfig
from codecstudy.corpus.manifest import load_manifest
from codecstudy.errors import CodecStudyError
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
from codecstudy.train.logging import NullLogger, TrainLogger
from codecstudy.train.validation import ValidationResult, better, load_validation_audio, summarize, validate

CHECKPOINT_DIR = "checkpoints"
CODEC_NAME = "codec.pt"
CONFIG_NAME = "config.yaml"
SUMMARY_NAME = "summary.json"

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


def _set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def _split_outputs(outputs: list[tuple[Tensor, list[Tensor]]], n: int) -> tuple[list[Any], list[Any]]:
    """Discriminator outputs on ``cat(fake, real)`` -> (fake outputs, real outputs with detached features)."""
    fake = [(logits[:n], [f[:n] for f in fmaps]) for logits, fmaps in outputs]
    real = [(logits[n:].detach(), [f[n:].detach() for f in fmaps]) for logits, fmaps in outputs]
    return fake, real


def _grad_norm(params: list[nn.Parameter]) -> Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(grads, 2.0)


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

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bfloat16 autocast on CUDA when ``train.bf16``; a no-op on CPU (CPU bf16 is slower than float32 here)."""
        if self.amp_device is not None:
            return torch.autocast(self.amp_device, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _quantizer_in_float32(self) -> None:
        """Run the quantizer outside autocast, on a float32 latent.

        Nearest-code search in bfloat16 picks wrong codes for near ties, and the EMA statistics are float32
        buffers that bfloat16 vectors cannot be accumulated into; the quantizer is a small part of the cost.
        """
        quantizer = self.model.quantizer
        inner = quantizer.forward

        @functools.wraps(inner)
        def forward(z: Tensor, *args: Any, **kwargs: Any) -> Any:
            with torch.autocast(z.device.type, enabled=False):
                return inner(z.float(), *args, **kwargs)

        quantizer.forward = forward  # type: ignore[method-assign]

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
        def check() -> None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            stored = self.out_dir / CONFIG_NAME
            current = self.config.model_dump(mode="json")
            if stored.is_file() and ckpt.step_checkpoints(self.ckpt_dir):
                previous = yaml.safe_load(stored.read_text(encoding="utf-8")) or {}
                diff = config_difference(previous, current)
                if diff:
                    raise CodecStudyError(
                        f"{self.out_dir} holds a run with another config ({diff}); use another --out, or the "
                        "run's own settings to resume it"
                    )
            text = yaml.safe_dump(current, sort_keys=False, allow_unicode=True)
            tmp = stored.with_name(stored.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(stored)
            ckpt.remove_stale_temporaries(self.ckpt_dir)
            ckpt.remove_stale_temporaries(self.out_dir)

        self._on_main(check)

    def build(self) -> None:
        """Models, losses and optimizers (also used alone by benchmarks/train_speed.py)."""
        cfg = self.config
        ckpt.seed_everything(self.tc.seed)  # the discriminator's initial weights: the same on every process
        self.model = build_codec(cfg).to(self.device).train()
        self.disc = build_discriminator(cfg.discriminator_config(), architecture=cfg.architecture).to(self.device)
        self.disc.train()
        ckpt.seed_everything(self.tc.seed, self.ctx.rank)
        gen_loss_cfg = cfg.generator_loss()
        self.gen_loss = GeneratorLoss(gen_loss_cfg, cfg.sample_rate).to(self.device)
        self.disc_loss = DiscriminatorLoss(
            DiscriminatorLossConfig(
                adversarial=gen_loss_cfg.adversarial,
                average_over_discriminators=gen_loss_cfg.average_over_discriminators,
            )
        )
        if self.tc.bf16:
            self._quantizer_in_float32()
        self.g_params = [p for p in self.model.parameters() if p.requires_grad]
        self.d_params = [p for p in self.disc.parameters() if p.requires_grad]
        self.g_opt = self._optimizer(self.g_params, self.tc.generator)
        self.d_opt = self._optimizer(self.d_params, self.tc.discriminator)
        self.g_train: nn.Module = self.model
        self.d_train: nn.Module = self.disc
        if self.ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            unused = cfg.quantizer.kind == "factorized"  # codebooks beyond a step's n_q get no gradient
            self.g_train = DDP(self.model, device_ids=ids, broadcast_buffers=False, find_unused_parameters=unused)
            self.d_train = DDP(self.disc, device_ids=ids, broadcast_buffers=False)
        self.ema_buffers = [
            buf for book in self.model.modules() if isinstance(book, EMACodebook)
            for buf in (book.embed, book.embed_avg, book.cluster_size, book.initialized)
        ]

    @staticmethod
    def _optimizer(params: list[nn.Parameter], oc: OptimizerConfig) -> torch.optim.Optimizer:
        return torch.optim.AdamW(params, lr=oc.lr, betas=oc.betas, eps=oc.eps, weight_decay=oc.weight_decay)

    def _set_learning_rates(self, step: int) -> None:
        for opt, oc in ((self.g_opt, self.tc.generator), (self.d_opt, self.tc.discriminator)):
            lr = oc.lr * oc.lr_factor(step)
            for group in opt.param_groups:
                group["lr"] = lr

    # ------------------------------------------------------------------------------------------- checkpoints
    def _payload(self, step: int, rng_states: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "format": ckpt.FORMAT,
            "format_version": ckpt.FORMAT_VERSION,
            "step": step,
            "codec": codec_payload(self.model),
            "discriminator": {k: v.detach().cpu() for k, v in self.disc.state_dict().items()},
            "optimizers": {"generator": self.g_opt.state_dict(), "discriminator": self.d_opt.state_dict()},
            "schedulers": {
                name: {"kind": oc.scheduler, "base_lr": oc.lr, "factor": oc.lr_factor(step), "step": step}
                for name, oc in (("generator", self.tc.generator), ("discriminator", self.tc.discriminator))
            },
            "sampler": self.sampler.state_dict(),
            "rng": rng_states[0],
            "rng_per_rank": rng_states,
            "world_size": self.ctx.world_size,
            "nan_skips": self.nan_skips,
            "best": dict(self.best),
            "config": self.config.model_dump(mode="json"),
            "data": {"train": str(self.data_path), "valid": str(self.valid_path) if self.valid_path else None},
        }

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

        path = self._on_main(find)
        if path is None:
            return 0
        payload = ckpt.load_checkpoint(path)
        self.model.load_state_dict(payload["codec"]["state_dict"])
        self.disc.load_state_dict(payload["discriminator"])
        self.g_opt.load_state_dict(payload["optimizers"]["generator"])
        self.d_opt.load_state_dict(payload["optimizers"]["discriminator"])
        self.sampler.load_state_dict(payload["sampler"])
        self.nan_skips = int(payload.get("nan_skips", 0))
        self.best = dict(payload.get("best") or {})
        step = int(payload["step"])
        states = payload.get("rng_per_rank") or [payload["rng"]]
        if len(states) == self.ctx.world_size:
            ckpt.restore_rng(states[self.ctx.rank])
        else:
            ckpt.seed_everything(self.tc.seed + step, self.ctx.rank)
            if self.ctx.is_main:
                print(
                    f"note: {path} was written by {len(states)} processes, this run has {self.ctx.world_size}: "
                    "training continues, but not bit-identically to an uninterrupted run"
                )
        self.resumed_path = Path(path)
        return step

    def _write_codec(self, step: int) -> Path:
        path = self.out_dir / CODEC_NAME

        def write() -> None:
            payload = codec_payload(self.model)
            payload["training"] = {"step": step, "best": dict(self.best), "data": str(self.data_path)}
            ckpt.atomic_save(payload, path)

        self._on_main(write)
        return path

    # -------------------------------------------------------------------------------------------- one step
    def _snapshot_codebooks(self) -> list[Tensor] | None:
        if not self.ema_buffers:
            return None
        return [b.clone() for b in self.ema_buffers]

    def _restore_codebooks(self, snapshot: list[Tensor] | None) -> None:
        if snapshot is not None:
            with torch.no_grad():
                for buf, saved in zip(self.ema_buffers, snapshot):
                    buf.copy_(saved)

    def _generator_losses(self, out: Any, wave: Tensor, gan: bool) -> tuple[Tensor, dict[str, float]]:
        recon = out.recon.float()
        disc_fake = disc_real = None
        if gan:
            _set_requires_grad(self.disc, False)
            with self._autocast():
                outputs = self.disc(torch.cat((recon, wave), dim=0))
            disc_fake, disc_real = _split_outputs(outputs, wave.shape[0])
        return self.gen_loss(
            recon,
            wave,
            disc_fake,
            disc_real,
            commitment=out.losses["commitment"].float(),
            codebook=out.losses["codebook"].float(),
            quantization=out.losses["quantization"].float(),
        )

    def train_step(self, wave: Tensor, index: int) -> tuple[dict[str, float], bool]:
        """One G (and D) update for the step with 0-based ``index``; returns (logged terms, skipped)."""
        gan = self.tc.gan_active(index)
        first_init = self.ctx.enabled and not D.codebooks_initialized(self.model)
        snapshot = self._snapshot_codebooks()
        self._set_learning_rates(index)
        with self._autocast():
            out = self.g_train(wave)
        g_loss, g_terms = self._generator_losses(out, wave, gan)
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_norm = _grad_norm(self.g_params)
        bad = D.any_true(self.ctx, not (bool(torch.isfinite(g_loss)) and bool(torch.isfinite(g_norm))))
        if bad:
            self.g_opt.zero_grad(set_to_none=True)
            self._restore_codebooks(snapshot)
            if gan:
                _set_requires_grad(self.disc, True)
            return {}, True
        if self.tc.generator.grad_clip:
            torch.nn.utils.clip_grads_with_norm_(self.g_params, self.tc.generator.grad_clip, g_norm)
        self.g_opt.step()
        D.sync_codebooks(self.ctx, self.model, broadcast=first_init)
        terms = {f"train/generator/{k}": v for k, v in g_terms.items()}
        terms["train/generator/grad_norm"] = float(g_norm)
        terms["train/codes_replaced"] = float(out.replaced_codes)
        self._usage = out.usage
        if not gan:
            return terms, False
        _set_requires_grad(self.disc, True)
        with self._autocast():
            outputs = self.d_train(torch.cat((out.recon.detach().float(), wave), dim=0))
        fake, real = _split_outputs(outputs, wave.shape[0])
        d_loss, d_terms = self.disc_loss(fake, real)
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_norm = _grad_norm(self.d_params)
        if D.any_true(self.ctx, not (bool(torch.isfinite(d_loss)) and bool(torch.isfinite(d_norm)))):
            self.d_opt.zero_grad(set_to_none=True)
            return terms, True
        if self.tc.discriminator.grad_clip:
            torch.nn.utils.clip_grads_with_norm_(self.d_params, self.tc.discriminator.grad_clip, d_norm)
        self.d_opt.step()
        terms.update({f"train/discriminator/{k}": v for k, v in d_terms.items()})
        terms["train/discriminator/grad_norm"] = float(d_norm)
        return terms, False

    # ------------------------------------------------------------------------------------------ validation
    def _validate(self, step: int) -> None:
        if not self.valid_clips:
            return

        def run() -> None:
            start = time.perf_counter()
            with torch.random.fork_rng(devices=[]):
                result: ValidationResult = validate(self.model, self.valid_clips, self.tc.valid, self.device)
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
        self._usage: CodebookUsage | None = None
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
        self.rank_hashes = D.gather_objects(self.ctx, self._weights_hash())
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

    def _weights_hash(self) -> str:
        """SHA-256 of generator and discriminator state: equal on every process after a correct DDP run."""
        import hashlib

        digest = hashlib.sha256()
        for prefix, module in (("g.", self.model), ("d.", self.disc)):
            for name, tensor in sorted(module.state_dict().items()):
                digest.update((prefix + name).encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def _announce(self, start: int) -> None:
        tc = self.tc
        counts = self.model.parameter_counts()
        minutes = sum(e.frames for e in self.train_entries) / self.config.sample_rate / 60
        text = (
            f"{self.config.name}: {counts['total'] / 1e6:.2f} M generator and "
            f"{sum(p.numel() for p in self.d_params) / 1e6:.3f} M discriminator parameters; "
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
                if self._usage is not None:
                    acc.usage = self._usage if acc.usage is None else acc.usage + self._usage
            self.logger.step(step, terms)
            if step % tc.log_interval == 0 or step == tc.steps:
                values = D.mean_scalars(self.ctx, acc.means())
                values["train/steps_per_second"] = self.logger.steps_per_second(step)
                values["train/lr/generator"] = self.g_opt.param_groups[0]["lr"]
                values["train/skipped_steps"] = float(self.nan_skips)
                self.logger.scalars(step, "train", values)
                acc = _Accumulator()
            if step % tc.valid_interval == 0 or step == tc.steps:
                self._validate(step)
                self._save_best(step)
            if step % tc.checkpoint_interval == 0 or step == tc.steps:
                self.save_checkpoint(step)
                self.logger.flush()
        return step

    def _write_summary(self, result: TrainResult) -> None:
        from codecstudy.jsonl import write_json_atomic
        from codecstudy.provenance import environment_info

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
                "data": {"train": str(self.data_path), "valid": str(self.valid_path) if self.valid_path else None},
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
