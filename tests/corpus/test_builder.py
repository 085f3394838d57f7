"""The corpus build: manifest and rejects, resume after a kill, determinism, duplicate ids, config changes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.audio import tone
from helpers.listsource import ListSource

from codecstudy.corpus import builder as builder_module
from codecstudy.corpus.builder import CorpusConfig, build_corpus
from codecstudy.corpus.manifest import load_manifest
from codecstudy.errors import CodecStudyError, ConfigError
from codecstudy.jsonl import read_jsonl


@pytest.fixture
def entries(write_wav):
    rows = []
    for i in range(8):
        path = write_wav(f"speech/{i}.wav", tone(1.0 + 0.1 * i, freq=200 + 20 * i))
        rows.append(
            dict(
                path=str(path),
                source="list",
                domain="speech",
                license="CC0",
                language="en" if i < 5 else "es",
                speaker=f"list:s{i % 4}",
                text=f"sentence {i}",
                item_id=f"list/{i}",
            )
        )
    rows.append(
        dict(
            path=str(write_wav("silent.wav", np.zeros(16000, np.float32))),
            source="list",
            domain="environment",
            license="CC0",
            item_id="list/silent",
        )
    )
    rows.append(dict(path="/nonexistent/x.wav", source="list", domain="music", license="CC0", item_id="list/missing"))
    rows.append(dict(path="/data/meta.csv", source="list", reason="listed in meta.csv but not found"))
    rows.append(dict(rows[0]))  # a duplicate id
    return rows


def config(entries, **splits) -> CorpusConfig:
    return CorpusConfig(sources=[ListSource(entries=entries)], splits=splits or {"valid": 0.2, "test": 0.2})


def test_build_writes_manifest_rejects_and_summary(tmp_path, entries):
    result = build_corpus(config(entries), tmp_path / "c", show_progress=False)
    clips = load_manifest(tmp_path / "c")
    assert [c.id for c in clips] == [f"list/{i}" for i in range(8)]
    assert all(c.split in ("train", "valid", "test") for c in clips)
    skipped = list(read_jsonl(tmp_path / "c" / "skipped.jsonl"))
    assert sorted(s["reason"].split(" (")[0] for s in skipped) == [
        "duplicate item id list/0",
        "file not found",
        "listed in meta.csv but not found",
        "silent",
    ]
    assert result.skipped_by_reason == {
        "duplicate item id list/0": 1,
        "file not found": 1,
        "listed in meta.csv but not found": 1,
        "silent": 1,
    }
    summary = json.loads((tmp_path / "c" / "corpus.json").read_text())
    assert summary["clips"] == 8 and summary["skipped"] == 4
    assert summary["config"]["sources"][0]["kind"] == "list"
    assert summary["environment"]["packages"]["soundfile"]


def test_killed_build_resumes_without_redoing_items_and_matches_a_clean_build(tmp_path, entries, monkeypatch):
    reference = build_corpus(config(entries), tmp_path / "clean", show_progress=False)
    real = builder_module.inspect_item
    calls: list[str] = []

    def dying(item, policy):
        if len(calls) == 4:
            raise KeyboardInterrupt  # stands for SIGKILL: nothing after this item is written
        calls.append(item.item_id)
        return real(item, policy)

    monkeypatch.setattr(builder_module, "inspect_item", dying)
    with pytest.raises(KeyboardInterrupt):
        build_corpus(config(entries), tmp_path / "c", show_progress=False)
    assert not (tmp_path / "c" / "manifest.jsonl").exists()
    assert len(list(read_jsonl(tmp_path / "c" / ".build" / "progress.jsonl"))) == 4

    def counting(item, policy):
        calls.append(item.item_id)
        return real(item, policy)

    monkeypatch.setattr(builder_module, "inspect_item", counting)
    resumed = build_corpus(config(entries), tmp_path / "c", show_progress=False)
    assert len(calls) == 4 + 6  # 4 before the kill, the remaining 6 after: none decoded twice
    assert resumed.resumed_items == 4
    assert [c.to_json() for c in resumed.clips] == [c.to_json() for c in reference.clips]
    assert (tmp_path / "c" / "skipped.jsonl").read_text() == (tmp_path / "clean" / "skipped.jsonl").read_text()


def test_torn_progress_line_is_ignored(tmp_path, entries):
    build_corpus(config(entries), tmp_path / "c", show_progress=False)
    progress = tmp_path / "c" / ".build" / "progress.jsonl"
    progress.write_text(progress.read_text() + '{"key": "list/7|0.0')  # a write cut by a kill
    result = build_corpus(config(entries), tmp_path / "c", show_progress=False)
    assert len(result.clips) == 8


def test_split_settings_can_change_but_sources_cannot_without_force(tmp_path, entries):
    build_corpus(config(entries), tmp_path / "c", show_progress=False)
    again = build_corpus(config(entries, valid=0.0, test=0.5), tmp_path / "c", show_progress=False)
    assert {c.split for c in again.clips} <= {"train", "test"}
    with pytest.raises(CodecStudyError, match="use --force"):
        build_corpus(config(entries[:3]), tmp_path / "c", show_progress=False)
    fresh = build_corpus(config(entries[:3]), tmp_path / "c", force=True, show_progress=False)
    assert len(fresh.clips) == 3


def test_two_workers_give_the_same_manifest(tmp_path, entries):
    one = build_corpus(config(entries), tmp_path / "a", workers=1, show_progress=False)
    two = build_corpus(config(entries), tmp_path / "b", workers=2, show_progress=False)
    assert [c.to_json() for c in one.clips] == [c.to_json() for c in two.clips]


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"sources: a non-empty list"):
        CorpusConfig.from_dict({"sources": []}, where="corpus")
    with pytest.raises(ConfigError, match=r"corpus.sources\[0\].kind: unknown source kind 'nope'"):
        CorpusConfig.from_dict({"sources": [{"kind": "nope"}]}, where="corpus")
    with pytest.raises(ConfigError, match=r"corpus.clips.multichannel: must be one of 'mixdown' or 'skip'"):
        CorpusConfig.from_dict(
            {"sources": [{"kind": "synthetic", "out_dir": "x"}], "clips": {"multichannel": "x"}}, where="corpus"
        )
    with pytest.raises(ConfigError, match=r"corpus.clipz: unknown key"):
        CorpusConfig.from_dict({"sources": [{"kind": "synthetic", "out_dir": "x"}], "clipz": {}}, where="corpus")
