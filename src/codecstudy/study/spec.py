"""The study file: the parts that exist so far (corpus, conditions, evaluation sets).

Later stages (training, evaluation, report) add their sections here; unknown keys are rejected so that a
typo never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codecstudy.config import apply_overrides, load_yaml, validate
from codecstudy.corpus.builder import CorpusConfig
from codecstudy.corpus.conditions import ConditionsConfig
from codecstudy.errors import ConfigError


class _StudySections(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("study", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    corpus: dict[str, Any]
    conditions: list[dict[str, Any]] = Field(min_length=1)
    eval_sets: list[dict[str, Any]] = Field(default_factory=list)
    match_volume: bool = True
    seed: int = 0


class StudySpec(BaseModel):
    """A validated study file."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str
    corpus: CorpusConfig
    conditions: ConditionsConfig


def load_study(path: str | Path, overrides: list[str] | None = None) -> StudySpec:
    """Read a study YAML; every error names the file and the dotted key."""
    data = apply_overrides(load_yaml(path), overrides or [])
    sections = validate(_StudySections, data, file=path)
    corpus = CorpusConfig.from_dict(sections.corpus, where="corpus", file=str(path))
    conditions = validate(
        ConditionsConfig,
        {
            "conditions": sections.conditions,
            "eval_sets": sections.eval_sets,
            "match_volume": sections.match_volume,
            "seed": sections.seed,
        },
        file=path,
    )
    return StudySpec(name=sections.name, description=sections.description, corpus=corpus, conditions=conditions)


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
