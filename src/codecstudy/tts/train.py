"""Training a TTS model on one codec's tokens of a manifest's transcribed clips (resumable).

``OUT`` gets ``config.yaml``, ``model.pt`` (the self-contained model, see :mod:`codecstudy.tts.bundle`),
``checkpoint.pt`` (model + optimizer + RNG, for resuming), ``train.log``, ``metrics.jsonl``, ``summary.json`` and
``cache/`` (the clips' tokens and features, reused by a re-run). A killed run resumes from ``checkpoint.pt``.

Loss: token cross-entropy (mean over frames and codebooks) + ``aligner_weight`` x forward-sum loss +
``variance_weight`` x (duration + pitch + energy MSE). The learning rate warms up linearly for ``warmup`` steps
and then decays as ``1/sqrt(step)`` (the Transformer schedule FastSpeech2 uses).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codecstudy.config import dump_yaml
from codecstudy.corpus.manifest import load_manifest
from codecstudy.corpus.records import Clip
from codecstudy.errors import CodecStudyError
from codecstudy.files import write_json_atomic
from codecstudy.tts.bundle import MODEL_FILE, TTSBundle, build_model
from codecstudy.tts.config import TTSConfig
from codecstudy.tts.data import (
    FeatureStats,
    collate,
    encode_items,
    make_batches,
    prepare_items,
    usable,
)
from codecstudy.tts.frontend import SymbolTable
from codecstudy.tts.model import tts_losses

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    seconds: float
    clips: int
    final: dict[str, float]


def lr_factor(step: int, warmup: int) -> float:
    """Linear warm-up to 1 at ``warmup``, then ``sqrt(warmup / step)``."""
    if warmup <= 0:
        return 1.0
    step = max(step, 1)
    return min(step / warmup, math.sqrt(warmup / step))


def _load_clips(data: str | Path | Sequence[Clip], max_seconds: float) -> list[Clip]:
    clips = load_manifest(data) if isinstance(data, (str, Path)) else list(data)
    kept = [c for c in clips if usable(c, max_seconds)]
    if not kept:
        raise CodecStudyError(f"{data}: no transcribed speech clips of at most {max_seconds:g} s to train a TTS on")
    return kept


def _losses_total(losses: dict[str, torch.Tensor], config: TTSConfig) -> torch.Tensor:
    t = config.train
    return (
        losses["ce"]
        + t.aligner_weight * losses["align"]
        + t.variance_weight * (losses["duration"] + losses["pitch"] + losses["energy"])
    )


def train_tts(
    codec_source: str | Path,
    data: str | Path | Sequence[Clip],
    out_dir: str | Path,
    config: TTSConfig,
    show_progress: bool = True,
) -> TrainResult:
    """Train (or resume) a TTS model on ``codec_source``'s tokens of ``data``'s transcribed clips."""
    from codecstudy.codec.catalog import load_codec
    from codecstudy.train.checkpoint import atomic_save, capture_rng, restore_rng
    from codecstudy.train.logging import TrainLogger

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.train.threads)
    codec = load_codec(codec_source).prepare_for_inference()
    n_q = config.model.n_q
    if n_q > codec.n_codebooks:
        raise CodecStudyError(f"model.n_q={n_q} but codec {codec.config.name} has {codec.n_codebooks} codebooks")
    clips = _load_clips(data, config.train.max_seconds)
    (out / "config.yaml").write_text(dump_yaml(config), encoding="utf-8")

    started = time.perf_counter()
    progress = None
    if show_progress:
        from tqdm import tqdm

        def progress(x):  # noqa: ANN001, ANN202 - tqdm wrapper
            return tqdm(x, desc="tts data", unit="clip", dynamic_ncols=True)

    items = prepare_items(clips, codec, n_q, config.n_mels, cache_dir=out / "cache", progress=progress)
    data_seconds = time.perf_counter() - started
    table = SymbolTable.build([(i.language, i.phonemes) for i in items])
    speakers = sorted({i.speaker for i in items})
    languages = sorted({i.language for i in items})
    stats = FeatureStats.compute(items)
    encoded = encode_items(items, table, speakers, languages)
    if not encoded:
        raise CodecStudyError("no clip has at least one codec frame per phoneme; nothing to train on")

    torch.manual_seed(config.train.seed)
    model = build_model(config, table, speakers, languages, codec.codebook_size)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.train.lr, betas=(0.9, 0.98), eps=1e-9, weight_decay=config.train.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s + 1, config.train.warmup))
    step = 0
    trained_seconds = 0.0
    checkpoint = out / CHECKPOINT_FILE
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"])
        step = int(state["step"])
        trained_seconds = float(state.get("trained_seconds", 0.0))
    summary_file = out / "summary.json"
    if step >= config.train.steps and summary_file.is_file() and (out / MODEL_FILE).is_file():
        import json

        done = json.loads(summary_file.read_text(encoding="utf-8"))
        return TrainResult(out, step, float(done.get("train_seconds", 0.0)), int(done["clips"]), done.get("final", {}))
    rng = np.random.default_rng(config.train.seed + step)

    def bundle() -> TTSBundle:
        return TTSBundle(config, table, speakers, languages, stats, model, codec, step)

    logger = TrainLogger(out, config.train.steps, step, show_progress=show_progress)
    logger.message(
        f"tts train: {len(encoded)} clips ({sum(e.item.frames for e in encoded) / codec.frame_rate / 60:.1f} min), "
        f"{len(speakers)} speakers, languages {', '.join(languages)}, {len(table)} symbols, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, codec {codec.config.name} "
        f"({codec.identity_hash()[:12]}), n_q {n_q}; data ready in {data_seconds:.0f} s"
        + (f"; resuming at step {step}" if step else "")
    )
    batches: list = []
    running: dict[str, float] = {}
    model.train()
    loop_start = time.perf_counter() - trained_seconds
    final: dict[str, float] = {}
    while step < config.train.steps:
        if not batches:
            batches = make_batches(encoded, config.train.batch_frames, rng)
        batch = collate(batches.pop(), stats)
        out_step = model(
            batch.ids,
            batch.text_lengths,
            batch.mels,
            batch.pitch,
            batch.voiced,
            batch.energy,
            batch.frame_lengths,
            batch.speakers,
            batch.languages,
            prior=step < config.train.prior_steps,
        )
        losses = tts_losses(out_step, batch.codes, batch.frame_lengths, batch.text_lengths)
        total = _losses_total(losses, config)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        optimizer.step()
        scheduler.step()
        step += 1
        values = {k: float(v.detach()) for k, v in losses.items() if k != "accuracy"}
        values["loss"] = float(total.detach())
        values["acc_q1"] = float(losses["accuracy"][0])
        values["acc_mean"] = float(losses["accuracy"].mean())
        for key, value in values.items():
            running[key] = running.get(key, 0.0) + value
        running["_n"] = running.get("_n", 0.0) + 1
        logger.step(step, {"train/loss": values["loss"]})
        if step % config.train.log_interval == 0 or step == config.train.steps:
            n = running.pop("_n")
            final = {k: v / n for k, v in running.items()}
            final["lr"] = scheduler.get_last_lr()[0]
            logger.scalars(step, "train", final)
            logger.message(
                f"step {step}: loss {final['loss']:.3f} ce {final['ce']:.3f} align {final['align']:.3f} "
                f"dur {final['duration']:.3f} acc q1 {final['acc_q1']:.3f} mean {final['acc_mean']:.3f}"
            )
            running = {}
        if step % config.train.checkpoint_interval == 0 or step == config.train.steps:
            trained_seconds = time.perf_counter() - loop_start
            atomic_save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": capture_rng(),
                    "step": step,
                    "trained_seconds": trained_seconds,
                },
                checkpoint,
            )
            model.eval()
            atomic_save(bundle().payload(), out / MODEL_FILE)
            model.train()
    trained_seconds = time.perf_counter() - loop_start
    logger.close()
    summary: dict[str, Any] = {
        "steps": step,
        "train_seconds": round(trained_seconds, 1),
        "data_seconds": round(data_seconds, 1),
        "clips": len(encoded),
        "minutes": round(sum(e.item.frames for e in encoded) / codec.frame_rate / 60, 2),
        "speakers": speakers,
        "languages": languages,
        "symbols": len(table),
        "parameters": sum(p.numel() for p in model.parameters()),
        "codec": {"name": codec.config.name, "identity": codec.identity_hash(), "source": str(codec_source)},
        "final": final,
    }
    write_json_atomic(out / "summary.json", summary)
    if not (out / MODEL_FILE).is_file():
        atomic_save(bundle().payload(), out / MODEL_FILE)
    return TrainResult(out, step, trained_seconds, len(encoded), final)
