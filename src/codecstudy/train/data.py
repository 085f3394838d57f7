"""Training data: manifest clips decoded and resampled once into a cache, then random fixed-length crops.

**Cache.** Each clip (a range of a file: ``start``/``duration``) is decoded with :func:`codecstudy.audio.read`,
mixed to mono, resampled to the codec's rate and stored as 16-bit PCM in ``<cache>/<rate>/<xx>/<key>.npy``, the
key hashing the clip id, path, range and rate. Decoding compressed formats and resampling cost far more than a
training step needs, so they happen once; int16 halves the disk and page-cache footprint of float32 and is the
precision the sources were recorded at. Files are written under a temporary name and renamed, so a killed build
resumes by skipping what exists, and several runs (the coverage conditions) share one cache. Reads are
memory-mapped, so a corpus larger than RAM works and data-loading workers share the page cache.

**Crops.** :class:`CropSampler` decides, for every step, which clips and offsets make the batch. The choice is a
pure function of ``(seed, step)``, which makes the sampler's state one integer (its position, saved in
checkpoints), makes resuming exact, and lets any number of loader workers build batches in any order. With N
processes every process draws the same global batch and keeps its own slice (as ``DistributedSampler`` does), so
N processes x B/N crops see exactly the data of one process with B crops.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from codecstudy import audio
from codecstudy.corpus.records import Clip
from codecstudy.errors import CodecStudyError
from codecstudy.files import atomic_write

PCM_SCALE = 32767.0


# ----------------------------------------------------------------------------------------------------- cache
def cache_key(clip: Clip, sample_rate: int) -> str:
    """Stable name of a clip's cached audio; any change of file, range or rate gives a new entry."""
    ident = json.dumps([clip.id, clip.path, round(clip.start, 6), round(clip.duration, 6), int(sample_rate)])
    return hashlib.sha1(ident.encode("utf-8")).hexdigest()


def _decode(clip: Clip, sample_rate: int) -> np.ndarray:
    samples, rate = audio.read(clip.path, clip.start, clip.duration)
    samples = audio.resample(samples, rate, sample_rate)
    return np.clip(np.round(samples * PCM_SCALE), -32768, 32767).astype(np.int16)


def _write_entry(task: tuple[Clip, int, str]) -> tuple[str, str | None]:
    """Decode one clip into its cache file; returns (clip id, error or None). Runs in worker processes."""
    clip, sample_rate, target = task
    try:
        pcm = _decode(clip, sample_rate)
    except CodecStudyError as exc:
        return clip.id, str(exc)
    with atomic_write(target, "wb") as handle:
        np.save(handle, pcm)
    return clip.id, None


@dataclass(frozen=True)
class CachedClip:
    """A manifest clip whose audio is in the cache, with its length in samples at the cache's rate."""

    clip: Clip
    path: Path
    frames: int


class AudioCache:
    """Clips as int16 arrays at one sample rate, under ``root/<rate>/``."""

    def __init__(self, root: str | Path, sample_rate: int) -> None:
        self.root = Path(root)
        self.sample_rate = int(sample_rate)
        self.folder = self.root / str(self.sample_rate)

    def path(self, clip: Clip) -> Path:
        key = cache_key(clip, self.sample_rate)
        return self.folder / key[:2] / f"{key}.npy"

    def build(self, clips: Sequence[Clip], workers: int = 0, show_progress: bool = True) -> list[CachedClip]:
        """Decode the clips that are not cached yet (resumable), then return every clip that is.

        A clip whose file cannot be decoded any more is left out with a warning; none left is an error.
        """
        missing = [c for c in clips if not self.path(c).is_file()]
        failed: dict[str, str] = {}
        if missing:
            tasks = [(c, self.sample_rate, str(self.path(c))) for c in missing]
            bar = tqdm(
                total=len(tasks), desc=f"audio cache {self.sample_rate} Hz", unit="clip", disable=not show_progress
            )
            if workers > 0:
                with ProcessPoolExecutor(max_workers=workers) as pool:
                    for clip_id, error in pool.map(_write_entry, tasks, chunksize=8):
                        if error:
                            failed[clip_id] = error
                        bar.update()
            else:
                for task in tasks:
                    clip_id, error = _write_entry(task)
                    if error:
                        failed[clip_id] = error
                    bar.update()
            bar.close()
        if failed:
            first = next(iter(failed.values()))
            print(f"warning: {len(failed)} clips could not be decoded and are left out (first: {first})")
        entries = []
        for clip in clips:
            if clip.id in failed:
                continue
            path = self.path(clip)
            entries.append(CachedClip(clip, path, int(np.load(path, mmap_mode="r").shape[0])))
        return entries

    @staticmethod
    def load(entry: CachedClip, start: int = 0, length: int | None = None) -> np.ndarray:
        """float32 samples ``[start, start + length)`` of a cached clip (memory-mapped read)."""
        pcm = np.load(entry.path, mmap_mode="r")
        stop = pcm.shape[0] if length is None else start + length
        return np.asarray(pcm[start:stop], dtype=np.float32) / PCM_SCALE


# --------------------------------------------------------------------------------------------------- sampler
def group_of(clip: Clip) -> str:
    """The stratum balanced sampling gives equal weight to: language x domain (``none`` for non-speech)."""
    return f"{clip.language or 'none'}/{clip.domain}"


class CropSampler:
    """Which ``(clip index, start sample)`` pairs form step ``s``'s batch on this process.

    ``uniform`` picks a clip with probability proportional to its number of possible crop positions, then a
    position uniformly: every crop of the corpus is equally likely. ``balanced`` first picks a language x domain
    group uniformly, then a crop within it the same way, so a stratum with little audio is seen as often as a big
    one (at the price of repeating it).
    """

    def __init__(
        self,
        entries: Sequence[CachedClip],
        segment: int,
        batch_size: int,
        seed: int,
        *,
        balanced: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.segment = int(segment)
        self.global_batch = int(batch_size)
        self.seed = int(seed)
        self.balanced = balanced
        self.rank = rank
        self.world_size = world_size
        self.local_batch = self.global_batch // world_size
        self.indices = np.array([i for i, e in enumerate(entries) if e.frames >= self.segment], dtype=np.int64)
        if self.indices.size == 0:
            raise ValueError("no clip is as long as the segment")
        positions = np.array([entries[i].frames - self.segment + 1 for i in self.indices], dtype=np.float64)
        self.positions = positions.astype(np.int64)
        if balanced:
            names = [group_of(entries[i].clip) for i in self.indices]
            self.groups = sorted(set(names))
            member = np.array([self.groups.index(n) for n in names])
            self.group_members = [np.flatnonzero(member == g) for g in range(len(self.groups))]
            self.group_probs = [positions[m] / positions[m].sum() for m in self.group_members]
        else:
            self.groups = ["all"]
            self.probs = positions / positions.sum()
        self.position = 0

    def batch(self, step: int) -> list[tuple[int, int]]:
        """This process's ``(entry index, start)`` pairs for ``step`` (0-based), independent of any history."""
        rng = np.random.default_rng([self.seed, step])
        n = self.global_batch
        if self.balanced:
            group = rng.integers(len(self.groups), size=n)
            picks = np.empty(n, dtype=np.int64)
            for g in range(len(self.groups)):
                where = np.flatnonzero(group == g)
                if where.size:
                    picks[where] = self.group_members[g][rng.choice(len(self.group_members[g]), where.size,
                                                                    p=self.group_probs[g])]
        else:
            picks = rng.choice(self.indices.size, n, p=self.probs)
        offsets = (rng.random(n) * self.positions[picks]).astype(np.int64)
        lo = self.rank * self.local_batch
        chosen = slice(lo, lo + self.local_batch)
        return list(zip(self.indices[picks][chosen].tolist(), offsets[chosen].tolist()))

    def state_dict(self) -> dict[str, int | bool]:
        return {"seed": self.seed, "position": self.position, "balanced": self.balanced,
                "global_batch": self.global_batch}

    def load_state_dict(self, state: dict[str, int | bool]) -> None:
        mismatch = [k for k in ("seed", "balanced", "global_batch") if state.get(k) != getattr(self, k)]
        if mismatch:
            raise CodecStudyError(
                f"the checkpoint's crop sampler differs in {', '.join(mismatch)}; resume with the same train config"
            )
        self.position = int(state["position"])


class CropDataset(torch.utils.data.Dataset):
    """Map-style dataset whose item ``s`` is step ``s``'s batch ``[B, 1, segment]`` (float32)."""

    def __init__(self, entries: Sequence[CachedClip], sampler: CropSampler) -> None:
        self.entries = list(entries)
        self.sampler = sampler

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, step: int) -> torch.Tensor:
        crops = [AudioCache.load(self.entries[i], start, self.sampler.segment) for i, start in self.sampler.batch(step)]
        return torch.from_numpy(np.stack(crops))[:, None, :]


def crop_loader(
    dataset: CropDataset, start: int, stop: int, workers: int, seed: int = 0
) -> torch.utils.data.DataLoader:
    """Batches for steps ``start..stop-1`` in order; workers prefetch ahead of the training loop.

    The loader gets its own generator: by default it draws its workers' base seed from the global torch RNG when
    iteration starts, which would shift every later random draw of a resumed run.
    """
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=None,
        sampler=range(start, stop),
        num_workers=workers,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
        generator=torch.Generator().manual_seed(seed),
    )


# ----------------------------------------------------------------------------------------------------- checks
def describe_lengths(entries: Sequence[CachedClip], sample_rate: int) -> str:
    longest = max((e.frames for e in entries), default=0) / sample_rate
    return f"{len(entries)} clips, the longest {longest:.2f} s"


def training_entries(
    entries: Sequence[CachedClip], segment_seconds: float, sample_rate: int, where: str
) -> list[CachedClip]:
    """The clips long enough for one crop; none is a one-line error naming the manifest and the segment."""
    segment = int(round(segment_seconds * sample_rate))
    usable = [e for e in entries if e.frames >= segment]
    if not usable:
        raise CodecStudyError(
            f"{where}: no clip is at least train.segment_seconds={segment_seconds:g} s long "
            f"({describe_lengths(entries, sample_rate)}); lower train.segment_seconds or use longer clips"
        )
    return usable


def even_subset(items: Sequence[CachedClip], count: int | None) -> list[CachedClip]:
    """``count`` items spread evenly over the list sorted by clip id (deterministic, covers every stratum)."""
    ordered = sorted(items, key=lambda e: e.clip.id)
    if count is None or count >= len(ordered):
        return ordered
    picks = np.linspace(0, len(ordered) - 1, count).round().astype(int)
    return [ordered[i] for i in sorted(set(picks.tolist()))]
