"""Scoring one (reference, decoded) pair: align it with the codec's delay, compute the reference-side features once
(through the cache), run every requested metric, and build the pair's record (values, errors, skip notes,
alignment, seconds). Both modes of the evaluation score their pairs here."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codecstudy.evaluate.align import Alignment, align_pair
from codecstudy.evaluate.applicability import duration_skip_reason, min_duration_of, skip_reason
from codecstudy.evaluate.base import MetricError, NotApplicable
from codecstudy.evaluate.cache import FeatureCache, feature_key, signal_digest
from codecstudy.evaluate.metrics import embedding, models
from codecstudy.evaluate.metrics.runtime import full_float32
from codecstudy.evaluate.metrics.spectral import world_settings
from codecstudy.evaluate.registry import MetricSpec, run_metric_applicable
from codecstudy.evaluate.settings import EvalSettings
from codecstudy.evaluate.world import WorldFeatures, world_features


@dataclass
class _Pair:
    """One pair while it is scored: the signals, the aligned estimate (None when alignment failed) and the
    estimate's WORLD analyses, shared by the metrics that use the same WORLD settings."""

    clip_id: str
    ref: np.ndarray
    est: np.ndarray
    sr: int
    digest: str
    fields: dict[str, Any]
    n_q: int | None
    aligned: np.ndarray | None
    alignment: Alignment
    alignment_error: str | None
    est_world: dict[str, WorldFeatures | MetricError] = field(default_factory=dict)


@dataclass
class _Outcome:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


class PairScorer:
    """Scores (reference, estimate) pairs with a fixed metric list; reference features go through the cache."""

    def __init__(self, settings: EvalSettings, cache: FeatureCache | None = None) -> None:
        self.settings = settings
        self.specs = settings.scored_specs()  # a part's run scores its part's metrics only
        self.metric_settings = settings.metric_settings()
        self.validity = settings.validities()
        self.cache = cache or FeatureCache(None)
        self._pair_refs: dict[str, Any] = {}  # the current pair's reference features, one object per key
        self.device = settings.model_device()
        full_float32(self.device)

    def score(
        self,
        clip_id: str,
        ref: np.ndarray,
        est: np.ndarray,
        sr: int,
        clip_fields: dict[str, Any] | None = None,
        delay: int = 0,
        n_q: int | None = None,
    ) -> dict[str, Any]:
        """Metric values, per-metric errors and the alignment for one pair (both at ``sr``, mono float).

        ``delay`` is the codec's delay (samples at ``sr``), the same for every clip of the codec setting; ``n_q``
        the setting's number of codebooks (None: no codebooks), for metrics a study keeps to some of them."""
        start = time.perf_counter()
        pair = self._prepare(clip_id, ref, est, sr, clip_fields or {}, delay, n_q)
        self._pair_refs = {}
        outcome = _Outcome()
        for spec in self.specs:
            self._score_metric(spec, pair, outcome)
        return _pair_record(pair, outcome, time.perf_counter() - start)

    def _prepare(self, clip_id: str, ref: np.ndarray, est: np.ndarray, sr: int, fields: dict[str, Any], delay: int,
                 n_q: int | None) -> _Pair:
        """The pair as float32 vectors, aligned when any metric needs it (a failure is kept as the reason)."""
        ref = np.asarray(ref, dtype=np.float32).reshape(-1)
        est = np.asarray(est, dtype=np.float32).reshape(-1)
        aligned: np.ndarray | None = None
        error: str | None = None
        alignment = Alignment(delay)
        if any(s.aligned for s in self.specs):
            try:
                if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(est))):
                    raise MetricError("non-finite samples (NaN or inf) in the reference or the estimate")
                a = self.settings
                aligned, alignment = align_pair(
                    ref, est, sr, delay=delay, max_delay_s=a.max_delay_s, max_mismatch=a.max_mismatch
                )
            except MetricError as exc:
                error = str(exc)
        return _Pair(clip_id, ref, est, sr, signal_digest(ref), fields, n_q, aligned, alignment, error)

    def _score_metric(self, spec: MetricSpec, pair: _Pair, outcome: _Outcome) -> None:
        """One metric on the pair: a skip note where it does not apply, an error where alignment or an analysis
        failed, else its values (and its error, if it raised one)."""
        settings = self.metric_settings[spec.name]
        reason = skip_reason(self.validity[spec.name], pair.fields.get("domain"), pair.n_q)
        if reason is None:  # a clip shorter than the method's minimum: the clip's limit, not the codec's failure
            reason = duration_skip_reason(min_duration_of(spec), pair.ref.size, pair.sr)
        if reason is not None:  # not applicable (e.g. PESQ on music): a note, neither a value nor an error
            outcome.skipped[spec.name] = reason
            return
        if spec.aligned and pair.aligned is None:
            outcome.errors[spec.name] = pair.alignment_error or "alignment failed"
            return
        target = pair.aligned if spec.aligned else pair.est
        extra: dict[str, Any] = {f: pair.fields.get(f) for f in spec.clip_fields}
        if spec.uses_device:
            extra["device"] = self.device
        try:
            extra.update(self._ref_feature(spec, pair.clip_id, pair.ref, pair.sr, pair.digest))
            if spec.feature == "world":
                extra["est_world"] = _est_world(pair, target, settings)
        except NotApplicable as exc:  # e.g. a reference that is digital silence throughout
            outcome.skipped[spec.name] = f"not applicable: {exc}"
            return
        except MetricError as exc:
            outcome.errors[spec.name] = f"reference/estimate analysis: {exc}"
            return
        result, error, not_applicable = run_metric_applicable(spec, pair.ref, target, pair.sr, settings, **extra)
        if not_applicable is not None:  # the metric found the clip unscorable (NotApplicable): a skip note
            outcome.skipped[spec.name] = not_applicable
        if error is not None:
            outcome.errors[spec.name] = error
        outcome.values.update(result)

    def _ref_feature(self, spec: MetricSpec, clip_id: str, ref: np.ndarray, sr: int, digest: str) -> dict[str, Any]:
        """The reference-side input a metric takes (WORLD analysis, speaker embedding, embedding frames), from the
        cache when an earlier pair or run computed it."""
        settings = self.metric_settings[spec.name]
        if spec.feature == "world":
            ws = world_settings(settings)
            key = feature_key("world", clip_id, sr, digest, ws.to_json())
            if key not in self._pair_refs:  # one object per pair, so metrics can share results memoised on it
                data = self.cache.get("world", key, lambda: world_features(ref, sr, ws).arrays())
                self._pair_refs[key] = WorldFeatures.from_arrays(data)
            return {"ref_world": self._pair_refs[key]}
        if spec.feature == "speaker":
            key = feature_key("speaker", clip_id, sr, digest, {"weights": settings.get("weights")})
            data = self.cache.get(
                "speaker",
                key,
                lambda: {"embedding": models.speaker_embedding(ref, sr, weights=settings.get("weights"),
                                                               device=self.device)},
            )
            return {"ref_embedding": data["embedding"]}
        if spec.feature == "embedding":
            model, threads = settings.get("model", "birdnet"), settings.get("threads", 1)
            key = feature_key("embedding", clip_id, sr, digest, {"model": model})
            data = self.cache.get(
                "embedding", key, lambda: {"frames": embedding.embed(ref, sr, model=model, threads=threads)}
            )
            return {"ref_frames": data["frames"]}
        return {}


def _est_world(pair: _Pair, target: np.ndarray, settings: dict[str, Any]) -> WorldFeatures:
    """The estimate's WORLD analysis at these settings, computed once per pair (a failure, too, is kept)."""
    key = json.dumps(world_settings(settings).to_json(), sort_keys=True, default=str)
    if key not in pair.est_world:
        try:
            pair.est_world[key] = world_features(target, pair.sr, world_settings(settings))
        except MetricError as exc:
            pair.est_world[key] = exc
    found = pair.est_world[key]
    if isinstance(found, MetricError):
        raise found
    return found


def _pair_record(pair: _Pair, outcome: _Outcome, seconds: float) -> dict[str, Any]:
    """The pair's part of a result line: metrics, errors, alignment, seconds, and what is not a score (the ASR
    transcript, skip notes, and embedding frames under ``_embeddings``, which the writer stores beside the line)."""
    values = dict(outcome.values)
    text = values.pop("asr_text", None)
    artifacts = {k: values.pop(k) for k in [k for k in values if k.startswith("_")]}  # arrays, not scores
    alignment = pair.alignment
    record: dict[str, Any] = {
        "metrics": {k: (float(v) if v is not None else None) for k, v in values.items()},
        "errors": outcome.errors,
        "alignment": {
            "delay_samples": alignment.delay,
            "clip_lag_samples": alignment.clip_lag,
            "clip_lag_correlation": None
            if alignment.clip_correlation is None
            else round(alignment.clip_correlation, 6),
            "length_ref": int(pair.ref.size),
            "length_est": int(pair.est.size),
        },
        "seconds": round(seconds, 4),
    }
    if text is not None:
        record["asr_text"] = text
    if outcome.skipped:
        record["skipped"] = outcome.skipped
    if artifacts:
        record["_embeddings"] = artifacts
    return record
