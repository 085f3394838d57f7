"""Model hubs without a network: Hugging Face's cache layout in a temporary folder, and fake downloads that fill it.

Only the network is faked. The code under test keeps calling the real ``huggingface_hub.snapshot_download`` (whose
network path is replaced by :meth:`FakeHub.snapshot_download`; its cache-only path stays real), the real
``try_to_load_from_cache`` and the real ``torch.hub.download_url_to_file`` call sites, with the real repository ids
and release URLs, which the fake records.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import huggingface_hub
import huggingface_hub.constants
import pytest
import torch

COMMIT = "0123456789abcdef0123456789abcdef01234567"

#: what WavLM's hub repository holds, as far as the cache check looks
WAVLM_FILES = {"config.json": b'{"model_type": "wavlm"}', "model.safetensors": b"weights"}

class FakeHub:
    """A Hugging Face hub cache under ``root`` (what ``HF_HUB_CACHE`` names) and a record of every download."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.calls: list[str] = []  # repository ids and URLs, in download order
        self.repos: dict[str, dict[str, bytes]] = {}  # what the hub serves, by repository id
        self.fail: set[str] = set()  # ids and URLs whose download raises (no network for them)
        self._real_snapshot = huggingface_hub.snapshot_download
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(root))
        monkeypatch.setattr(huggingface_hub, "snapshot_download", self.snapshot_download)
        monkeypatch.setattr(torch.hub, "download_url_to_file", self.download_url_to_file)

    def put(self, repo_id: str, files: dict[str, bytes]) -> Path:
        """Write ``files`` as a cached snapshot of ``repo_id``'s main branch; returns the snapshot folder."""
        folder = self.root / ("models--" + repo_id.replace("/", "--"))
        snapshot = folder / "snapshots" / COMMIT
        for name, data in files.items():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / name).write_bytes(data)
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text(COMMIT)
        return snapshot

    def download(self, repo_id: str) -> Path:
        """A download of the repository ``repo_id`` (what the hub serves for it) into the cache."""
        self.calls.append(repo_id)
        if repo_id in self.fail or repo_id not in self.repos:
            raise OSError(f"no network for {repo_id}")
        return self.put(repo_id, self.repos[repo_id])

    def snapshot_download(self, repo_id: str, *args: Any, local_files_only: bool = False, **kwargs: Any) -> str:
        if local_files_only:
            return self._real_snapshot(repo_id, *args, local_files_only=True, **kwargs)
        return str(self.download(repo_id))

    def download_url_to_file(self, url: str, dst: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append(url)
        if url in self.fail:
            raise OSError(f"no network for {url}")
        Path(dst).write_bytes(b"release file " + url.encode())

    def loader(self, files: dict[str, bytes]) -> Callable[[str], Path]:
        """A stand-in for a transformers loader (``from_pretrained``): downloads ``files`` of the repository."""

        def load(repo_id: str) -> Path:
            self.repos.setdefault(repo_id, files)
            return self.download(repo_id)

        return load
