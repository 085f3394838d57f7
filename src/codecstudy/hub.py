"""Models that come from a hub: the record a codec adapter or a metric declares for each one it downloads.

Compute nodes of many clusters have no internet, so a study's hub models are downloaded beforehand on a node that
has it (``codecstudy study fetch``), and the jobs run with the hubs' offline mode set (:data:`OFFLINE_ENVIRONMENT`).
For that to work, whatever downloads a model declares it where the download happens, as a :class:`HubModel`:
what it is, its hub id, where it lands, a check that it is there (which never touches the network), and how to
fetch it. The fetch is the loader's own download call, so that the fetched copy is the one the loader later finds.

This module knows nothing of studies, codecs or metrics; it holds the record and the Hugging Face cache helpers the
declarations share (``huggingface_hub`` is optional: it comes with the eval extra's transformers).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

#: Set in the Slurm job scripts: a model missing from the cache then fails at once, naming it, instead of trying
#: the network (and hanging until a timeout) on a compute node that has none.
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1"}
HUGGING_FACE = "Hugging Face"
GITHUB_RELEASE = "GitHub release"
TORCH_HUB = "torch.hub"


@dataclass(frozen=True)
class HubModel:
    """One model downloaded from a hub. ``fetch`` and ``is_cached`` are left out of comparisons: two records are
    equal when they describe the same model for the same users."""

    what: str  # e.g. "WavLM-large (SpeechBERTScore)"
    hub_id: str  # e.g. "microsoft/wavlm-large", "unilight/sheet:v0.1.0"
    hub: str  # HUGGING_FACE, GITHUB_RELEASE, TORCH_HUB
    cache: str  # where the downloaded files land (a folder), for the messages
    fetch: Callable[[], object] = field(compare=False, repr=False)  # the loader's download; needs the network
    is_cached: Callable[[], bool] = field(compare=False, repr=False)  # never touches the network
    revision: str | None = None  # None: the hub's default (Hugging Face: main)
    used_by: tuple[str, ...] = ()  # study keys that need it, e.g. "evaluate.metrics: speech_bert"

    @property
    def key(self) -> tuple[str, str, str | None]:
        """Two declarations with the same key are one download."""
        return (self.hub, self.hub_id, self.revision)

    @property
    def label(self) -> str:
        """``WavLM-large (SpeechBERTScore) microsoft/wavlm-large``, with ``@revision`` when one is pinned."""
        return f"{self.what} {self.hub_id}" + (f"@{self.revision}" if self.revision else "")

    def needed_by(self, *users: str) -> HubModel:
        """The same record with ``users`` added to :attr:`used_by`."""
        return replace(self, used_by=tuple(dict.fromkeys((*self.used_by, *users))))


def merge(models: Iterable[HubModel]) -> list[HubModel]:
    """One record per download (first declaration wins), with the users of every declaration of it, in order."""
    merged: dict[tuple[str, str, str | None], HubModel] = {}
    for model in models:
        first = merged.get(model.key)
        merged[model.key] = model if first is None else first.needed_by(*model.used_by)
    return list(merged.values())


# ----------------------------------------------------------------------------------------------- Hugging Face
def hf_cache_dir() -> Path:
    """The Hugging Face hub cache that ``from_pretrained`` and ``hf_hub_download`` use (``$HF_HUB_CACHE``, else
    ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``), as huggingface_hub itself resolves it."""
    try:
        from huggingface_hub import constants  # optional (eval extra); its constants read the environment
    except ImportError:
        home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~/.cache"), "huggingface")
        return Path(os.environ.get("HF_HUB_CACHE") or os.path.join(home, "hub"))
    return Path(constants.HF_HUB_CACHE)


def hf_repo_folder(repo_id: str) -> Path:
    """Where a model repository's files land in the hub cache (``models--owner--name``)."""
    return hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def hf_files_cached(repo_id: str, groups: Sequence[Sequence[str]], revision: str | None = None) -> bool:
    """Every group has at least one of its files in the hub cache (e.g. ``[["config.json"], ["model.safetensors",
    "pytorch_model.bin"]]``): what the loader reads offline. Reads the cache only."""
    try:
        from huggingface_hub import try_to_load_from_cache  # optional (eval extra)
    except ImportError:
        return False
    return all(
        any(isinstance(try_to_load_from_cache(repo_id, name, revision=revision), str) for name in group)
        for group in groups
    )


def huggingface_model(what: str, repo_id: str, fetch: Callable[[], object], files: Sequence[Sequence[str]],
                      revision: str | None = None) -> HubModel:
    """A Hugging Face model repository that the loader reads ``files`` of (see :func:`hf_files_cached`)."""
    groups = [tuple(group) for group in files]
    return HubModel(what, repo_id, HUGGING_FACE, str(hf_repo_folder(repo_id)), fetch,
                    lambda: hf_files_cached(repo_id, groups, revision), revision)


def files_present(folder: Path, names: Sequence[str]) -> bool:
    """Every file of ``names`` is in ``folder`` (a release downloaded file by file into a cache folder)."""
    return all((folder / name).is_file() for name in names)
