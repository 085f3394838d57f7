"""Where every stage of a study reads and writes, under one run folder (DESIGN.md, "Run folder").

Every file name of a run folder that the study package reads or writes is spelled here and nowhere else in
``study/``: the status command, the state checks, the tables, the report and the tests name the same paths. Files
inside a stage's own folder keep the name their stage gives them (the evaluation folder's, from
:mod:`codecstudy.evaluate.outputs`), and this module passes those names on rather than spelling them again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from codecstudy.evaluate.outputs import DELAY_NAME, FAD_NAME, META_NAME, RESULTS_PREFIX, USAGE_NAME, results_files

STUDY_FILE = "study.yaml"
STAGES_LOG = "stages.jsonl"
JOB_STAGES_DIR = "stages"  # one records file per cluster job: appends from several nodes to one file are not atomic
SLURM_DIR = "slurm"
SLURM_JOBS = "jobs.json"
CONDITIONS_DONE = "conditions.done.json"
TABLES_DONE = "tables.done.json"  # written after every table file: a crashed aggregation leaves none
CORPUS_SUMMARY = "corpus.json"
CORPUS_BUILD_DIR = ".build"
MANIFEST = "manifest.jsonl"
LEAKAGE_TEXT, LEAKAGE_JSON = "leakage.txt", "leakage.json"
SPEAKERS_JSON = "speakers.json"  # per condition x eval set: the clips of seen and unseen speakers
# Names given by train/, tts/ and listen/, restated here because their modules import torch or numpy at import
# time; tests/study/test_study_layout.py checks that each still matches its owner's.
CODEC_FILE = "codec.pt"  # train.trainer.CODEC_NAME
TRAIN_SUMMARY = "summary.json"  # train.trainer.SUMMARY_NAME
TRAIN_METRICS = "metrics.jsonl"  # train.logging.METRICS_NAME
CHECKPOINT_DIR = "checkpoints"  # train.trainer.CHECKPOINT_DIR
TTS_MODEL_FILE = "model.pt"  # tts.bundle.MODEL_FILE
LISTEN_TRIALS = "trials.json"  # listen.build.TEST_FILE
LISTEN_RATINGS = "ratings"  # listen.build.RATINGS_DIR
IMPORTED_MARKER = "imported.json"  # a given codec (study ``checkpoints:``): where it was imported from
TTS_MODEL_DIR, TTS_EVAL_DIR = "model", "eval"
LISTEN_PAGE = "index.html"
MUSHRA_SUMMARY = "mushra.json"
REPORT_PAGE = "index.html"
_STEP_FILE = re.compile(r"step-(\d+)\.pt$")


@dataclass(frozen=True)
class RunLayout:
    """Paths of one study run: ``runs/<study>/...``."""

    root: Path

    @property
    def study_file(self) -> Path:
        return self.root / STUDY_FILE

    @property
    def stages_log(self) -> Path:
        return self.root / STAGES_LOG

    def job_stages_log(self, job: str) -> Path:
        """``<run>/stages/<job>.jsonl``: the records of one cluster job (read together with ``stages.jsonl``)."""
        return self.root / JOB_STAGES_DIR / f"{_safe(job)}.jsonl"

    @property
    def job_stages_dir(self) -> Path:
        return self.root / JOB_STAGES_DIR

    # ------------------------------------------------------------------------------------------------ Slurm
    @property
    def slurm_dir(self) -> Path:
        return self.root / SLURM_DIR

    @property
    def slurm_jobs(self) -> Path:
        """``slurm/jobs.json``: the submitted job graph (job ids, items, dependencies)."""
        return self.slurm_dir / SLURM_JOBS

    def slurm_script(self, job: str) -> Path:
        return self.slurm_dir / f"{_safe(job)}.sbatch"

    @property
    def slurm_logs(self) -> Path:
        return self.slurm_dir / "logs"

    def slurm_log(self, job: str, pattern: str = "%j") -> Path:
        """A job's log: ``slurm/logs/<job>-<id>.out`` (``pattern`` is Slurm's ``%j`` or ``%A_%a`` until known)."""
        return self.slurm_logs / f"{_safe(job)}-{pattern}.out"

    def run_lock(self, name: str) -> Path:
        """``<run>/.<name>.lock``: one per shared stage (the corpus, the report)."""
        return self.root / f".{name}.lock"

    def item_lock(self, stage: str, item: str) -> Path:
        """``<run>/.locks/<stage>-<item>.lock``: one per study item (a codec's training, a codec x set)."""
        return self.root / ".locks" / f"{_safe(f'{stage}-{item}')}.lock"

    # ------------------------------------------------------------------------------------------------ corpus
    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    @property
    def corpus_summary(self) -> Path:
        return self.corpus / CORPUS_SUMMARY

    @property
    def corpus_build_dir(self) -> Path:
        """The builder's progress folder: present while a build is unfinished."""
        return self.corpus / CORPUS_BUILD_DIR

    @property
    def manifest(self) -> Path:
        return self.corpus / MANIFEST

    @property
    def conditions_done(self) -> Path:
        return self.corpus / CONDITIONS_DONE

    @property
    def conditions_dir(self) -> Path:
        return self.corpus / "conditions"

    def condition_manifest(self, condition: str) -> Path:
        return self.conditions_dir / f"{condition}.jsonl"

    def condition_stats(self, condition: str) -> Path:
        return self.conditions_dir / f"{condition}.stats.json"

    def valid_manifest(self, condition: str) -> Path:
        """Validation clips of a condition: its filter applied to the valid split (kept out of ``conditions/``)."""
        return self.corpus / "valid" / f"{condition}.jsonl"

    def eval_manifest(self, eval_set: str) -> Path:
        return self.corpus / "eval_sets" / f"{eval_set}.jsonl"

    @property
    def leakage_text(self) -> Path:
        return self.corpus / LEAKAGE_TEXT

    @property
    def leakage_json(self) -> Path:
        return self.corpus / LEAKAGE_JSON

    @property
    def speakers_json(self) -> Path:
        """Per condition x eval set, which clips come from a speaker the condition trained on (seen), which from one
        it never heard (unseen) and which have no speaker label (:func:`codecstudy.corpus.leakage.speaker_splits`)."""
        return self.corpus / SPEAKERS_JSON

    @property
    def audio_cache(self) -> Path:
        """Decoded training audio, shared by every codec of the study (the conditions overlap)."""
        return self.root / "cache" / "train-audio"

    # ------------------------------------------------------------------------------------------------ codecs
    def codec_dir(self, codec: str) -> Path:
        return self.root / "codecs" / codec

    def codec_file(self, codec: str) -> Path:
        return self.codec_dir(codec) / CODEC_FILE

    def train_summary(self, codec: str) -> Path:
        return self.codec_dir(codec) / TRAIN_SUMMARY

    def train_metrics(self, codec: str) -> Path:
        return self.codec_dir(codec) / TRAIN_METRICS

    def imported_marker(self, codec: str) -> Path:
        return self.codec_dir(codec) / IMPORTED_MARKER

    def last_checkpoint_step(self, codec: str) -> int | None:
        """The step of the newest ``checkpoints/step-N.pt`` of a codec, None without one."""
        folder = self.codec_dir(codec) / CHECKPOINT_DIR
        steps = [int(m.group(1)) for p in folder.glob("step-*.pt") if (m := _STEP_FILE.search(p.name))]
        return max(steps) if steps else None

    # ------------------------------------------------------------------------------------------- evaluation
    @property
    def eval_root(self) -> Path:
        return self.root / "eval"

    def eval_dir(self, codec: str, eval_set: str) -> Path:
        return self.eval_root / codec / eval_set

    def eval_meta(self, codec: str, eval_set: str) -> Path:
        return self.eval_dir(codec, eval_set) / META_NAME

    def eval_delay(self, codec: str, eval_set: str) -> Path:
        return self.eval_dir(codec, eval_set) / DELAY_NAME

    def eval_setting_dir(self, codec: str, eval_set: str, setting: int | str) -> Path:
        """One number of codebooks (a trained codec) or one named setting (a baseline)."""
        return self.eval_dir(codec, eval_set) / str(setting)

    def eval_results(self, codec: str, eval_set: str, setting: int | str) -> list[Path]:
        """Every result file of one setting: ``results.jsonl`` or its shards ``results-K-of-N.jsonl``."""
        return results_files(self.eval_setting_dir(codec, eval_set, setting))

    def all_eval_results(self, codec: str) -> list[Path]:
        folder = self.eval_root / codec
        return sorted(folder.rglob(f"{RESULTS_PREFIX}*.jsonl")) if folder.is_dir() else []

    def eval_usage(self, codec: str, eval_set: str, setting: int | str) -> Path:
        return self.eval_setting_dir(codec, eval_set, setting) / USAGE_NAME

    def eval_fad(self, codec: str, eval_set: str, setting: int | str) -> Path:
        return self.eval_setting_dir(codec, eval_set, setting) / FAD_NAME

    # -------------------------------------------------------------------------------------------------- TTS
    @property
    def tts_root(self) -> Path:
        return self.root / "tts"

    @property
    def tts_train_manifest(self) -> Path:
        """The transcribed clips every codec's TTS trains on (the same for all, so that only the codec differs)."""
        return self.tts_root / "train.jsonl"

    def tts_dir(self, codec: str) -> Path:
        return self.tts_root / codec

    def tts_model(self, codec: str) -> Path:
        return self.tts_dir(codec) / TTS_MODEL_DIR / TTS_MODEL_FILE

    def tts_model_summary(self, codec: str) -> Path:
        return self.tts_dir(codec) / TTS_MODEL_DIR / "summary.json"

    def tts_eval_dir(self, codec: str) -> Path:
        return self.tts_dir(codec) / TTS_EVAL_DIR

    def tts_eval_summary(self, codec: str) -> Path:
        """A codec's TTS evaluation table; written last by the TTS evaluation."""
        return self.tts_eval_dir(codec) / "summary.json"

    def tts_eval_results(self, codec: str) -> Path:
        return self.tts_eval_dir(codec) / f"{RESULTS_PREFIX}.jsonl"

    def card_file(self, codec: str) -> Path:
        """A codec's cost card (parameters, MACs/s, latency, token rate, real-time factors), one per codec version."""
        return self.root / "cards" / f"{codec}.json"

    # ------------------------------------------------------------------------------------- tables and report
    @property
    def tables(self) -> Path:
        return self.root / "tables"

    def table(self, name: str) -> Path:
        """``tables/<name>`` (``summary.csv``, ``paper.md``, ...)."""
        return self.tables / name

    @property
    def tables_done(self) -> Path:
        return self.tables / TABLES_DONE

    @property
    def mushra_summary(self) -> Path:
        return self.tables / MUSHRA_SUMMARY

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    @property
    def report_file(self) -> Path:
        return self.report_dir / REPORT_PAGE

    # ---------------------------------------------------------------------------------------------- listening
    @property
    def listen_dir(self) -> Path:
        """The listening test: ``index.html``, ``trials.json``, ``audio/`` and the imported ``ratings/``."""
        return self.root / "listen"

    @property
    def listen_page(self) -> Path:
        return self.listen_dir / LISTEN_PAGE

    @property
    def listen_trials(self) -> Path:
        return self.listen_dir / LISTEN_TRIALS

    @property
    def listen_ratings(self) -> Path:
        return self.listen_dir / LISTEN_RATINGS


def _safe(name: str) -> str:
    """A name as a file name: anything but letters, digits, ``_.-`` becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def share_suffix(shard: tuple[int, int] | None, part: str | None = None) -> str:
    """What one cluster job's share of an item adds to the item's lock and record file names: its metric part and
    its shard (``.part-gpu.shard-0-of-4``), so that the shares of one item run side by side."""
    part_name = f".part-{part}" if part else ""
    return part_name + (f".shard-{shard[0]}-of-{shard[1]}" if shard and shard[1] > 1 else "")


def default_run_dir(study_name: str) -> Path:
    """``runs/<study name>``: where a study runs when no ``--out`` is given."""
    return Path("runs") / study_name
