"""The study runner's ``tts`` stage: train a TTS on one codec's tokens, then evaluate it. One call per codec.

The runner calls :func:`run_tts` with the codec's checkpoint, the training manifest (the transcribed clips every
codec's TTS is trained on, the same for all codecs so that only the codec differs) and an evaluation manifest,
and ``runs/<study>/tts/<codec>/`` as ``out_dir``. Re-running is cheap: a finished training is not redone (the
trainer resumes a partial one) and the evaluation skips (clip, system) pairs already in ``results.jsonl``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codecstudy.jsonl import read_jsonl
from codecstudy.tts.bundle import MODEL_FILE, load_bundle
from codecstudy.tts.config import TTSConfig, load_tts_config
from codecstudy.tts.evaluate import METRICS, evaluate_tts, summarize
from codecstudy.tts.train import train_tts


def _trained(model_dir: Path, config: TTSConfig) -> bool:
    import json

    summary = model_dir / "summary.json"
    if not (summary.is_file() and (model_dir / MODEL_FILE).is_file()):
        return False
    return int(json.loads(summary.read_text(encoding="utf-8")).get("steps", 0)) >= config.train.steps


def run_tts(
    codec_checkpoint: str | Path,
    train_manifest: str | Path,
    eval_manifest: str | Path,
    out_dir: str | Path,
    config: TTSConfig | str = "tiny",
    *,
    systems: Sequence[str] = ("reference", "codec", "tts"),
    metrics: Sequence[str] = METRICS,
    max_eval_clips: int | None = 40,
    asr_model: str | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Train (or resume) and evaluate the TTS of one codec.

    Writes ``OUT/model/`` (model.pt, config.yaml, train.log, metrics.jsonl, summary.json, cache/) and
    ``OUT/eval/`` (results.jsonl: one line per clip and system; table.md, table.csv, summary.json: one row per
    system and language; audio/<system>/<clip>.wav). Returns ``{"model": path, "results": path,
    "table": [rows of summarize()], "train": train summary dict}``.
    """
    import json

    if isinstance(config, str):
        config = load_tts_config(config)
    out = Path(out_dir)
    model_dir = out / "model"
    if not _trained(model_dir, config):
        train_tts(codec_checkpoint, train_manifest, model_dir, config, show_progress=show_progress)
    bundle = load_bundle(model_dir)
    eval_dir = out / "eval"
    evaluate_tts(
        bundle,
        eval_manifest,
        eval_dir,
        systems=systems,
        metrics=metrics,
        max_clips=max_eval_clips,
        asr_model=asr_model,
    )
    rows = list(read_jsonl(eval_dir / "results.jsonl"))
    return {
        "model": str(model_dir / MODEL_FILE),
        "results": str(eval_dir / "results.jsonl"),
        "table": summarize(rows),
        "train": json.loads((model_dir / "summary.json").read_text(encoding="utf-8")),
    }
