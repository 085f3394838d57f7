"""Build a corpus folder: sources -> checked clips -> ``manifest.jsonl`` with splits, ``skipped.jsonl``.

The build is resumable: each finished item is recorded in ``.build/progress.jsonl`` right after its clips and
rejects are flushed, so a killed build picks up where it stopped and never decodes a file twice. Splits are
assigned at the end, over all clips, and the manifest is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny
from tqdm import tqdm

from codecstudy.config import validate
from codecstudy.corpus.checks import ClipPolicy, inspect_item, item_key
from codecstudy.corpus.manifest import MANIFEST_NAME, SKIPPED_NAME, SUMMARY_NAME, save_manifest
from codecstudy.corpus.records import Clip, SkippedItem, SourceItem
from codecstudy.corpus.sources import make_source
from codecstudy.corpus.sources.base import Source
from codecstudy.corpus.splits import SplitConfig, assign_splits
from codecstudy.errors import CodecStudyError, ConfigError
from codecstudy.files import write_json_atomic
from codecstudy.jsonl import JsonlAppender, read_jsonl, write_jsonl_atomic
from codecstudy.provenance import environment_info

BUILD_DIR = ".build"


class CorpusConfig(BaseModel):
    """A corpus: which sources, which clips to accept, how to split."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    sources: list[SerializeAsAny[Source]] = Field(min_length=1)
    clips: ClipPolicy = ClipPolicy()
    splits: SplitConfig = SplitConfig()

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "corpus", file: str | None = None) -> "CorpusConfig":
        """Validate a mapping; each source is built by its own class so errors name ``sources[i].key``."""
        data = dict(data)
        at = f"{file}: " if file else ""
        key = f"{where}." if where else ""
        specs = data.pop("sources", None)
        if not isinstance(specs, list) or not specs:
            raise ConfigError(f"{at}{key}sources: a non-empty list of sources is required")
        sources = []
        for index, spec in enumerate(specs):
            if not isinstance(spec, dict):
                raise ConfigError(f"{at}{key}sources[{index}]: expected a mapping with a 'kind' key")
            sources.append(make_source(spec, where=f"{key}sources[{index}]", file=file))
        rest = validate(_CorpusRest, data, prefix=where, file=file)
        return cls(sources=sources, clips=rest.clips, splits=rest.splits)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config (every default filled in), sources with their ``kind``."""
        return {
            "sources": [{"kind": s.kind, **s.model_dump(mode="json")} for s in self.sources],
            "clips": self.clips.model_dump(mode="json"),
            "splits": self.splits.model_dump(mode="json"),
        }

    def fingerprint(self) -> str:
        """Hash of what decides the clips; the split settings are applied at the end and may change freely."""
        data = self.to_dict()
        data.pop("splits")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class _CorpusRest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clips: ClipPolicy = ClipPolicy()
    splits: SplitConfig = SplitConfig()


@dataclass
class BuildResult:
    """What a build produced, for the CLI to print."""

    out_dir: Path
    clips: list[Clip]
    skipped_by_reason: dict[str, int]
    seconds: float
    resumed_items: int


def skip_reason_class(reason: str) -> str:
    """Group reasons for counting: ``too short (0.20s < ...)`` and ``too short (0.31s ...)`` are one class."""
    return reason.split(" (", 1)[0].split(" at ", 1)[0].strip()


def _collect_items(
    sources: list[Source], skips: list[SkippedItem], show_progress: bool
) -> list[tuple[str, SourceItem]]:
    """Walk every source; duplicates of an earlier item are rejected rather than counted twice."""
    seen: set[str] = set()
    items: list[tuple[str, SourceItem]] = []
    for source in sources:
        iterator: Iterator[SourceItem | SkippedItem] = source.items()
        bar = tqdm(iterator, desc=f"scanning {source.kind}", unit=" files", disable=not show_progress, leave=False)
        for entry in bar:
            if isinstance(entry, SkippedItem):
                skips.append(entry)
                continue
            key = item_key(entry)
            if key in seen:
                skips.append(SkippedItem(entry.path, entry.source, f"duplicate item id {key.split('|')[0]}"))
                continue
            seen.add(key)
            items.append((key, entry))
    return items


def _prepare_out_dir(out_dir: Path, fingerprint: str, force: bool) -> Path:
    build_dir = out_dir / BUILD_DIR
    stamp = build_dir / "fingerprint"
    if force and out_dir.exists():
        for name in (BUILD_DIR, MANIFEST_NAME, SKIPPED_NAME, SUMMARY_NAME):
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    if stamp.exists() and stamp.read_text().strip() != fingerprint:
        raise CodecStudyError(
            f"{out_dir}: holds a build with other sources or clip settings; use --force to rebuild it, "
            "or another --out"
        )
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n")
    return build_dir


def build_corpus(
    config: CorpusConfig,
    out_dir: str | Path,
    workers: int = 1,
    force: bool = False,
    show_progress: bool = True,
) -> BuildResult:
    """Build (or resume building) the corpus described by ``config`` into ``out_dir``."""
    began = time.monotonic()
    out_dir = Path(out_dir)
    build_dir = _prepare_out_dir(out_dir, config.fingerprint(), force)
    progress_path = build_dir / "progress.jsonl"
    clips_path = build_dir / "clips.jsonl"
    rejects_path = build_dir / "rejects.jsonl"

    for source in config.sources:
        source.check()
    source_skips: list[SkippedItem] = []
    items = _collect_items(list(config.sources), source_skips, show_progress)
    done = {record["key"] for record in read_jsonl(progress_path)}
    todo = [item for key, item in items if key not in done]

    with JsonlAppender(clips_path) as clip_log, JsonlAppender(rejects_path) as reject_log, JsonlAppender(
        progress_path
    ) as progress_log:
        inspect = partial(inspect_item, policy=config.clips)
        results = _map(inspect, todo, workers)
        for item, (clips, rejects) in tqdm(
            zip(todo, results), total=len(todo), desc="checking audio", unit=" files", disable=not show_progress
        ):
            for clip in clips:
                clip_log.write(clip.to_json())
            for reject in rejects:
                reject_log.write(reject.to_json())
            progress_log.write({"key": item_key(item)})

    return _finalize(config, out_dir, source_skips, clips_path, rejects_path, began, resumed=len(items) - len(todo))


def _map(function: Any, items: list[SourceItem], workers: int) -> Iterator[Any]:
    """Ordered map over a process pool (or in-process for one worker, which keeps tracebacks simple)."""
    if workers <= 1 or len(items) < 2:
        return map(function, items)
    pool = multiprocessing.get_context("fork").Pool(workers)
    results = pool.imap(function, items, chunksize=4)

    def drain() -> Iterator[Any]:
        try:
            yield from results
        finally:
            pool.terminate()
            pool.join()

    return drain()


def _finalize(
    config: CorpusConfig,
    out_dir: Path,
    source_skips: list[SkippedItem],
    clips_path: Path,
    rejects_path: Path,
    began: float,
    resumed: int,
) -> BuildResult:
    unique: dict[str, Clip] = {}
    for record in read_jsonl(clips_path):
        clip = Clip.from_json(record)
        unique[clip.id] = clip  # an item re-done after a kill writes the same clip again
    clips = assign_splits(sorted(unique.values(), key=lambda c: c.id), config.splits)

    rejects: dict[tuple[str, str, str], SkippedItem] = {}
    for skip in source_skips + [SkippedItem(**r) for r in read_jsonl(rejects_path)]:
        rejects[(skip.path, skip.source, skip.reason)] = skip
    skipped = sorted(rejects.values(), key=lambda s: (s.source, s.path, s.reason))
    by_reason = Counter(skip_reason_class(s.reason) for s in skipped)

    save_manifest(out_dir / MANIFEST_NAME, clips)
    write_jsonl_atomic(out_dir / SKIPPED_NAME, (s.to_json() for s in skipped))
    seconds = time.monotonic() - began
    write_json_atomic(
        out_dir / SUMMARY_NAME,
        {
            "config": config.to_dict(),
            "clips": len(clips),
            "hours": round(sum(c.duration for c in clips) / 3600, 4),
            "skipped": len(skipped),
            "skipped_by_reason": dict(sorted(by_reason.items())),
            "build_seconds": round(seconds, 1),
            "environment": environment_info(),
        },
    )
    return BuildResult(out_dir, clips, dict(by_reason), seconds, resumed)
