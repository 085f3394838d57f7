"""Conditions whose codec is given instead of trained (study ``checkpoints:``), e.g. the paper's released codecs.

A given codec is imported once into ``codecs/<condition>-<arch>/codec.pt`` (the file a trained codec leaves), so
evaluation, tables, TTS and the report treat it exactly like a trained one. ``imported.json`` beside it records the
source, so changing the source re-imports.
"""

from __future__ import annotations

from pathlib import Path

from codecstudy.errors import CodecStudyError
from codecstudy.jsonl import write_json_atomic
from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import CodecRun, StudySpec

MARKER = "imported.json"


def check_checkpoint(source: str) -> str:
    """What a run would load from ``source`` (a note for the plan); CodecStudyError when it is not there."""
    if source.startswith("espnet:"):
        from codecstudy.codec.espnet import is_hub_name, locate

        target = source[len("espnet:"):]
        if is_hub_name(target):
            return f"hub model {target}, downloaded by espnet_model_zoo when the study runs (needs internet)"
        config, model = locate(target)
        return f"ESPnet model {model} ({config.name} beside it)"
    if not Path(source).is_file():
        raise CodecStudyError(f"codec checkpoint not found: {source}")
    return f"codec checkpoint {source}"


def check_checkpoints(spec: StudySpec) -> tuple[list[str], list[str]]:
    """``(notes, problems)`` for every given checkpoint; problems name the study key and the missing file."""
    notes, problems = [], []
    for condition, source in spec.checkpoints.items():
        try:
            notes.append(f"checkpoint for {condition}: {check_checkpoint(source)}")
        except CodecStudyError as exc:
            problems.append(f"checkpoints.{condition}: {exc}")
    return notes, problems


def import_checkpoint(run: CodecRun, layout: RunLayout) -> str:
    """Load the given codec and save it where a trained codec of this run would be."""
    from codecstudy.codec.catalog import load_codec
    from codecstudy.codec.registry import save_codec

    model = load_codec(run.source)
    save_codec(layout.codec_file(run.name), model)
    identity = model.identity_hash()
    write_json_atomic(layout.codec_dir(run.name) / MARKER, {"source": run.source, "identity": identity})
    return f"imported {model.config.name} ({identity[:12]})"
