"""Minimal .deb packages built in memory, laid out the way dpkg-deb writes them."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def tar_archive(entries: dict[str, bytes], links: dict[str, str] | None = None, compression: str = "xz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}" if compression else "w") as tar:
        folders = sorted({str(Path(name).parent) for name in entries if "/" in name})
        for folder in folders:
            info = tarfile.TarInfo(f"./{folder}/")
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for name, data in entries.items():
            info = tarfile.TarInfo(name if name.startswith("/") else f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(f"./{name}")
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def ar_archive(members: list[tuple[str, bytes]]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}".encode() + b"`\n"
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def make_deb(
    folder: Path,
    package: str,
    files: dict[str, bytes],
    version: str = "1.0-1",
    links: dict[str, str] | None = None,
    compression: str = "xz",
) -> Path:
    """A minimal binary package, laid out the way dpkg-deb writes one."""
    control = f"Package: {package}\nVersion: {version}\nArchitecture: all\nDescription: test\n multi-line\n"
    suffix = f".{compression}" if compression else ""
    deb = folder / f"{package}_{version.replace(':', '%3a')}_all.deb"
    deb.parent.mkdir(parents=True, exist_ok=True)
    deb.write_bytes(
        ar_archive(
            [
                ("debian-binary", b"2.0\n"),
                ("control.tar.xz", tar_archive({"control": control.encode()})),
                (f"data.tar{suffix}", tar_archive(files, links, compression)),
            ]
        )
    )
    return deb
