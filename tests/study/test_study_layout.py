"""Every run-folder name the study spells matches the one its stage gives the file (layout restates a few)."""

from __future__ import annotations

from pathlib import Path

from codecstudy.listen import build as listen_build
from codecstudy.study import layout as L
from codecstudy.study.layout import RunLayout
from codecstudy.train import logging as train_logging
from codecstudy.train import trainer
from codecstudy.tts import bundle


def test_restated_names_match_their_owners() -> None:
    assert L.CODEC_FILE == trainer.CODEC_NAME
    assert L.TRAIN_SUMMARY == trainer.SUMMARY_NAME
    assert L.CHECKPOINT_DIR == trainer.CHECKPOINT_DIR
    assert L.TRAIN_METRICS == train_logging.METRICS_NAME
    assert L.TTS_MODEL_FILE == bundle.MODEL_FILE
    assert L.LISTEN_TRIALS == listen_build.TEST_FILE
    assert L.LISTEN_RATINGS == listen_build.RATINGS_DIR
    assert L.LISTEN_PAGE == listen_build.PAGE_FILE


def test_sharded_and_single_result_files_are_both_found(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    folder = layout.eval_setting_dir("codec", "en", 8)
    folder.mkdir(parents=True)
    for name in ("results.jsonl", "results-0-of-2.jsonl", "results-1-of-2.jsonl", "meta.json"):
        (folder / name).write_text("", encoding="utf-8")
    assert [p.name for p in layout.eval_results("codec", "en", 8)] == [
        "results-0-of-2.jsonl", "results-1-of-2.jsonl", "results.jsonl"]
    assert len(layout.all_eval_results("codec")) == 3
    assert layout.all_eval_results("missing") == []


def test_item_locks_are_one_file_per_item(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    assert layout.item_lock("evaluate", "a/en") == tmp_path / ".locks" / "evaluate-a_en.lock"
    assert layout.item_lock("evaluate", "a/en") != layout.item_lock("evaluate", "a/fr")


def test_last_checkpoint_step_reads_the_newest_step_file(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    assert layout.last_checkpoint_step("x") is None
    folder = layout.codec_dir("x") / "checkpoints"
    folder.mkdir(parents=True)
    for step in (30, 120, 60):
        (folder / f"step-{step:08d}.pt").write_bytes(b"")
    assert layout.last_checkpoint_step("x") == 120
