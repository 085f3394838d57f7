"""The study's training and scoring items and what each waits for (for :mod:`codecstudy.study.parallel`).

Order is the sequential runner's: every codec's training, then each evaluation set for every codec, then the
baselines (codecs scored, not trained) on every set. An evaluation waits only for its own codec's training and a
baseline for nothing, so with two processes the first codecs' scoring and the baselines run while a third codec
still trains. An item's state (complete, partial, missing) is read from the files when the item is due, not
when the list is made, because a codec's identity (which decides whether old results are stale) exists only after
its training.
"""

from __future__ import annotations

from functools import partial

from codecstudy.study import state as S
from codecstudy.study.layout import RunLayout
from codecstudy.study.parallel import Item, threaded
from codecstudy.study.spec import Baseline, CodecRun, StudySpec


def count_items(spec: StudySpec, runs: list[CodecRun], baselines: bool = False) -> int:
    n_baselines = len(spec.baseline_runs()) if baselines else 0
    return len(runs) * (1 + len(spec.eval_set_names)) + n_baselines * len(spec.eval_set_names)


def _eval_state(codec: str, eval_set: str, spec: StudySpec, layout: RunLayout) -> S.StageState:
    ids = S.eval_clip_ids(layout, eval_set)
    identity = S.codec_identity(layout.codec_file(codec))
    alignment = S.eval_settings(spec).alignment()
    return S.eval_state(codec, eval_set, layout, list(spec.evaluate.n_q), ids, identity, alignment)


def import_item(run: CodecRun, layout: RunLayout, threads: int | None = None) -> str:
    """A given codec (study ``checkpoints:``) imported instead of trained."""
    from codecstudy.study.checkpoints import import_checkpoint

    return import_checkpoint(run, layout)


def evaluate_item(codec: str, eval_set: str, spec: StudySpec, layout: RunLayout, progress: bool,
                  threads: int | None = None) -> str:
    """Score one codec on one set; stale results (an earlier version of the codec) are redone, not resumed."""
    from codecstudy.study.runner import evaluate_stage

    stale = _eval_state(codec, eval_set, spec, layout).stale
    return evaluate_stage(codec, eval_set, spec, layout, progress, force=stale, threads=threads)


def _baseline_state(baseline: Baseline, eval_set: str, spec: StudySpec, layout: RunLayout) -> S.StageState:
    from codecstudy.study.baselines import baseline_state

    ids = S.eval_clip_ids(layout, eval_set)
    return baseline_state(baseline, eval_set, layout, ids, S.eval_settings(spec).alignment())


def baseline_item(baseline: Baseline, eval_set: str, spec: StudySpec, layout: RunLayout, progress: bool,
                  threads: int | None = None) -> str:
    """Score one baseline on one set; results of another codec or alignment are redone, not resumed."""
    from codecstudy.study.baselines import evaluate_baseline

    stale = _baseline_state(baseline, eval_set, spec, layout).stale
    return evaluate_baseline(baseline, eval_set, spec, layout, progress, force=stale, threads=threads)


def study_items(spec: StudySpec, layout: RunLayout, runs: list[CodecRun], progress: bool,
                baselines: bool = False) -> list[Item]:
    """Training (or, for a given checkpoint, import) of every run, then evaluation of every set x run (after that
    run's training), then, with ``baselines``, every baseline on every set (waiting for nothing)."""
    from codecstudy.study.runner import train_stage

    items: list[Item] = []
    steps: dict[tuple[str, tuple[str, ...]], int] = {}
    first: dict[str, str] = {}  # the item each run's evaluations wait for
    for run in runs:
        if run.pretrained:
            first[run.name] = f"import {run.name}"
            items.append(Item("import", run.name, threaded(import_item, run, layout),
                              state=partial(S.checkpoint_state, run, layout)))
            continue
        first[run.name] = f"train {run.name}"
        key = (run.source, run.overrides)
        if key not in steps:
            steps[key] = S.target_steps(run)
        items.append(Item(
            "train", run.name, threaded(train_stage, run, spec, layout, progress),
            state=partial(S.train_state, run, layout, steps[key]),
            extra={"run": run, "steps": steps[key]},
        ))
    for eval_set in spec.eval_set_names:
        for run in runs:
            items.append(Item(
                "evaluate", f"{run.name}/{eval_set}",
                threaded(evaluate_item, run.name, eval_set, spec, layout, progress),
                after=(first[run.name],),
                state=partial(_eval_state, run.name, eval_set, spec, layout),
                extra={"codec": run.name, "set": eval_set},
            ))
    for eval_set in spec.eval_set_names if baselines else ():
        for baseline in spec.baseline_runs():
            items.append(Item(
                "baseline", f"{baseline.name}/{eval_set}",
                threaded(baseline_item, baseline, eval_set, spec, layout, progress),
                state=partial(_baseline_state, baseline, eval_set, spec, layout),
                extra={"codec": baseline.name, "set": eval_set},
            ))
    return items
