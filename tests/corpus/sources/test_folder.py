from __future__ import annotations

from pathlib import Path

import pytest
from helpers.layouts import abs_str, skip_view, split, touch, write_audio, write_text

from codecstudy.corpus.records import SourceItem
from codecstudy.corpus.sources import make_source
from codecstudy.corpus.sources.folder import FolderSource
from codecstudy.errors import CodecStudyError

METADATA = """path,language,domain,speaker,text,license,group
a.wav,fr,speech,anna,Bonjour.,CC-BY-4.0,
sub/b.flac,,music,,,,album1
gone.wav,,,,,,
,fr,,,,,
,,,,,,
sub/c.g722,,podcast,,,,
d.m4a,,,,,,
a.wav,de,,,,,
x,y
"""


def _folder(root: Path) -> Path:
    write_audio(root / "a.wav")
    write_audio(root / "sub" / "b.flac")
    touch(root / "sub" / "c.g722")
    touch(root / "sub" / "e.GSM")
    touch(root / "d.m4a")
    touch(root / ".hidden.wav")
    touch(root / ".cache" / "f.wav")
    touch(root / "sub" / "._b.flac")
    write_text(root / "notes.txt", "not audio")
    return root


def _item(root: Path, rel: str, **labels) -> SourceItem:
    values = {"domain": "environment", "license": "unknown"} | labels
    return SourceItem(
        path=abs_str(root / rel),
        source="folder",
        item_id=f"folder/{root.name}/{rel.rsplit('.', 1)[0]}",
        **values,
    )


def test_defaults_without_metadata(tmp_path: Path) -> None:
    root = _folder(tmp_path / "recordings")
    source = make_source({"kind": "folder", "root": str(root), "domain": "music", "language": "sv", "license": "mine"})
    items, skips = split(source.items())
    defaults = {"domain": "music", "language": "sv", "license": "mine"}
    assert items == [
        _item(root, "a.wav", **defaults),
        _item(root, "sub/b.flac", **defaults),
        _item(root, "sub/c.g722", **defaults),
        _item(root, "sub/e.GSM", **defaults),
    ]
    assert skips == []


def test_metadata_overrides_defaults(tmp_path: Path) -> None:
    root = _folder(tmp_path / "recordings")
    write_text(root / "meta.csv", METADATA)
    items, skips = split(FolderSource(root=root, metadata=Path("meta.csv")).items())
    assert items == [
        _item(
            root,
            "a.wav",
            domain="speech",
            language="fr",
            speaker="folder:anna",
            text="Bonjour.",
            license="CC-BY-4.0",
        ),
        _item(root, "d.m4a"),  # listed, so used whatever its extension
        _item(root, "sub/b.flac", domain="music", group="folder:album1"),
        _item(root, "sub/e.GSM"),  # not listed: defaults
    ]
    assert skip_view(skips, root) == [
        ("gone.wav", "listed in meta.csv but not found"),
        ("meta.csv", "malformed line (meta.csv:5: empty path)"),
        ("meta.csv", "malformed line (meta.csv:7: domain 'podcast' is not one of speech, music, environment)"),
        ("meta.csv", "malformed line (meta.csv:9: a.wav is already listed on line 2)"),
        ("meta.csv", "malformed line (meta.csv:10: wrong number of fields)"),
    ]


def test_only_listed_tsv_with_file_column(tmp_path: Path) -> None:
    root = _folder(tmp_path / "recordings")
    write_text(tmp_path / "labels.tsv", "file\tspeaker\ttext\nsub/b.flac\tbo\tHej.\n")
    source = FolderSource(root=root, metadata=tmp_path / "labels.tsv", only_listed=True, domain="speech")
    items, skips = split(source.items())
    assert items == [_item(root, "sub/b.flac", domain="speech", speaker="folder:bo", text="Hej.")]
    assert skips == []


def test_speech_without_text_is_left_to_the_builder(tmp_path: Path) -> None:
    root = _folder(tmp_path / "r")
    items, skips = split(FolderSource(root=root, domain="speech").items())
    assert len(items) == 4 and {i.text for i in items} == {None} and skips == []


def test_metadata_errors(tmp_path: Path) -> None:
    root = _folder(tmp_path / "recordings")
    with pytest.raises(CodecStudyError, match=r"folder: metadata file not found: .*nope\.csv"):
        list(FolderSource(root=root, metadata=Path("nope.csv")).items())
    write_text(root / "bad.csv", "name,language\na.wav,en\n")
    with pytest.raises(CodecStudyError, match=r"bad\.csv has no column path or file"):
        list(FolderSource(root=root, metadata=Path("bad.csv")).items())
    with pytest.raises(CodecStudyError, match="root folder not found"):
        list(FolderSource(root=tmp_path / "missing").items())
