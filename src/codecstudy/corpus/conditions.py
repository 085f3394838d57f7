"""Coverage conditions: which training clips each codec sees, and evaluation sets to test it on.

A condition is a filter over language, domain and source plus a duration budget. The paper compared
English, multilingual and multilingual + non-speech codecs without controlling how much data each saw, so a
difference could come from coverage or from volume. By default every condition here gets the same total
duration (``match_volume: true``), and within a condition the budget is shared equally across its strata
(language x domain), so "multilingual" means balanced languages rather than whatever is most plentiful.
"""

from __future__ import annotations

import fnmatch
import random
from collections import defaultdict
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codecstudy.corpus.records import Clip
from codecstudy.errors import CodecStudyError
from codecstudy.files import write_json_atomic
from codecstudy.jsonl import write_jsonl_atomic

NO_LANGUAGE = "none"  # how filters name the language of non-speech clips


class ClipFilter(BaseModel):
    """Which clips of a manifest to take. ``None`` means "any"; sources match as shell patterns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: list[str] | None = Field(None, description=f"ISO 639-1 codes; '{NO_LANGUAGE}' for non-speech")
    exclude_languages: list[str] = Field(default_factory=list)
    domains: list[Literal["speech", "music", "environment"]] | None = None
    sources: list[str] | None = Field(None, description="patterns such as 'embedded/fillets-*'")
    exclude_sources: list[str] = Field(default_factory=list)
    splits: list[Literal["train", "valid", "test"]] = Field(default_factory=lambda: ["train"])

    def matches(self, clip: Clip) -> bool:
        language = clip.language or NO_LANGUAGE
        if self.languages is not None and language not in self.languages:
            return False
        if language in self.exclude_languages:
            return False
        if self.domains is not None and clip.domain not in self.domains:
            return False
        if self.sources is not None and not any(fnmatch.fnmatchcase(clip.source, p) for p in self.sources):
            return False
        if any(fnmatch.fnmatchcase(clip.source, p) for p in self.exclude_sources):
            return False
        return clip.split in self.splits

    def select(self, clips: list[Clip]) -> list[Clip]:
        return [clip for clip in clips if self.matches(clip)]


class ConditionSpec(ClipFilter):
    """A training condition: a filter over the train split plus a duration budget."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    hours: float | None = Field(None, gt=0, description="budget; with match_volume the smallest one wins")
    balance: Literal["none", "language", "domain", "stratum"] = Field(
        "stratum", description="how the budget is shared: equally per language, domain, language x domain"
    )


class EvalSetSpec(ClipFilter):
    """An evaluation set: by default the test split of whatever the filter names."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    splits: list[Literal["train", "valid", "test"]] = Field(default_factory=lambda: ["test"])
    max_clips: int | None = Field(None, gt=0, description="a seeded sample of at most this many clips")


class ConditionsConfig(BaseModel):
    """The conditions and evaluation sets of a study."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conditions: list[ConditionSpec] = Field(min_length=1)
    eval_sets: list[EvalSetSpec] = Field(default_factory=list)
    match_volume: bool = True
    seed: int = 0

    @field_validator("conditions", "eval_sets")
    @classmethod
    def _unique_names(cls, specs: list[ClipFilter]) -> list[ClipFilter]:
        names = [spec.name for spec in specs]  # type: ignore[attr-defined]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"names must be unique, repeated: {', '.join(duplicates)}")
        return specs


def stratum_key(clip: Clip, balance: str) -> str:
    language = clip.language or NO_LANGUAGE
    if balance == "language":
        return language
    if balance == "domain":
        return clip.domain
    if balance == "stratum":
        return f"{language}/{clip.domain}"
    return "all"


def share_budget(available: dict[str, float], budget: float) -> dict[str, float]:
    """Split ``budget`` equally across strata; a stratum with less than its share gives the rest to others."""
    shares: dict[str, float] = {}
    remaining = dict(available)
    left = budget
    while remaining:
        share = left / len(remaining)
        short = {k: v for k, v in remaining.items() if v <= share}
        if not short:
            shares.update(dict.fromkeys(remaining, share))
            break
        for key, value in short.items():
            shares[key] = value
            left -= value
            del remaining[key]
    return shares


def select_condition(clips: list[Clip], spec: ConditionSpec, budget: float | None, seed: int) -> list[Clip]:
    """The clips of one condition: the filter, then (with a budget) a seeded, balanced subset."""
    candidates = spec.select(clips)
    if budget is None:
        return sorted(candidates, key=lambda c: c.id)
    strata: dict[str, list[Clip]] = defaultdict(list)
    for clip in candidates:
        strata[stratum_key(clip, spec.balance)].append(clip)
    shares = share_budget({k: sum(c.duration for c in v) for k, v in strata.items()}, budget)
    chosen: list[Clip] = []
    for key in sorted(strata):
        pool = sorted(strata[key], key=lambda c: c.id)
        random.Random(f"{seed}:{spec.name}:{key}").shuffle(pool)
        taken = 0.0
        for clip in pool:
            if taken >= shares[key] - 1e-9:
                break
            # overshoot by at most half a clip, so the share is met to the nearest clip, not always exceeded
            if taken + clip.duration <= shares[key] + clip.duration / 2:
                chosen.append(clip)
                taken += clip.duration
    return sorted(chosen, key=lambda c: c.id)


def condition_budgets(clips: list[Clip], config: ConditionsConfig) -> dict[str, float | None]:
    """Seconds of audio each condition may use; one shared value when volumes are matched."""
    available = {spec.name: sum(c.duration for c in spec.select(clips)) for spec in config.conditions}
    for spec in config.conditions:
        if available[spec.name] == 0:
            raise CodecStudyError(
                f"condition {spec.name!r} matches no clips of the {'/'.join(spec.splits)} split; "
                "check its languages, domains and sources"
            )
    own = {s.name: min(available[s.name], s.hours * 3600) if s.hours else None for s in config.conditions}
    if not config.match_volume or not own:
        return own
    matched = min(v if v is not None else available[k] for k, v in own.items())
    return dict.fromkeys(own, matched)


def select_eval_set(clips: list[Clip], spec: EvalSetSpec, seed: int) -> list[Clip]:
    chosen = sorted(spec.select(clips), key=lambda c: c.id)
    if spec.max_clips is not None and len(chosen) > spec.max_clips:
        random.Random(f"{seed}:{spec.name}").shuffle(chosen)
        chosen = sorted(chosen[: spec.max_clips], key=lambda c: c.id)
    return chosen


def hours_table(clips: list[Clip]) -> dict[str, dict[str, float]]:
    """Hours per language x domain: ``{language: {domain: hours}}``."""
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for clip in clips:
        table[clip.language or NO_LANGUAGE][clip.domain] += clip.duration / 3600
    return {lang: {d: round(h, 4) for d, h in sorted(row.items())} for lang, row in sorted(table.items())}


def build_conditions(
    clips: list[Clip], config: ConditionsConfig, out_dir: str | Path
) -> tuple[dict[str, list[Clip]], dict[str, list[Clip]]]:
    """Write ``conditions/<name>.jsonl`` (+ ``.stats.json``) and ``eval_sets/<name>.jsonl``."""
    out_dir = Path(out_dir)
    budgets = condition_budgets(clips, config)
    conditions = {
        spec.name: select_condition(clips, spec, budgets[spec.name], config.seed) for spec in config.conditions
    }
    eval_sets = {spec.name: select_eval_set(clips, spec, config.seed) for spec in config.eval_sets}
    for spec in config.eval_sets:
        if not eval_sets[spec.name]:
            raise CodecStudyError(f"eval set {spec.name!r} matches no clips; check its filter and the splits")
    for folder, groups, limits in (("conditions", conditions, budgets), ("eval_sets", eval_sets, {})):
        for name, chosen in groups.items():
            write_jsonl_atomic(out_dir / folder / f"{name}.jsonl", (c.to_json() for c in chosen))
            budget = limits.get(name)
            write_json_atomic(
                out_dir / folder / f"{name}.stats.json",
                {
                    "clips": len(chosen),
                    "hours": round(sum(c.duration for c in chosen) / 3600, 4),
                    "budget_hours": round(budget / 3600, 4) if budget else None,
                    "hours_by_language_domain": hours_table(chosen),
                    "speakers": len({c.speaker for c in chosen if c.speaker}),
                },
            )
    return conditions, eval_sets
