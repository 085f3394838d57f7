"""Reading and writing the corpus manifest (``manifest.jsonl``) and its rejects (``skipped.jsonl``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from codecstudy.corpus.records import Clip
from codecstudy.errors import CodecStudyError
from codecstudy.jsonl import read_jsonl, write_jsonl_atomic

MANIFEST_NAME = "manifest.jsonl"
SKIPPED_NAME = "skipped.jsonl"
SUMMARY_NAME = "corpus.json"


def manifest_path(corpus: str | Path) -> Path:
    """Accept either a corpus folder or the manifest file itself."""
    corpus = Path(corpus)
    return corpus if corpus.suffix == ".jsonl" else corpus / MANIFEST_NAME


def load_manifest(path: str | Path) -> list[Clip]:
    """All clips of a manifest (folder or file); a missing or empty manifest is a clear error."""
    path = manifest_path(path)
    if not path.is_file():
        raise CodecStudyError(f"{path}: manifest not found (run `codecstudy corpus build` first)")
    clips = []
    for number, record in enumerate(read_jsonl(path), start=1):
        try:
            clips.append(Clip.from_json(record))
        except TypeError as exc:
            raise CodecStudyError(f"{path}: line {number} is not a manifest record ({exc})") from None
    return clips


def save_manifest(path: str | Path, clips: Iterable[Clip]) -> Path:
    return write_jsonl_atomic(path, (clip.to_json() for clip in clips))
