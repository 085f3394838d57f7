"""Downloading and unpacking .deb files, on small debs built by the test (no network unless marked)."""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from helpers.debs import ar_archive, make_deb

from codecstudy.corpus import debian, debversion
from codecstudy.errors import CodecStudyError

FILES = {
    "usr/share/games/demo/sound/a.ogg": b"A" * 11,
    "usr/share/games/demo/sound/b.wav": b"B" * 20,
    "usr/share/games/demo/images/c.png": b"C" * 5,
    "usr/share/doc/demo/copyright": b"GPL-2+\n",
}


def test_ar_members_and_control(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "demo", FILES, version="1:2.0-3")
    assert [m.name for m in debian.ar_members(deb)] == ["debian-binary", "control.tar.xz", "data.tar.xz"]
    assert debian.read_control(deb)["Description"] == "test\nmulti-line"
    info = debian.deb_info(deb)
    assert info == debian.DebInfo("demo", "1:2.0-3", "all")
    assert info.slug == "demo_1%3a2.0-3"


@pytest.mark.parametrize("compression", ["xz", "gz", ""])
def test_unpack_files_filter_and_marker(tmp_path: Path, compression: str) -> None:
    deb = make_deb(
        tmp_path, "demo", FILES, compression=compression,
        links={"usr/share/games/demo/sound/link.ogg": "a.ogg", "usr/share/games/demo/font.ttf": "/usr/share/x.ttf"},
    )
    dest = debian.unpack_deb(deb, tmp_path / "out", lambda name: not name.endswith(".png"), filter_key="no-png")
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file() or p.is_symlink())
    # Symbolic links are never extracted (duplicates or pointers out of the package); filtered files neither.
    assert files == [
        debian.UNPACKED_MARKER,
        "usr/share/doc/demo/copyright",
        "usr/share/games/demo/sound/a.ogg",
        "usr/share/games/demo/sound/b.wav",
    ]
    assert (dest / "usr/share/games/demo/sound/b.wav").read_bytes() == b"B" * 20
    assert not (dest / "usr/share/games/demo/images").exists()  # folders appear only for kept files
    marker = debian.unpacked_info(dest)
    assert marker is not None and marker["version"] == "1.0-1" and marker["filter"] == "no-png"


def test_unpack_is_skipped_when_done_and_redone_when_the_filter_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deb = make_deb(tmp_path, "demo", FILES)
    calls: list[Path] = []
    real = debian._extract_data

    def counting(deb_path: Path, root: Path, keep) -> None:  # type: ignore[no-untyped-def]
        calls.append(root)
        real(deb_path, root, keep)

    monkeypatch.setattr(debian, "_extract_data", counting)
    dest = tmp_path / "out"
    debian.unpack_deb(deb, dest)
    first = (dest / debian.UNPACKED_MARKER).stat().st_mtime_ns
    debian.unpack_deb(deb, dest)
    assert len(calls) == 1 and (dest / debian.UNPACKED_MARKER).stat().st_mtime_ns == first
    debian.unpack_deb(deb, dest, lambda name: name.endswith(".ogg"), filter_key="ogg")
    assert len(calls) == 2
    assert sorted(p.name for p in dest.rglob("*") if p.is_file()) == [debian.UNPACKED_MARKER, "a.ogg"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # old tree removed


def test_interrupted_unpack_leaves_no_tree(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "demo", FILES)
    seen: list[str] = []

    def dies_midway(name: str) -> bool:
        seen.append(name)
        if len(seen) == 2:
            raise KeyboardInterrupt  # what a user's Ctrl-C looks like from inside the extraction
        return True

    with pytest.raises(KeyboardInterrupt):
        debian.unpack_deb(deb, tmp_path / "out", dies_midway, filter_key="dies")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == [deb.name]  # the partial tree is cleaned up too
    assert debian.unpack_deb(deb, tmp_path / "out").is_dir()


def test_partial_tree_of_a_killed_run_is_removed(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "demo", FILES)
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead = tmp_path / f".out.partial-{finished.pid}-abc"
    (dead / "usr").mkdir(parents=True)
    alive = tmp_path / f".out.partial-{os.getpid()}-xyz"  # a run still going on (here: this process)
    alive.mkdir()
    debian.unpack_deb(deb, tmp_path / "out")
    assert not dead.exists() and alive.exists()


def test_unsafe_member_names_are_not_extracted(tmp_path: Path) -> None:
    deb = make_deb(tmp_path / "debs", "demo", {"usr/ok.txt": b"ok", "../evil.txt": b"x", "/etc/evil.txt": b"x"})
    dest = debian.unpack_deb(deb, tmp_path / "out")
    assert (dest / "usr/ok.txt").read_bytes() == b"ok"
    assert not (tmp_path / "evil.txt").exists() and not (dest / "etc").exists()


def test_broken_debs_are_clear_errors(tmp_path: Path) -> None:
    not_deb = tmp_path / "x_1_all.deb"
    not_deb.write_bytes(b"PK\x03\x04 not an ar archive")
    with pytest.raises(CodecStudyError, match="not a .deb"):
        debian.unpack_deb(not_deb, tmp_path / "out")
    deb = make_deb(tmp_path, "demo", FILES)
    truncated = tmp_path / "t_1_all.deb"
    truncated.write_bytes(deb.read_bytes()[:-200])
    with pytest.raises(CodecStudyError, match="truncated"):
        debian.unpack_deb(truncated, tmp_path / "out")
    zst = tmp_path / "z_1_all.deb"
    zst.write_bytes(ar_archive([("debian-binary", b"2.0\n"), ("control.tar.zst", b"\x28\xb5\x2f\xfd")]))
    try:
        import zstandard  # noqa: F401
    except ImportError:
        with pytest.raises(CodecStudyError, match="pip install zstandard"):
            debian.deb_info(zst)


# ----------------------------------------------------------------------------------------------------------
# Debian version order


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("1.0~rc1", "1.0"),  # ~ sorts before the end of the version: pre-releases come first
        ("2.0", "1:0.9"),  # the epoch beats everything after it
        ("1.9", "1.10"),  # digits compare as numbers
        ("1.0-1", "1.0-2"),  # then the revision
        ("1.0", "1.0a"),  # a letter after the end
        ("1.0", "1.0+b1"),  # binNMU
        ("1.0a", "1.0+"),  # letters before other characters
        ("1.0-9", "1.0-10"),
        ("1.0-1", "1.0.1-1"),
        ("0:1.0", "1:0.1"),
        ("1.0~~", "1.0~~a"),
        ("1.0~~a", "1.0~"),
        ("1.0~", "1.0"),
        ("1.0-beta-1", "1.0-beta-2"),  # the revision follows the last hyphen
        ("1.0-1~bpo1", "1.0-1"),
    ],
)
def test_debian_versions_compare_as_dpkg_documents(older: str, newer: str) -> None:
    assert debversion.compare_versions(older, newer) == -1
    assert debversion.compare_versions(newer, older) == 1
    assert debversion.compare_versions(newer, newer) == 0


def test_tilde_chain_and_equal_spellings() -> None:
    # deb-version(7): "~~" < "~~a" < "~" < "" < "a"
    assert sorted(["a", "", "~", "~~a", "~~"], key=debversion.version_key) == ["~~", "~~a", "~", "", "a"]
    assert debversion.compare_versions("1.01", "1.1") == 0  # numbers, so leading zeros do not count
    assert debversion.compare_versions("0:1.0", "1.0") == 0  # the default epoch is 0
    assert debversion.compare_versions("1.0", "1.0-0") == 0  # an absent revision is "0"
    with pytest.raises(CodecStudyError, match="epoch"):
        debversion.compare_versions("x:1.0", "1.0")


def _random_version(rng: random.Random) -> str:
    """A valid version from a small alphabet, so that near ties (1.0 / 1.0~ / 1.0a / 01) come up often."""
    pieces = [".", ".", "~", "~~", "+", "a", "b", "rc", "Z", "0", "1", "9", "10", "01", "+b1"]
    upstream = str(rng.choice([0, 1, 2, 9, 10])) + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))
    epoch = f"{rng.choice([0, 1, 2])}:" if rng.random() < 0.2 else ""
    revision = ""
    if rng.random() < 0.5:
        if rng.random() < 0.2:
            upstream += "-" + rng.choice(["a", "1"])  # a hyphen inside the upstream version
        revision = "-" + rng.choice(["0", "1", "2", "10", "1~bpo1", "1+b1", "1ubuntu1", "a"])
    return epoch + upstream + revision


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
def test_version_order_agrees_with_dpkg(tmp_path: Path) -> None:
    rng = random.Random(27)
    pairs = []
    for _ in range(300):
        a = _random_version(rng)
        b = _random_version(rng) if rng.random() < 0.5 else a + rng.choice(["", "~", "a", "+", ".0", "0", "~1"])
        pairs.append((a, b))
    script = "".join(
        f"if dpkg --compare-versions '{a}' lt '{b}'; then echo -1; "
        f"elif dpkg --compare-versions '{a}' eq '{b}'; then echo 0; else echo 1; fi\n"
        for a, b in pairs
    )
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    expected = [int(line) for line in result.stdout.split()]
    assert len(expected) == len(pairs) and result.stderr == ""
    ours = [debversion.compare_versions(a, b) for a, b in pairs]
    assert [(a, b, o) for (a, b), o, e in zip(pairs, ours, expected) if o != e] == []
    assert {-1, 0, 1} <= set(expected)  # the sample holds all three outcomes


def test_find_deb_takes_the_newest_version_not_the_last_name(tmp_path: Path) -> None:
    for version in ("1.9-1", "1.10~rc1-1", "1.10-1", "1.2-1"):
        make_deb(tmp_path, "demo", FILES, version=version)
    assert debian.find_deb("demo", tmp_path) == tmp_path / "demo_1.10-1_all.deb"  # by name 1.9-1 was the last
    make_deb(tmp_path, "demo", FILES, version="1:0.9-1")
    assert debian.find_deb("demo", tmp_path) == tmp_path / "demo_1%3a0.9-1_all.deb"  # the epoch wins
    assert debian.deb_file_version(tmp_path / "demo_1%3a0.9-1_all.deb") == "1:0.9-1"


def test_find_unpacked_takes_the_newest_version(tmp_path: Path) -> None:
    for version in ("1.10-1", "1.9-1"):
        deb = make_deb(tmp_path / "debs", "demo", FILES, version=version)
        debian.unpack_deb(deb, tmp_path / "unpacked" / debian.deb_info(deb).slug)
    found = debian.find_unpacked("demo", tmp_path)
    assert found is not None and found.version == "1.10-1" and found.root.name == "demo_1.10-1"


# ----------------------------------------------------------------------------------------------------------
# fetch_deb, with a fake apt-get on PATH


def _fake_apt(tmp_path: Path, script: str) -> Path:
    """An ``apt-get`` that logs its arguments to ``apt.log`` and then runs ``script``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    apt = bin_dir / "apt-get"
    log = tmp_path / "apt.log"
    apt.write_text(f'#!/bin/sh\necho "$@" >> {log}\n{script}\n')
    apt.chmod(apt.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_cache_root_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(debian.CACHE_ENV, str(tmp_path / "c"))
    assert debian.default_deb_dir() == tmp_path / "c" / "debs"
    monkeypatch.delenv(debian.CACHE_ENV)
    assert debian.cache_root() == Path.home() / ".cache" / "codecstudy"


def test_fetch_prefers_deb_dir_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_fake_apt(tmp_path, "exit 1")))
    given = make_deb(tmp_path / "given", "demo", FILES)
    make_deb(tmp_path / "given", "demo-extra", FILES)  # a longer name must not match "demo"
    cached = make_deb(tmp_path / "cache", "other", FILES)
    assert debian.fetch_deb("demo", tmp_path / "cache", deb_dir=tmp_path / "given") == given
    assert debian.fetch_deb("other", tmp_path / "cache", deb_dir=tmp_path / "given") == cached
    assert not (tmp_path / "apt.log").exists()


def test_fetch_downloads_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_fake_apt(tmp_path, 'printf deb > "$2_1.0_all.deb"')))
    cache = tmp_path / "cache"
    deb = debian.fetch_deb("demo", cache)
    assert deb == cache / "demo_1.0_all.deb" and deb.read_bytes() == b"deb"
    assert [p.name for p in cache.iterdir()] == ["demo_1.0_all.deb"]  # the download folder is gone
    assert debian.fetch_deb("demo", cache) == deb  # resumable: no second download
    assert (tmp_path / "apt.log").read_text().splitlines() == ["download demo"]


def test_fetch_updates_package_lists_once_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = (
        f'if [ "$1" = update ]; then : > {tmp_path}/updated; exit 0; fi\n'
        f'if [ -e {tmp_path}/updated ]; then printf deb > "$2_1.0_all.deb"; exit 0; fi\n'
        'echo "E: Unable to locate package $2" >&2; exit 100'
    )
    monkeypatch.setenv("PATH", str(_fake_apt(tmp_path, script)))
    monkeypatch.setattr(debian, "_is_root", lambda: True)
    monkeypatch.setattr(debian, "_apt_updated", False)
    assert debian.fetch_deb("demo", tmp_path / "cache").name == "demo_1.0_all.deb"
    assert (tmp_path / "apt.log").read_text().splitlines() == ["download demo", "update", "download demo"]


def test_fetch_errors_are_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_fake_apt(tmp_path, 'echo "E: Unable to locate package $2" >&2; exit 100')))
    monkeypatch.setattr(debian, "_is_root", lambda: False)
    with pytest.raises(CodecStudyError) as error:
        debian.fetch_deb("nosuch", tmp_path / "cache")
    message = str(error.value)
    assert "\n" not in message
    assert message == (
        "nosuch: apt-get download failed: E: Unable to locate package nosuch (run 'apt-get update' as root first)"
    )
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(CodecStudyError, match="apt-get is not available"):
        debian.fetch_deb("nosuch", tmp_path / "cache")


def test_ensure_unpacked_reuses_a_tree_when_the_deb_is_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_fake_apt(tmp_path, "exit 1")))
    deb = make_deb(tmp_path / "cache" / "debs", "demo", FILES, version="2.0-1")
    first = debian.ensure_unpacked("demo", tmp_path / "cache")
    assert first.version == "2.0-1" and first.root == tmp_path / "cache" / "unpacked" / "demo_2.0-1"
    deb.unlink()
    again = debian.ensure_unpacked("demo", tmp_path / "cache")
    assert again.root == first.root and again.version == "2.0-1"
    with pytest.raises(CodecStudyError, match="apt-get download failed"):
        debian.ensure_unpacked("demo", tmp_path / "cache", filter_key="other")  # that tree has another filter


def test_ensure_unpacked_checks_the_package_name(tmp_path: Path) -> None:
    deb = make_deb(tmp_path / "debs", "demo", FILES)
    deb.rename(tmp_path / "debs" / "impostor_1.0_all.deb")
    with pytest.raises(CodecStudyError, match="contains package 'demo', expected 'impostor'"):
        debian.ensure_unpacked("impostor", tmp_path)


@pytest.mark.network
def test_real_apt_download(tmp_path: Path) -> None:
    deb = debian.fetch_deb("openttd-openmsx", tmp_path / "debs")
    assert debian.deb_info(deb).package == "openttd-openmsx"
    root = debian.unpack_deb(deb, tmp_path / "unpacked")
    assert len(list(root.rglob("*.mid"))) >= 30
