"""Where every stage of a study reads and writes, under one run folder (DESIGN.md, "Run folder").

Kept apart from the runner so that the status command, the report and the tests name the same paths without
running anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STUDY_FILE = "study.yaml"
STAGES_LOG = "stages.jsonl"
CONDITIONS_DONE = "conditions.done.json"
TABLES_DONE = "tables.done.json"  # written after every table file: a crashed aggregation leaves none


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

    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    @property
    def conditions_done(self) -> Path:
        return self.corpus / CONDITIONS_DONE

    def condition_manifest(self, condition: str) -> Path:
        return self.corpus / "conditions" / f"{condition}.jsonl"

    def valid_manifest(self, condition: str) -> Path:
        """Validation clips of a condition: its filter applied to the valid split (kept out of ``conditions/``)."""
        return self.corpus / "valid" / f"{condition}.jsonl"

    def eval_manifest(self, eval_set: str) -> Path:
        return self.corpus / "eval_sets" / f"{eval_set}.jsonl"

    @property
    def audio_cache(self) -> Path:
        """Decoded training audio, shared by every codec of the study (the conditions overlap)."""
        return self.root / "cache" / "train-audio"

    def codec_dir(self, codec: str) -> Path:
        return self.root / "codecs" / codec

    def codec_file(self, codec: str) -> Path:
        return self.codec_dir(codec) / "codec.pt"

    @property
    def eval_root(self) -> Path:
        return self.root / "eval"

    def eval_dir(self, codec: str, eval_set: str) -> Path:
        return self.eval_root / codec / eval_set

    @property
    def tts_root(self) -> Path:
        return self.root / "tts"

    @property
    def tts_train_manifest(self) -> Path:
        """The transcribed clips every codec's TTS trains on (the same for all, so that only the codec differs)."""
        return self.tts_root / "train.jsonl"

    def tts_dir(self, codec: str) -> Path:
        return self.tts_root / codec

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    @property
    def tables_done(self) -> Path:
        return self.tables / TABLES_DONE

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    @property
    def report_file(self) -> Path:
        return self.report_dir / "index.html"

    @property
    def listen_dir(self) -> Path:
        """The listening test: ``index.html``, ``trials.json``, ``audio/`` and the imported ``ratings/``."""
        return self.root / "listen"
