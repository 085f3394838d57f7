from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.layouts import abs_str, skip_view, split, touch, write_audio, write_text

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources import make_source
from codecstudy.corpus.sources.audioset import AudioSetSource
from codecstudy.errors import CodecStudyError, ConfigError

ONTOLOGY = [
    {"id": "/m/09l8g", "name": "Human voice", "child_ids": ["/m/09x0r", "/m/015lz1"]},
    {"id": "/m/09x0r", "name": "Speech", "child_ids": ["/m/05zppz", "/m/02zsn", "/m/01h8n0"]},
    {"id": "/m/05zppz", "name": "Male speech, man speaking", "child_ids": []},
    {"id": "/m/02zsn", "name": "Female speech, woman speaking", "child_ids": []},
    {"id": "/m/01h8n0", "name": "Conversation", "child_ids": []},
    {"id": "/m/015lz1", "name": "Singing", "child_ids": []},
    {"id": "/m/04rlf", "name": "Music", "child_ids": ["/m/04szw"]},
    {"id": "/m/04szw", "name": "Musical instrument", "child_ids": ["/m/05r5c"]},
    {"id": "/m/05r5c", "name": "Piano", "child_ids": []},
    {"id": "/m/0bt9lr", "name": "Dog", "child_ids": ["/m/05tny_"]},
    {"id": "/m/05tny_", "name": "Bark", "child_ids": []},
    {"id": "/m/06mb1", "name": "Rain", "child_ids": []},
]

SEGMENTS = """# Segments csv created Sun Mar  5 10:54:31 2017
# num_ytids=9, num_segs=9, num_unique_labels=8, num_positive_labels=12
# YTID, start_seconds, end_seconds, positive_labels
--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/m/06mb1"
-0DdlOuIFUI, 50.000, 60.000, "/m/02zsn"
-0RWZT-miFs, 420.000, 430.000, "/m/05r5c,/m/0bt9lr"
0aaa_bbb-cc, 12.500, 22.500, "/m/05tny_"
abcDEF12345, 30.000, 40.000, "/m/06mb1,/m/zzzz"
missing0001, 0.000, 10.000, "/m/06mb1"
badnumbers1, x, 10.000, "/m/06mb1"
short, 1.0
sing1234567, 0.000, 10.000, "/m/015lz1"
"""


def _audioset(root: Path) -> Path:
    write_text(root / "ontology.json", json.dumps(ONTOLOGY))
    write_text(root / "balanced_train_segments.csv", SEGMENTS)
    write_audio(root / "audio" / "Y-0RWZT-miFs_420.000_430.000.wav")  # a cut segment, PANNs-style name
    touch(root / "audio" / "0aaa_bbb-cc.flac")  # the whole video's audio
    touch(root / "audio" / "abcDEF12345_30.ogg")  # cut segment named {ytid}_{start}
    touch(root / "audio" / "more" / "sing1234567.wav")  # found in a sub-folder
    touch(root / "audio" / "Y--PJHxphWEs_30.000_40.000.wav")  # speech: never listed
    return root


def _item(root: Path, rel: str, ytid: str, domain: str, labels: tuple[str, ...], **extra) -> SourceItem:
    return SourceItem(
        path=abs_str(root / rel),
        source="audioset",
        domain=domain,
        license="YouTube (various); labels CC-BY-4.0",
        group=f"audioset:{ytid}",
        item_id=extra.pop("item_id", f"audioset/{rel.rsplit('.', 1)[0]}"),
        labels=labels,
        **extra,
    )


def test_items_filter_and_skips(tmp_path: Path) -> None:
    root = _audioset(tmp_path / "audioset")
    items, skips = split(AudioSetSource(root=root).items())
    assert items == [
        _item(root, "audio/Y-0RWZT-miFs_420.000_430.000.wav", "-0RWZT-miFs", "music", ("Piano", "Dog")),
        _item(
            root,
            "audio/0aaa_bbb-cc.flac",
            "0aaa_bbb-cc",
            "environment",
            ("Bark",),
            item_id="audioset/audio/0aaa_bbb-cc@12.500",
            start=12.5,
            duration=10.0,
        ),
        _item(root, "audio/abcDEF12345_30.ogg", "abcDEF12345", "environment", ("Rain", "/m/zzzz")),
        _item(
            root,
            "audio/more/sing1234567.wav",
            "sing1234567",
            "environment",
            ("Singing",),
            item_id="audioset/audio/more/sing1234567@0.000",
            start=0.0,
            duration=10.0,
        ),
    ]
    # Speech (--PJHxphWEs) and its descendant Female speech (-0DdlOuIFUI) are dropped, not skipped.
    table = "balanced_train_segments.csv"
    assert skip_view(skips, root) == [
        ("Ymissing0001_0.000_10.000.wav", "audio file not found"),
        (table, f"malformed line ({table}:10: start/end 'x', '10.000' are not numbers)"),
        (table, f'malformed line ({table}:11: expected YTID, start_seconds, end_seconds, "labels"; got 2 fields)'),
    ]


def test_exclude_and_include_by_name_or_id(tmp_path: Path) -> None:
    root = _audioset(tmp_path)
    items, _ = split(AudioSetSource(root=root, include=["music"]).items())
    assert [i.labels for i in items] == [("Piano", "Dog")]

    items, skips = split(AudioSetSource(root=root, exclude=["Dog", "/m/015lz1"]).items())
    # Dog takes its descendant Bark with it; with Speech no longer excluded, the speech rows come back.
    assert [i.labels for i in items] == [("Speech", "Rain"), ("Rain", "/m/zzzz")]
    assert items[0].domain == "environment" and items[0].start == 0.0 and items[0].duration is None
    assert [s.reason for s in skips][:1] == ["audio file not found"]  # -0DdlOuIFUI has no audio

    with pytest.raises(CodecStudyError, match="label 'Cat' is neither an id nor a class name in .*ontology.json"):
        list(AudioSetSource(root=root, exclude=["Cat"]).items())


def test_custom_pattern_and_audio_dir(tmp_path: Path) -> None:
    root = _audioset(tmp_path)
    touch(root / "clips" / "missing0001-0-10000.mp3")
    source = make_source(
        {
            "kind": "audioset",
            "root": str(root),
            "audio_dir": "clips",
            "patterns": ["{ytid}-{start_ms}-{end_ms}"],
            "extensions": ["MP3"],
        }
    )
    items, skips = split(source.items())
    assert [(i.item_id, i.labels, i.start, i.duration) for i in items] == [
        ("audioset/missing0001-0-10000", ("Rain",), 0.0, None)
    ]
    assert {s.path for s in skips if s.reason == "audio file not found"} >= {
        abs_str(root / "clips" / "0aaa_bbb-cc-12500-22500.mp3")
    }


@pytest.mark.parametrize(
    "pattern, message",
    [("{start}", "must contain {ytid}"), ("{ytid}_{stop}", "unknown field stop"), ("a/{ytid}", "not a path")],
)
def test_bad_patterns_are_config_errors(tmp_path: Path, pattern: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_source({"kind": "audioset", "root": str(tmp_path), "patterns": [pattern]})


def test_missing_files(tmp_path: Path) -> None:
    root = _audioset(tmp_path)
    with pytest.raises(CodecStudyError, match=r"segments file not found: .*eval_segments\.csv"):
        list(AudioSetSource(root=root, segments=["eval_segments.csv"]).items())
    (root / "ontology.json").write_text('{"not": "a list"}')
    with pytest.raises(CodecStudyError, match="is not an AudioSet ontology"):
        list(AudioSetSource(root=root).items())
    (root / "ontology.json").unlink()
    with pytest.raises(CodecStudyError, match=r"ontology file not found: .*ontology\.json"):
        list(AudioSetSource(root=root).items())
