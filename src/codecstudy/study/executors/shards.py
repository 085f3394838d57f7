"""Which tasks of an evaluation array still have clips to score, so that a resubmission asks only for those.

Why: an array over a big set (thousands of clips, 8 shards) that lost one task to a node failure should come back as
one task, not eight; the seven complete ones would find their results and exit, but each would still wait in the
queue for a node and load the codec. A shard holds every n-th clip of the set's manifest (the scorer's own split,
:func:`codecstudy.evaluate.scorer.score_codec`), so its completeness is the evaluation's state over those clips. A
stale evaluation (a codec retrained, other alignment settings) is redone whole.
"""

from __future__ import annotations

from codecstudy.study import state
from codecstudy.study.executors.jobs import Job
from codecstudy.study.layout import RunLayout
from codecstudy.study.settings import eval_settings
from codecstudy.study.spec import StudySpec


def shard_clips(clip_ids: list[str], shard: int, shards: int) -> list[str]:
    """The clips of shard ``shard`` of ``shards``: every ``shards``-th clip from the ``shard``-th, as the scorer
    splits them."""
    return [clip for index, clip in enumerate(clip_ids) if index % shards == shard]


def incomplete_shards(spec: StudySpec, layout: RunLayout, job: Job) -> list[int] | None:
    """The array tasks of ``job`` whose clips are not all scored; None for every task (not an array, nothing
    scored yet, a stale evaluation, or an item it cannot read)."""
    if job.shards <= 1 or len(job.items) != 1 or ":" not in job.items[0]:
        return None
    stage, item = job.items[0].split(":", 1)
    name, _, eval_set = item.rpartition("/")
    if stage not in ("evaluate", "baseline") or not layout.eval_manifest(eval_set).is_file():
        return None
    clip_ids = state.eval_clip_ids(layout, eval_set)
    alignment = eval_settings(spec).alignment()
    if stage == "evaluate":
        identity = state.codec_identity(layout.codec_file(name))

        def shard_state(clips: list[str]) -> state.StageState:
            return state.eval_state(name, eval_set, layout, list(spec.evaluate.n_q), clips, identity, alignment,
                                    job.metrics)
    else:
        baseline = next((b for b in spec.baseline_runs() if b.name == name), None)
        if baseline is None:
            return None

        def shard_state(clips: list[str]) -> state.StageState:
            return state.baseline_state(baseline, eval_set, layout, clips, alignment)

    states = [shard_state(shard_clips(clip_ids, k, job.shards)) for k in range(job.shards)]
    if any(s.stale for s in states) or all(s.status == state.MISSING for s in states):
        return None
    missing = [k for k, s in enumerate(states) if s.status != state.COMPLETE]
    return missing if len(missing) < job.shards else None
