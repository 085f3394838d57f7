"""The study file: corpus, coverage conditions, evaluation sets, codecs to train, how to score them, the report.

Every section has a default, so the smallest study names only its corpus: it then trains SoundStream on the
paper's three conditions (``english``, ``multilingual``, ``multilingual_audio``) with the same amount of audio
each, and scores them on every evaluation set at 1, 2, 4 and 8 codebooks. Unknown keys are rejected so that a
typo never silently falls back to a default.

This module checks the *shape* of the file (types, names, references between sections). What needs the disk or
heavy imports (dataset folders, codec presets with their overrides, metric names and libraries) is checked by
:func:`codecstudy.study.runner.check_study`, which ``study run --dry-run`` calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from codecstudy.config import apply_overrides, load_yaml, validate
from codecstudy.corpus.builder import CorpusConfig
from codecstudy.corpus.conditions import ConditionsConfig
from codecstudy.errors import CodecStudyError, ConfigError
from codecstudy.study.slurm_spec import ExecutionSections

#: The paper's three coverage conditions. Without ``languages`` a condition takes every language the corpus has.
PAPER_CONDITIONS: list[dict[str, Any]] = [
    {"name": "english", "languages": ["en"], "domains": ["speech"]},
    {"name": "multilingual", "domains": ["speech"]},
    {"name": "multilingual_audio", "domains": ["speech", "music", "environment"]},
]
#: Preset sizes: ``codec.preset: tiny`` with architecture ``soundstream`` means ``configs/codecs/soundstream-tiny``.
PRESET_SIZES = ("tiny", "small", "paper")
Architecture = Literal["soundstream", "encodec", "dac"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodecSection(_Strict):
    """Which codec config every condition trains, and the overrides applied to it (``train.steps=500``)."""

    preset: str = Field(
        "tiny",
        description="tiny, small or paper (-> <architecture>-<size> preset), a preset name, or a codec YAML path "
        "(relative to the study file)",
    )
    overrides: list[str] = Field(default_factory=list, description="key=value, as `codecstudy train --set`")

    @field_validator("overrides")
    @classmethod
    def _key_value(cls, items: list[str]) -> list[str]:
        bad = [item for item in items if "=" not in item or not item.partition("=")[0].strip()]
        if bad:
            raise ValueError(f"expected key=value items such as train.steps=500, got {bad[0]!r}")
        return items


class TrainSection(_Strict):
    """Seeds and validation of the training runs (the schedule itself is the codec config's ``train:``)."""

    seeds: list[int] | None = Field(
        None,
        min_length=1,
        description="None: one run with the preset's seed; a list: one run per seed (model init and crops), "
        "reported as mean and spread when there are two or more",
    )
    validation: bool = Field(True, description="validate on each condition's valid split while training")
    noise_probe: list[str] = Field(
        default_factory=list,
        description="conditions trained a second time with seed `noise_probe_seed` (a single-seed study's noise "
        "floor: condition differences smaller than the run-to-run difference are 'within training noise')",
    )
    noise_probe_seed: int = Field(1, description="the probe runs' seed (model init and crops)")

    @field_validator("seeds")
    @classmethod
    def _unique(cls, seeds: list[int] | None) -> list[int] | None:
        if seeds is not None and len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be unique, got {seeds}")
        return seeds


class EvaluateSection(_Strict):
    """What is scored: sets, bitrates (numbers of codebooks), metrics."""

    sets: list[str] | None = Field(None, description="names of eval_sets to score; None: all of them")
    n_q: list[int] = Field(default_factory=lambda: [1, 2, 4, 8], min_length=1)
    metrics: list[str] = Field(default_factory=lambda: ["default"], min_length=1, description="metrics and groups")
    mode: Literal["parity", "fast"] = "parity"
    metric_settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="{metric: {key: value}}")
    max_clips: int | None = Field(
        None, gt=0, description="default max_clips of every eval set (a seeded sample): keeps a demo fast"
    )
    workers: int | None = Field(None, ge=1, description="scoring processes; None: one per core")
    device: str = Field(
        "cpu", pattern=r"^(cpu|auto|cuda(:\d+)?)$",
        description="where the model-based metrics (spk_sim, utmos, sheet_ssqa, speech_bert) run: cpu, cuda, cuda:N, "
        "or auto (a GPU when one is visible)",
    )
    delay_compensation: bool = True
    frames: Literal["robust", "parity"] = Field(
        "robust", description="frame rule of the spectral-envelope, pitch and mel metrics (docs/metrics.md): robust "
        "leaves out the reference's silent frames; parity keeps VERSA's frames (for published numbers). A metric's "
        "own `frames` in metric_settings wins",
    )
    split_seen_speakers: bool = Field(
        False, description="split every evaluation set whose speakers some condition trained on into <set>/seen and "
        "<set>/unseen groups in the tables (per condition)",
    )
    validity: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="{metric: {domains: [...], languages: [...], n_q: [...]}}: override where a metric applies "
        "(default: speech-only metrics are skipped on music/environment; n_q keeps a dear metric to some numbers "
        "of codebooks; see docs/metrics.md)",
    )

    @field_validator("n_q")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(v < 1 for v in values):
            raise ValueError(f"numbers of codebooks must be >= 1, got {values}")
        return sorted(set(values))

    @field_validator("validity")
    @classmethod
    def _validity_fits(cls, raw: dict[str, dict[str, Any]], info: ValidationInfo) -> dict[str, dict[str, Any]]:
        """Bad ``validity`` entries fail when the study is read, not after its codecs are trained; an ``n_q`` the
        study never evaluates would silently drop the metric."""
        from codecstudy.evaluate.applicability import parse_overrides

        try:
            parsed = parse_overrides(raw)
        except CodecStudyError as exc:
            raise ValueError(str(exc).removeprefix("evaluate.validity.")) from None
        evaluated = info.data.get("n_q") or []
        for metric, v in parsed.items():
            missing = sorted(set(v.n_q or ()) - set(evaluated))
            if missing:
                raise ValueError(f"{metric}.n_q: {missing} not among evaluate.n_q {evaluated}")
        scored = _scored_metrics(info.data.get("metrics"))
        for metric in parsed:
            if scored is not None and metric not in scored:
                raise ValueError(f"{metric}: not a metric this study scores (evaluate.metrics: {', '.join(scored)})")
        return raw


def _scored_metrics(metrics: list[str] | None) -> list[str] | None:
    """The metric names ``evaluate.metrics`` comes to (groups expanded); None when it names an unknown metric,
    which the dry run reports under its own key."""
    from codecstudy.evaluate.registry import resolve_metrics  # torch: the registry imports the model metrics

    try:
        return [spec.name for spec in resolve_metrics(list(metrics or []))]
    except CodecStudyError:
        return None


class ReportSection(_Strict):
    """The HTML report: the bitrate of its tables and audio, how many clips to play, the paired test."""

    title: str | None = None
    n_q: int = Field(8, ge=1, description="tables and audio at the largest evaluated n_q <= this")
    audio_clips: int = Field(3, ge=0, description="clips per evaluation set with audio players")
    test: Literal["wilcoxon", "permutation", "bootstrap"] = "wilcoxon"
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    n_boot: int = Field(1000, ge=10)
    cost_metric: str | None = Field(None, description="the metric of the quality-against-cost plot (default: stoi "
                                    "when scored, else the first metric of the paper-style tables)")
    statistic: Literal["mean", "median", "trimmed_mean"] = Field(
        "mean", description="what the paper tables' best/worst flags and counts compare: the mean, or a robust "
        "statistic (median, 10 % trimmed mean) that a few wild clips cannot carry",
    )


class TTSSection(_Strict):
    """The downstream TTS stage (docs/tts.md): one TTS per codec, trained on the same transcribed clips.

    Off by default: the tiny TTS preset takes about 15 minutes per codec on 2 CPU cores, which the demo's 60-minute
    budget does not hold for three codecs (``codecstudy study run ... --tts`` or ``tts.enabled=true`` turns it on).
    """

    enabled: bool = False
    preset: str = Field("tiny", description="TTS preset (configs/tts/<name>.yaml) or a TTS YAML path")
    overrides: list[str] = Field(default_factory=list, description="key=value, as `codecstudy tts train --set`")
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1,
                                 description="train on the transcribed train-split speech of these languages")
    eval_set: str = Field("en", description="the eval set whose transcribed clips are synthesised and scored")
    max_eval_clips: int | None = Field(20, ge=1)
    systems: list[Literal["reference", "codec", "tts", "mel"]] = Field(
        default_factory=lambda: ["reference", "codec", "tts"], min_length=1)
    metrics: list[Literal["asr", "dnsmos", "spk"]] = Field(
        default_factory=lambda: ["asr", "dnsmos", "spk"], min_length=1,
        description="ASR WER/CER, DNSMOS OVRL, speaker similarity (the eval extra's offline models)")


class BaselineEntry(_Strict):
    """One codec scored beside the trained ones: a name ``codecstudy evaluate --codec`` takes."""

    codec: str = Field(..., min_length=1, description="opus:6kbps, codec2:3200, encodec:24khz:6kbps, a checkpoint ...")
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$",
                             description="row name in tables and plots (default: the codec name, ':' -> '-')")


class BaselinesSection(_Strict):
    """Codecs the study does not train (classic and pretrained ones), scored on the same evaluation sets at their
    own bitrates (the settings their names select: ``opus:6kbps``), so that the tables have reference rows."""

    codecs: list[BaselineEntry | str] = Field(default_factory=list)
    count_in_best_worst: bool = Field(
        False, description="let baselines win or lose the coverage conditions' best/worst cells (default: they are "
        "shown but not counted, so the counts compare the conditions only)"
    )

    def entries(self) -> list[BaselineEntry]:
        return [BaselineEntry(codec=c) if isinstance(c, str) else c for c in self.codecs]


class ListenSection(_Strict):
    """The MUSHRA listening test (docs/listening.md): ``codecstudy listen build``, or ``study run`` when enabled."""

    enabled: bool = Field(False, description="build listen/index.html after the report in `study run`")
    trials: int = Field(12, ge=1, description="trials drawn from the eval sets, stratified by language/domain")
    seed: int = Field(0, description="seed of the trial sample; each listener's order is seeded by it and their id")
    max_seconds: float = Field(8.0, gt=0, le=30, description="stimuli are the clips' first seconds")
    min_seconds: float = Field(1.0, ge=0, description="clips shorter than this are not drawn")
    target_lufs: float = Field(-23.0, le=0, description="loudness of every stimulus (BS.1770 LUFS), lower if a "
                               "stimulus would clip")
    sets: list[str] | None = Field(None, description="eval sets to draw from; None: the evaluated sets")


class StageSections(_Strict):
    """The sections a study file and a loaded study share as they are (the corpus and the conditions are turned
    into their configs on loading); declared once, so the file, the study and ``study.yaml`` cannot drift."""

    architectures: list[Architecture] = Field(default_factory=lambda: ["soundstream"], min_length=1)
    codec: CodecSection = Field(default_factory=CodecSection)
    train: TrainSection = Field(default_factory=TrainSection)
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection)
    report: ReportSection = Field(default_factory=ReportSection)
    tts: TTSSection = Field(default_factory=TTSSection)
    baselines: BaselinesSection = Field(default_factory=BaselinesSection)
    listen: ListenSection = Field(default_factory=ListenSection)
    checkpoints: dict[str, str] = Field(
        default_factory=dict,
        description="condition -> codec source (espnet:PATH, a codecstudy checkpoint): that condition's codec is "
        "taken as it is instead of trained (e.g. the paper's released codecs, configs/studies/paper-released.yaml)",
    )
    parallel: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        1, description="study items (a codec's training, a codec x set's scoring) run at once as separate "
        "processes: 1 = one at a time, auto = one per core (codecstudy.study.parallel)")

    @field_validator("architectures")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"architectures must be unique, got {names}")
        return names

    @field_validator("parallel", mode="before")
    @classmethod
    def _processes(cls, value: Any) -> Any:
        """In the words of ``--parallel``, not pydantic's (whose union of a number and a literal reads as
        ``parallel.constrained-int``)."""
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise ValueError(f"expected a number of processes >= 1 or auto, got {value!r}")

    def stage_sections(self) -> dict[str, Any]:
        """Each shared section as it is (models, not dicts)."""
        return {name: getattr(self, name) for name in StageSections.model_fields}


class _StudySections(StageSections, ExecutionSections):
    """The study file as written: the corpus and the conditions still plain mappings."""

    name: str = Field("study", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    corpus: dict[str, Any]
    conditions: list[dict[str, Any]] = Field(default_factory=lambda: [dict(c) for c in PAPER_CONDITIONS], min_length=1)
    eval_sets: list[dict[str, Any]] = Field(default_factory=list)
    match_volume: bool = True
    seed: int = 0


@dataclass(frozen=True)
class Baseline:
    """A codec scored but not trained: its row name (``eval/<name>/``) and the codec name it is opened by."""

    name: str
    codec: str


def baseline_name(codec: str) -> str:
    """``opus:6kbps`` -> ``opus-6kbps``; a path keeps its file name."""
    text = codec.replace("\\", "/").rstrip("/")
    parts = [p.rsplit("/", 1)[-1] for p in text.split(":")]
    return "-".join(p for p in parts if p) or "baseline"


@dataclass(frozen=True)
class CodecRun:
    """One codec to train: a condition x architecture x seed, and the folder name ``codecs/<name>``."""

    name: str
    condition: str
    architecture: str
    seed: int | None
    source: str
    overrides: tuple[str, ...]
    pretrained: bool = False  # ``source`` is a finished codec (study ``checkpoints:``), imported instead of trained
    probe: bool = False  # a noise probe: the condition trained again with another seed (train.noise_probe)


class StudySpec(StageSections, ExecutionSections):
    """A validated study."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str
    corpus: CorpusConfig
    conditions: ConditionsConfig
    path: Path | None = None

    @property
    def where(self) -> str:
        """The prefix of this study's error lines: its file."""
        return f"{self.path}: " if self.path else ""

    @property
    def condition_names(self) -> list[str]:
        return [c.name for c in self.conditions.conditions]

    @property
    def eval_set_names(self) -> list[str]:
        """The sets that are scored (``evaluate.sets``, default every eval set)."""
        every = [s.name for s in self.conditions.eval_sets]
        return list(self.evaluate.sets) if self.evaluate.sets is not None else every

    def codec_source(self, architecture: str) -> str:
        """Preset name or codec YAML path for one architecture."""
        preset = self.codec.preset
        if preset in PRESET_SIZES:
            return f"{architecture}-{preset}"
        if preset.endswith((".yaml", ".yml")) or "/" in preset:
            path = Path(preset)
            if not path.is_absolute() and self.path is not None and (self.path.parent / path).is_file():
                path = self.path.parent / path
            return str(path)
        return preset

    def codec_runs(self, only: list[str] | None = None) -> list[CodecRun]:
        """Every codec of the study (optionally of some conditions only), in condition, architecture, seed order."""
        seeds: list[int | None] = list(self.train.seeds) if self.train.seeds else [None]
        runs = []
        for condition in self.condition_names:
            if only and condition not in only:
                continue
            if condition in self.checkpoints:
                arch = self.architectures[0]
                runs.append(CodecRun(f"{condition}-{arch}", condition, arch, None, self.checkpoints[condition], (),
                                     pretrained=True))
                continue
            for arch in self.architectures:
                for seed in seeds:
                    name = f"{condition}-{arch}" + (f"-s{seed}" if len(seeds) > 1 else "")
                    extra = (f"seed={seed}", f"train.seed={seed}") if seed is not None else ()
                    runs.append(
                        CodecRun(name, condition, arch, seed, self.codec_source(arch), (*self.codec.overrides, *extra))
                    )
        return runs + self.probe_runs(only)

    def compared_runs(self) -> list[CodecRun]:
        """The codecs the tables, the report's players, the listening test and the TTS compare: every run but the
        noise probes (which only measure the run-to-run difference)."""
        return [run for run in self.codec_runs() if not run.probe]

    def probe_runs(self, only: list[str] | None = None) -> list[CodecRun]:
        """The noise probes (``train.noise_probe``): each named condition once more, with the probe seed."""
        seed = self.train.noise_probe_seed
        return [
            CodecRun(f"{condition}-{arch}-probe", condition, arch, seed, self.codec_source(arch),
                     (*self.codec.overrides, f"seed={seed}", f"train.seed={seed}"), probe=True)
            for condition in self.train.noise_probe if not only or condition in only
            for arch in self.architectures
        ]

    def baseline_runs(self) -> list[Baseline]:
        """The ``baselines:`` codecs with their row names, in file order."""
        return [Baseline(e.name or baseline_name(e.codec), e.codec) for e in self.baselines.entries()]

    def resolved(self) -> dict[str, Any]:
        """The study with every default filled in (written to ``runs/<study>/study.yaml``)."""
        shared = StageSections.model_validate(self.stage_sections()).model_dump(mode="json")
        return {
            "name": self.name,
            "description": self.description,
            "corpus": self.corpus.to_dict(),
            **self.conditions.model_dump(mode="json"),
            **shared,
        }


def load_study(path: str | Path, overrides: list[str] | None = None) -> StudySpec:
    """Read a study YAML; every error names the file and the dotted key."""
    data = apply_overrides(load_yaml(path), overrides or [])
    sections = validate(_StudySections, data, file=path)
    corpus = CorpusConfig.from_dict(sections.corpus, where="corpus", file=str(path))
    eval_sets = [dict(s) for s in sections.eval_sets]
    if sections.evaluate.max_clips is not None:
        for spec in eval_sets:
            if isinstance(spec, dict):
                spec.setdefault("max_clips", sections.evaluate.max_clips)
    conditions = validate(
        ConditionsConfig,
        {
            "conditions": sections.conditions,
            "eval_sets": eval_sets,
            "match_volume": sections.match_volume,
            "seed": sections.seed,
        },
        file=path,
    )
    known = [s.name for s in conditions.eval_sets]
    for index, name in enumerate(sections.evaluate.sets or []):
        if name not in known:
            raise ConfigError(
                f"{path}: evaluate.sets[{index}]: no eval set named {name!r} (eval_sets: {', '.join(known) or 'none'})"
            )
    trained = {f"{c.get('name')}-{a}" for c in sections.conditions if isinstance(c, dict)
               for a in sections.architectures}
    seen: set[str] = set()
    for index, entry in enumerate(sections.baselines.entries()):
        row = entry.name or baseline_name(entry.codec)
        if row in seen or any(row == t or row.startswith(f"{t}-s") for t in trained):
            raise ConfigError(
                f"{path}: baselines.codecs[{index}]: the row name {row!r} is already used; give it another `name:`"
            )
        seen.add(row)
    if sections.tts.enabled and sections.tts.eval_set not in known:
        raise ConfigError(f"{path}: tts.eval_set: no eval set named {sections.tts.eval_set!r} "
                          f"(eval_sets: {', '.join(known) or 'none'})")
    for index, name in enumerate(sections.listen.sets or []):
        if name not in known:
            raise ConfigError(f"{path}: listen.sets[{index}]: no eval set named {name!r} "
                              f"(eval_sets: {', '.join(known) or 'none'})")
    names = [c.name for c in conditions.conditions]
    for condition in sections.checkpoints:
        if condition not in names:
            raise ConfigError(f"{path}: checkpoints.{condition}: no such condition (conditions: {', '.join(names)})")
    for index, condition in enumerate(sections.train.noise_probe):
        if condition not in names or condition in sections.checkpoints:
            raise ConfigError(f"{path}: train.noise_probe[{index}]: {condition!r} is not a trained condition "
                              f"(conditions: {', '.join(n for n in names if n not in sections.checkpoints)})")
    if sections.train.noise_probe and sections.train.seeds and len(sections.train.seeds) > 1:
        raise ConfigError(f"{path}: train.noise_probe: a study with several train.seeds measures training noise "
                          "with its runs; a probe is for single-seed studies")
    if sections.checkpoints and (len(sections.architectures) > 1 or sections.train.seeds):
        raise ConfigError(f"{path}: checkpoints: a study with given checkpoints takes one architecture and no "
                          "train.seeds (each checkpoint is one codec)")
    return StudySpec(name=sections.name, description=sections.description, corpus=corpus, conditions=conditions,
                     path=Path(path), executor=sections.executor, slurm=sections.slurm, **sections.stage_sections())


def load_corpus_config(path: str | Path, overrides: list[str] | None = None) -> CorpusConfig:
    """A corpus config from a study file (its ``corpus:`` section) or from a file that is only a corpus.

    Overrides are relative to the corpus section (``clips.min_duration=1``), whichever file it came from.
    """
    data = load_yaml(path)
    where = ""
    if "corpus" in data:
        data, where = data["corpus"], "corpus"
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: corpus: expected a mapping")
    return CorpusConfig.from_dict(apply_overrides(data, overrides or []), where=where, file=str(path))
