"""Debian packages as a data source: download with ``apt-get download``, unpack in pure Python.

The embedded corpus is built from audio that ships inside Debian ``main`` packages (see
``docs``/the reference note). Installing those packages would pull in games and their dependencies, so we only
*download* the ``.deb`` and read it ourselves: a ``.deb`` is an ``ar`` archive holding ``debian-binary``,
``control.tar.*`` and ``data.tar.*``, and the two tarballs are plain ``tarfile`` material. That keeps the
corpus build free of ``dpkg`` (it also runs on non-Debian machines given a folder of pre-downloaded debs).

Everything here is written so that an interrupted run can simply be started again: downloads and unpacked
trees are built in a private temporary folder next to their final place and renamed into place only when
complete, so a final path either does not exist or is whole.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from codecstudy.corpus.debversion import version_key
from codecstudy.errors import CodecStudyError

CACHE_ENV = "CODECSTUDY_CACHE"
UNPACKED_MARKER = ".codecstudy-unpacked.json"
_AR_MAGIC = b"!<arch>\n"
_AR_HEADER = 60
_PARTIAL = ".partial-"
_apt_updated = False  # ``apt-get update`` is slow and needs to run at most once per process


def cache_root() -> Path:
    """Root of everything codecstudy caches (``$CODECSTUDY_CACHE`` or ``~/.cache/codecstudy``)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "codecstudy"


def default_deb_dir() -> Path:
    return cache_root() / "debs"


@dataclass(frozen=True)
class DebInfo:
    """The identity of a ``.deb`` as its control file states it (the file name can be renamed, this cannot)."""

    package: str
    version: str
    architecture: str | None = None

    @property
    def slug(self) -> str:
        """``package_version`` usable as a folder name; the epoch colon is escaped the way apt names files."""
        return f"{self.package}_{self.version.replace(':', '%3a')}"


# ----------------------------------------------------------------------------------------------------------
# Finding and downloading


def deb_file_version(path: Path) -> str:
    """The version in a file name ``<package>_<version>_<arch>.deb`` (apt writes an epoch's colon as ``%3a``)."""
    parts = path.name.removesuffix(".deb").split("_")
    version = parts[1] if len(parts) >= 2 else ""
    return version.replace("%3a", ":").replace("%3A", ":")


def find_deb(package: str, directory: Path | None) -> Path | None:
    """The ``.deb`` of ``package`` in ``directory``, or None.

    apt names files ``<package>_<version>_<arch>.deb``; the underscore after the name keeps
    ``fillets-ng-data`` from matching ``fillets-ng-data-cs``. With several versions the newest by Debian version
    order wins (:func:`compare_versions`: 1.10 after 1.9), ties broken by name so the choice is deterministic.
    """
    if directory is None or not directory.is_dir():
        return None
    matches = [p for p in directory.glob(f"{package}_*.deb") if p.is_file()]
    return max(matches, key=lambda p: (version_key(deb_file_version(p)), p.name)) if matches else None


def fetch_deb(package: str, cache_dir: Path | None = None, deb_dir: Path | None = None) -> Path:
    """Return a local ``.deb`` for ``package``, downloading it with ``apt-get download`` when needed.

    ``deb_dir`` (pre-downloaded debs, for machines without apt or network) is searched first, then
    ``cache_dir`` (default ``~/.cache/codecstudy/debs``); only when both miss is apt asked, so a finished
    download is never repeated. If apt cannot locate the package and we are root, the package lists are
    probably missing (fresh container): ``apt-get update`` runs once and the download is retried.
    """
    found = find_deb(package, deb_dir)
    if found is not None:
        return found
    cache_dir = Path(cache_dir) if cache_dir is not None else default_deb_dir()
    found = find_deb(package, cache_dir)
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        where = f" or put it in {deb_dir}" if deb_dir else " and pass its folder as deb_dir"
        raise CodecStudyError(f"{package}: not in {cache_dir} and apt-get is not available; download the .deb{where}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    return _apt_download(package, cache_dir)


def _apt_download(package: str, cache_dir: Path) -> Path:
    global _apt_updated
    # The partial folder is on the same filesystem as the cache, so the final rename is atomic.
    tmp = Path(tempfile.mkdtemp(prefix=f".{package}{_PARTIAL}", dir=cache_dir))
    try:
        result = _run_apt(["apt-get", "download", package], tmp)
        if result.returncode != 0 and _cannot_locate(result.stderr) and _is_root() and not _apt_updated:
            _apt_updated = True
            update = _run_apt(["apt-get", "update"], tmp)
            if update.returncode != 0:
                raise CodecStudyError(f"{package}: apt-get update failed: {_last_line(update.stderr)}")
            result = _run_apt(["apt-get", "download", package], tmp)
        if result.returncode != 0:
            hint = " (run 'apt-get update' as root first)" if _cannot_locate(result.stderr) and not _is_root() else ""
            raise CodecStudyError(f"{package}: apt-get download failed: {_last_line(result.stderr)}{hint}")
        debs = sorted(tmp.glob("*.deb"))
        if len(debs) != 1:
            raise CodecStudyError(f"{package}: apt-get download produced {len(debs)} .deb files, expected 1")
        final = cache_dir / debs[0].name
        os.replace(debs[0], final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_apt(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise CodecStudyError(f"cannot run {' '.join(command)}: {exc}") from None


def _cannot_locate(stderr: str) -> bool:
    return "Unable to locate package" in stderr or "has no installation candidate" in stderr


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E:")]
    return (errors or lines or ["no error output"])[-1]


# ----------------------------------------------------------------------------------------------------------
# Reading the ar container


@dataclass(frozen=True)
class ArMember:
    name: str
    offset: int  # of the data, in bytes from the start of the file
    size: int


def ar_members(deb: Path) -> list[ArMember]:
    """List the members of an ``ar`` archive (the container format of ``.deb``)."""
    members: list[ArMember] = []
    with deb.open("rb") as handle:
        if handle.read(len(_AR_MAGIC)) != _AR_MAGIC:
            raise CodecStudyError(f"{deb}: not a .deb (no ar archive header)")
        position = len(_AR_MAGIC)
        total = deb.stat().st_size
        while position < total:
            header = handle.read(_AR_HEADER)
            if not header.strip():
                break
            if len(header) < _AR_HEADER or header[58:60] != b"`\n":
                raise CodecStudyError(f"{deb}: corrupt ar member header at byte {position}")
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            try:
                size = int(header[48:58].decode("ascii").strip())
            except ValueError:
                raise CodecStudyError(f"{deb}: corrupt ar member size at byte {position}") from None
            data_offset = position + _AR_HEADER
            if data_offset + size > total:
                raise CodecStudyError(f"{deb}: truncated (member {name} needs {size} bytes)")
            members.append(ArMember(name, data_offset, size))
            position = data_offset + size + (size % 2)  # members are padded to an even offset
            handle.seek(position)
    return members


class _Slice(io.RawIOBase):
    """A read-only view of ``size`` bytes of an open file, so tarfile can stream one ar member."""

    def __init__(self, handle: BinaryIO, offset: int, size: int) -> None:
        self._handle = handle
        self._offset = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        left = self._size - self._pos
        if left <= 0:
            return 0
        want = min(len(buffer), left)
        self._handle.seek(self._offset + self._pos)
        data = self._handle.read(want)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _member(deb: Path, prefix: str) -> ArMember:
    for member in ar_members(deb):
        if member.name.startswith(prefix):
            return member
    raise CodecStudyError(f"{deb}: no {prefix}* member (not a binary package?)")


def _open_tar_stream(deb: Path, member: ArMember, handle: BinaryIO) -> tarfile.TarFile:
    """Open a ``control.tar.*``/``data.tar.*`` member as a streaming tarfile."""
    raw = io.BufferedReader(_Slice(handle, member.offset, member.size), buffer_size=1 << 20)
    suffix = member.name.split(".tar", 1)[-1].lstrip(".")  # data.tar.xz -> xz, data.tar -> ""
    if suffix in ("xz", "gz", "bz2"):
        return tarfile.open(fileobj=raw, mode=f"r|{suffix}")
    if suffix == "":
        return tarfile.open(fileobj=raw, mode="r|")
    if suffix == "zst":
        try:
            import zstandard  # optional: Python's tarfile has no zstd before 3.14
        except ImportError:
            raise CodecStudyError(
                f"{deb}: {member.name} is zstd-compressed and Python cannot read it; pip install zstandard"
            ) from None
        stream = zstandard.ZstdDecompressor().stream_reader(raw)
        return tarfile.open(fileobj=stream, mode="r|")
    raise CodecStudyError(f"{deb}: unsupported compression of {member.name}")


def read_control(deb: Path) -> dict[str, str]:
    """The fields of the package's ``control`` file (first paragraph; continuation lines joined)."""
    member = _member(deb, "control.tar")
    with deb.open("rb") as handle, _open_tar_stream(deb, member, handle) as tar:
        for entry in tar:
            if entry.isfile() and _clean_name(entry.name) == "control":
                extracted = tar.extractfile(entry)
                if extracted is None:
                    break
                return _parse_control(extracted.read().decode("utf-8", "replace"))
    raise CodecStudyError(f"{deb}: no control file in {member.name}")


def _parse_control(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t" and key is not None:
            fields[key] += "\n" + line.strip()
            continue
        key, _, value = line.partition(":")
        key = key.strip()
        fields[key] = value.strip()
    return fields


def deb_info(deb: Path) -> DebInfo:
    fields = read_control(deb)
    if not fields.get("Package") or not fields.get("Version"):
        raise CodecStudyError(f"{deb}: control file lacks Package or Version")
    return DebInfo(fields["Package"], fields["Version"], fields.get("Architecture"))


# ----------------------------------------------------------------------------------------------------------
# Unpacking


def _clean_name(name: str) -> str | None:
    """A member name relative to the package root, or None when it would escape the destination."""
    path = PurePosixPath(name)
    parts = [p for p in path.parts if p not in ("", ".")]
    if path.is_absolute() or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def unpacked_info(dest: Path) -> dict[str, str] | None:
    """What the marker of an unpacked tree says (package, version, deb, filter), or None if not unpacked."""
    try:
        return json.loads((dest / UNPACKED_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def unpack_deb(
    deb: Path,
    dest: Path,
    members_filter: Callable[[str], bool] | None = None,
    *,
    filter_key: str = "all",
    info: DebInfo | None = None,
) -> Path:
    """Extract the data of ``deb`` into ``dest`` (a folder that this function creates) and return ``dest``.

    Only regular files (and hard links to extracted files) are written: symbolic links are left out, because
    in data packages they point either outside the package (fonts, licences) or at another member, whose
    content we would otherwise count twice. ``members_filter`` receives each member path relative to the
    package root (``usr/share/...``) and keeps the member when it returns True; ``filter_key`` names that
    filter in the marker, so that a changed filter re-extracts rather than reusing a tree missing files.
    ``info`` saves reading the control file again when the caller already did.

    The tree is built in a sibling temporary folder and renamed into place with its marker file, so ``dest``
    either does not exist or is complete: an interrupted run leaves no half tree behind, and a later call
    finds the marker and returns at once.
    """
    deb = Path(deb)
    dest = Path(dest)
    info = info or deb_info(deb)
    stamp = {
        "package": info.package,
        "version": info.version,
        "deb": deb.name,
        "deb_size": str(deb.stat().st_size),
        "filter": filter_key,
    }
    existing = unpacked_info(dest)
    if existing == stamp:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}{_PARTIAL}{os.getpid()}-", dir=dest.parent))
    try:
        _extract_data(deb, tmp, members_filter)
        (tmp / UNPACKED_MARKER).write_text(json.dumps(stamp, indent=1, sort_keys=True), encoding="utf-8")
        if dest.exists():  # an older unpack (other deb or filter): move it aside, then delete it
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            os.replace(dest, old / "tree")
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, dest)
        except OSError:
            if unpacked_info(dest) != stamp:  # not a concurrent run that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _remove_stale_partials(dest: Path) -> None:
    """Delete temporary trees that killed runs left beside ``dest`` (never one whose process still runs)."""
    pattern = re.compile(re.escape(f".{dest.name}{_PARTIAL}") + r"(\d+)-")
    for path in dest.parent.glob(f".{dest.name}{_PARTIAL}*"):
        match = pattern.match(path.name)
        if match and not _pid_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _extract_data(deb: Path, root: Path, members_filter: Callable[[str], bool] | None) -> None:
    member = _member(deb, "data.tar")
    with deb.open("rb") as handle, _open_tar_stream(deb, member, handle) as tar:
        for entry in _entries(tar):
            name = _clean_name(entry.name)
            if not name:
                continue
            target = root / name
            if entry.isdir():
                continue  # folders are created on demand, so filtered-out ones never appear
            if members_filter is not None and not members_filter(name):
                continue
            if entry.isfile():
                source = tar.extractfile(entry)
                if source is None:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
            elif entry.islnk():
                linked = _clean_name(entry.linkname)
                if linked and (root / linked).is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(root / linked, target)
            # symlinks, devices and fifos are deliberately not extracted (see unpack_deb)


def _entries(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    try:
        yield from tar
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CodecStudyError(f"corrupt data archive: {exc}") from None


@dataclass(frozen=True)
class UnpackedDeb:
    """A package ready to read: where its files are and which version they came from."""

    package: str
    version: str
    root: Path
    deb: Path


def ensure_unpacked(
    package: str,
    cache_dir: Path | None = None,
    deb_dir: Path | None = None,
    members_filter: Callable[[str], bool] | None = None,
    filter_key: str = "all",
) -> UnpackedDeb:
    """Fetch (if needed) and unpack (if needed) ``package`` under ``cache_dir/unpacked/<package>_<version>``.

    When no ``.deb`` is at hand but an earlier run left a complete tree with the same filter, that tree is
    used, so the downloaded debs can be deleted to save space without forcing a new download.
    """
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    deb = find_deb(package, deb_dir) or find_deb(package, root / "debs")
    if deb is None:
        kept = find_unpacked(package, root, filter_key)
        if kept is not None:
            return kept
    deb = deb or fetch_deb(package, root / "debs", deb_dir)
    info = deb_info(deb)
    if info.package != package:
        raise CodecStudyError(f"{deb}: contains package {info.package!r}, expected {package!r}")
    dest = unpack_deb(deb, root / "unpacked" / info.slug, members_filter, filter_key=filter_key, info=info)
    return UnpackedDeb(info.package, info.version, dest, deb)


def find_unpacked(package: str, cache_dir: Path | None = None, filter_key: str | None = None) -> UnpackedDeb | None:
    """A complete unpacked tree of ``package`` in the cache (the newest version if several), or None."""
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    folder = root / "unpacked"
    if not folder.is_dir():
        return None
    found = []
    for tree in folder.glob(f"{package}_*"):
        stamp = unpacked_info(tree)
        if stamp and stamp.get("package") == package and filter_key in (None, stamp.get("filter")):
            found.append(UnpackedDeb(package, stamp["version"], tree, root / "debs" / stamp.get("deb", "")))
    return max(found, key=lambda u: (version_key(u.version), u.root.name)) if found else None
