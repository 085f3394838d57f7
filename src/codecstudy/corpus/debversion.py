"""Debian version order (deb-version(7)), as dpkg compares versions: so the newest of several downloaded or unpacked
versions of a package is the one apt would install, not the last by string order (``1.9`` before ``1.10``)."""

from __future__ import annotations

from functools import cmp_to_key

from codecstudy.errors import CodecStudyError


def _split_version(version: str) -> tuple[int, str, str]:
    """``[epoch:]upstream[-revision]`` as (epoch, upstream, revision); the revision follows the *last* hyphen."""
    epoch_text, colon, rest = version.partition(":")
    if not colon:
        epoch_text, rest = "0", version
    try:
        epoch = int(epoch_text)
    except ValueError:
        raise CodecStudyError(f"{version!r}: not a Debian version (epoch {epoch_text!r} is not a number)") from None
    upstream, hyphen, revision = rest.rpartition("-")
    return (epoch, upstream, revision) if hyphen else (epoch, rest, "")


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"  # ASCII only, as dpkg (str.isdigit would also take "²")


def _char_order(ch: str) -> int:
    """dpkg's weight of a character in a non-digit run (``""``: the run has ended): ``~`` before the end of the run,
    the end before letters, letters before every other character."""
    if ch == "~":
        return -1
    if not ch or _is_digit(ch):
        return 0
    if "a" <= ch.lower() <= "z":
        return ord(ch)
    return ord(ch) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's comparison of two upstream versions or two revisions: alternating runs of non-digits (compared
    character by character with :func:`_char_order`) and digits (compared as numbers: 10 > 9, 01 == 1)."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not _is_digit(a[i])) or (j < len(b) and not _is_digit(b[j])):
            left, right = _char_order(a[i : i + 1]), _char_order(b[j : j + 1])
            if left != right:
                return -1 if left < right else 1
            i, j = i + 1, j + 1  # equal weights here mean two equal non-digits
        start_i, start_j = i, j
        while i < len(a) and _is_digit(a[i]):
            i += 1
        while j < len(b) and _is_digit(b[j]):
            j += 1
        left_number, right_number = int(a[start_i:i] or 0), int(b[start_j:j] or 0)
        if left_number != right_number:
            return -1 if left_number < right_number else 1
    return 0


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian version ``a`` sorts before, equal to or after ``b``, by the rules of deb-version(7):
    epochs as numbers, then upstream versions, then revisions (``1.0~rc1 < 1.0 < 1.0a < 1.0+b1``,
    ``1.9 < 1.10``, ``1:0.9 > 2.0``)."""
    epoch_a, upstream_a, revision_a = _split_version(a)
    epoch_b, upstream_b, revision_b = _split_version(b)
    if epoch_a != epoch_b:
        return -1 if epoch_a < epoch_b else 1
    return _compare_part(upstream_a, upstream_b) or _compare_part(revision_a, revision_b)


#: A ``sorted(..., key=)`` key that orders Debian version strings by :func:`compare_versions`.
version_key = cmp_to_key(compare_versions)
