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

from codecstudy.study.layout import RunLayout
from codecstudy.study.parallel import Item, threaded
from codecstudy.study.settings import training_key, training_targets
from codecstudy.study.spec import Baseline, CodecRun, StudySpec
from codecstudy.study.stages import baseline_stage, evaluate_stage, import_stage, train_stage
from codecstudy.study.state import checkpoint_state, codec_eval_state, study_baseline_state, train_state


def count_items(spec: StudySpec, runs: list[CodecRun], baselines: bool = False) -> int:
    n_baselines = len(spec.baseline_runs()) if baselines else 0
    return len(runs) * (1 + len(spec.eval_set_names)) + n_baselines * len(spec.eval_set_names)


def evaluate_item(codec: str, eval_set: str, spec: StudySpec, layout: RunLayout, progress: bool,
                  threads: int | None = None) -> str:
    """Score one codec on one set; stale results (an earlier version of the codec) are redone, not resumed."""
    stale = codec_eval_state(codec, eval_set, spec, layout).stale
    return evaluate_stage(codec, eval_set, spec, layout, progress, force=stale, threads=threads)


def baseline_item(baseline: Baseline, eval_set: str, spec: StudySpec, layout: RunLayout, progress: bool,
                  threads: int | None = None) -> str:
    """Score one baseline on one set; results of another codec or alignment are redone, not resumed."""
    stale = study_baseline_state(baseline, eval_set, spec, layout).stale
    return baseline_stage(baseline, eval_set, spec, layout, progress, force=stale, threads=threads)


def codec_items(spec: StudySpec, layout: RunLayout, runs: list[CodecRun], progress: bool) -> list[Item]:
    """Training of every run, or, for a given checkpoint, its import."""
    targets = training_targets(runs)
    items = []
    for run in runs:
        if run.pretrained:
            items.append(Item("import", run.name, threaded(import_stage, run, layout),
                              state=partial(checkpoint_state, run, layout)))
            continue
        steps = targets[training_key(run)]
        items.append(Item("train", run.name, threaded(train_stage, run, spec, layout, progress),
                          state=partial(train_state, run, layout, steps), run=run, steps=steps))
    return items


def study_items(spec: StudySpec, layout: RunLayout, runs: list[CodecRun], progress: bool,
                baselines: bool = False) -> list[Item]:
    """Training (or import) of every run, then evaluation of every set x run (after that run's training), then,
    with ``baselines``, every baseline on every set (waiting for nothing)."""
    items = codec_items(spec, layout, runs, progress)
    first = {item.item: item.key for item in items}  # the item each run's evaluations wait for
    for eval_set in spec.eval_set_names:
        for run in runs:
            items.append(Item(
                "evaluate", f"{run.name}/{eval_set}",
                threaded(evaluate_item, run.name, eval_set, spec, layout, progress),
                after=(first[run.name],),
                state=partial(codec_eval_state, run.name, eval_set, spec, layout),
                codec=run.name, eval_set=eval_set,
            ))
    for eval_set in spec.eval_set_names if baselines else ():
        for baseline in spec.baseline_runs():
            items.append(Item(
                "baseline", f"{baseline.name}/{eval_set}",
                threaded(baseline_item, baseline, eval_set, spec, layout, progress),
                state=partial(study_baseline_state, baseline, eval_set, spec, layout),
                codec=baseline.name, eval_set=eval_set,
            ))
    return items
