"""One training step: the networks, losses and optimizers of a run, and one generator/discriminator update.

The order is ESPnet's (``generator_first: true`` with cached generator output):

1. the generator (encoder, quantizer with bandwidth dropout, decoder) reconstructs the batch;
2. from ``train.discriminator_start`` on, the discriminator scores the reconstruction and the real audio in one
   batched call with its weights frozen, for the adversarial and feature-matching terms;
3. the generator takes its step on the weighted loss of the ``loss:`` section;
4. the discriminator takes its step on the same (detached) reconstruction, which saves a second generator pass.

Before ``discriminator_start`` only the reconstruction and quantizer terms train the generator: a GAN that
starts on random reconstructions mostly teaches the discriminator to spot noise, and on a CPU budget the early
steps are better spent on the mel loss.

**NaN guard.** A step whose loss or gradient norm is not finite (on any process) changes nothing: no optimizer
update, and the EMA codebooks, which the forward pass already moved, are put back. The caller counts such steps.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from codecstudy.codec.config import CodecConfig
from codecstudy.codec.discriminators import build_discriminator
from codecstudy.codec.losses import DiscriminatorLoss, DiscriminatorLossConfig, GeneratorLoss
from codecstudy.codec.quantize import CodebookUsage, EMACodebook
from codecstudy.codec.registry import build_codec, codec_payload
from codecstudy.codec.training_config import OptimizerConfig, TrainConfig
from codecstudy.train import checkpoint as ckpt
from codecstudy.train import distributed as D


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def split_outputs(outputs: list[tuple[Tensor, list[Tensor]]], n: int) -> tuple[list[Any], list[Any]]:
    """Discriminator outputs on ``cat(fake, real)`` -> (fake outputs, real outputs with detached features)."""
    fake = [(logits[:n], [f[:n] for f in fmaps]) for logits, fmaps in outputs]
    real = [(logits[n:].detach(), [f[n:].detach() for f in fmaps]) for logits, fmaps in outputs]
    return fake, real


def grad_norm(params: list[nn.Parameter]) -> Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(grads, 2.0)


def adamw(params: list[nn.Parameter], oc: OptimizerConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=oc.lr, betas=oc.betas, eps=oc.eps, weight_decay=oc.weight_decay)


class GanStep:
    """The generator and discriminator of a run with their losses and optimizers; :meth:`update` trains one batch.

    Built the same way on every process: the discriminator's initial weights come from ``train.seed`` alone, then
    each process reseeds with its rank (quantizer dropout draws differ per rank). ``amp_device`` is the device type
    autocast runs on (``cuda`` with ``train.bf16``), or None for float32.
    """

    def __init__(
        self, config: CodecConfig, tc: TrainConfig, ctx: D.DistContext, device: torch.device, amp_device: str | None
    ) -> None:
        self.tc = tc
        self.ctx = ctx
        self.amp_device = amp_device
        ckpt.seed_everything(tc.seed)  # the discriminator's initial weights: the same on every process
        self.model = build_codec(config).to(device).train()
        self.disc = build_discriminator(config.discriminator_config(), architecture=config.architecture).to(device)
        self.disc.train()
        ckpt.seed_everything(tc.seed, ctx.rank)
        gen_loss_cfg = config.generator_loss()
        self.gen_loss = GeneratorLoss(gen_loss_cfg, config.sample_rate).to(device)
        self.disc_loss = DiscriminatorLoss(
            DiscriminatorLossConfig(
                adversarial=gen_loss_cfg.adversarial,
                average_over_discriminators=gen_loss_cfg.average_over_discriminators,
            )
        )
        if tc.bf16:
            self._quantizer_in_float32()
        self.g_params = [p for p in self.model.parameters() if p.requires_grad]
        self.d_params = [p for p in self.disc.parameters() if p.requires_grad]
        self.g_opt = adamw(self.g_params, tc.generator)
        self.d_opt = adamw(self.d_params, tc.discriminator)
        self.g_train: nn.Module = self.model
        self.d_train: nn.Module = self.disc
        if ctx.enabled:
            ids = [device.index] if device.type == "cuda" else None
            unused = config.quantizer.kind == "factorized"  # codebooks beyond a step's n_q get no gradient
            self.g_train = DistributedDataParallel(
                self.model, device_ids=ids, broadcast_buffers=False, find_unused_parameters=unused
            )
            self.d_train = DistributedDataParallel(self.disc, device_ids=ids, broadcast_buffers=False)
        self.ema_buffers = [
            buf for book in self.model.modules() if isinstance(book, EMACodebook)
            for buf in (book.embed, book.embed_avg, book.cluster_size, book.initialized)
        ]
        self.last_usage: CodebookUsage | None = None  # codebook usage of the last step that was not skipped

    # ------------------------------------------------------------------------------------------------ set-up
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
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

    def set_learning_rates(self, step: int) -> None:
        for opt, oc in ((self.g_opt, self.tc.generator), (self.d_opt, self.tc.discriminator)):
            lr = oc.lr * oc.lr_factor(step)
            for group in opt.param_groups:
                group["lr"] = lr

    # ------------------------------------------------------------------------------------------- checkpoints
    def checkpoint_state(self) -> dict[str, Any]:
        """The networks' and optimizers' entries of a training checkpoint (``codec`` is what load_codec reads)."""
        return {
            "codec": codec_payload(self.model),
            "discriminator": {k: v.detach().cpu() for k, v in self.disc.state_dict().items()},
            "optimizers": {"generator": self.g_opt.state_dict(), "discriminator": self.d_opt.state_dict()},
        }

    def load_checkpoint_state(self, payload: dict[str, Any]) -> None:
        self.model.load_state_dict(payload["codec"]["state_dict"])
        self.disc.load_state_dict(payload["discriminator"])
        self.g_opt.load_state_dict(payload["optimizers"]["generator"])
        self.d_opt.load_state_dict(payload["optimizers"]["discriminator"])

    def weights_hash(self) -> str:
        """SHA-256 of generator and discriminator state: equal on every process after a correct DDP run."""
        digest = hashlib.sha256()
        for prefix, module in (("g.", self.model), ("d.", self.disc)):
            for name, tensor in sorted(module.state_dict().items()):
                digest.update((prefix + name).encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    # -------------------------------------------------------------------------------------------- one step
    def snapshot_codebooks(self) -> list[Tensor] | None:
        if not self.ema_buffers:
            return None
        return [b.clone() for b in self.ema_buffers]

    def restore_codebooks(self, snapshot: list[Tensor] | None) -> None:
        if snapshot is not None:
            with torch.no_grad():
                for buf, saved in zip(self.ema_buffers, snapshot):
                    buf.copy_(saved)

    def _generator_losses(self, out: Any, wave: Tensor, gan: bool) -> tuple[Tensor, dict[str, float]]:
        recon = out.recon.float()
        disc_fake = disc_real = None
        if gan:
            set_requires_grad(self.disc, False)
            with self.autocast():
                outputs = self.disc(torch.cat((recon, wave), dim=0))
            disc_fake, disc_real = split_outputs(outputs, wave.shape[0])
        return self.gen_loss(
            recon,
            wave,
            disc_fake,
            disc_real,
            commitment=out.losses["commitment"].float(),
            codebook=out.losses["codebook"].float(),
            quantization=out.losses["quantization"].float(),
        )

    def update(self, wave: Tensor, index: int) -> tuple[dict[str, float], bool]:
        """One G (and D) update for the step with 0-based ``index``; returns (logged terms, skipped)."""
        gan = self.tc.gan_active(index)
        first_init = self.ctx.enabled and not D.codebooks_initialized(self.model)
        snapshot = self.snapshot_codebooks()
        self.set_learning_rates(index)
        with self.autocast():
            out = self.g_train(wave)
        g_loss, g_terms = self._generator_losses(out, wave, gan)
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_norm = grad_norm(self.g_params)
        bad = D.any_true(self.ctx, not (bool(torch.isfinite(g_loss)) and bool(torch.isfinite(g_norm))))
        if bad:
            self.g_opt.zero_grad(set_to_none=True)
            self.restore_codebooks(snapshot)
            if gan:
                set_requires_grad(self.disc, True)
            return {}, True
        if self.tc.generator.grad_clip:
            torch.nn.utils.clip_grads_with_norm_(self.g_params, self.tc.generator.grad_clip, g_norm)
        self.g_opt.step()
        D.sync_codebooks(self.ctx, self.model, broadcast=first_init)
        terms = {f"train/generator/{k}": v for k, v in g_terms.items()}
        terms["train/generator/grad_norm"] = float(g_norm)
        terms["train/codes_replaced"] = float(out.replaced_codes)
        self.last_usage = out.usage
        if not gan:
            return terms, False
        set_requires_grad(self.disc, True)
        with self.autocast():
            outputs = self.d_train(torch.cat((out.recon.detach().float(), wave), dim=0))
        fake, real = split_outputs(outputs, wave.shape[0])
        d_loss, d_terms = self.disc_loss(fake, real)
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_norm = grad_norm(self.d_params)
        if D.any_true(self.ctx, not (bool(torch.isfinite(d_loss)) and bool(torch.isfinite(d_norm)))):
            self.d_opt.zero_grad(set_to_none=True)
            return terms, True
        if self.tc.discriminator.grad_clip:
            torch.nn.utils.clip_grads_with_norm_(self.d_params, self.tc.discriminator.grad_clip, d_norm)
        self.d_opt.step()
        terms.update({f"train/discriminator/{k}": v for k, v in d_terms.items()})
        terms["train/discriminator/grad_norm"] = float(d_norm)
        return terms, False
