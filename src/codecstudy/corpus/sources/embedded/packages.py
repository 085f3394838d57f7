"""What the embedded corpus is made of: one :class:`PackageSpec` per Debian package, and what to extract from it.

Every per-package fact lives here (licence, content root, metadata packages, members filter), so adding a
package means one entry in :data:`PACKAGES` plus, at most, a handler module for a new layout family.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from codecstudy.corpus.records import DOMAINS

AUDIO_SUFFIXES = (".ogg", ".wav", ".flac", ".g722")
FILTER_VERSION = "v1"  # bump when a members filter changes, so cached trees are re-extracted


@dataclass(frozen=True)
class PackageSpec:
    """One package of the embedded corpus: how to read it and what it can contribute.

    ``domains``/``languages`` say what the package *can* yield (``languages=None``: many, not listed), so a
    filtered source does not even download packages it would throw away. ``needs`` are packages read for
    metadata (transcripts, game scripts, the SoundFont) rather than audio.
    """

    name: str
    handler: str
    license: str
    domains: frozenset[str]
    languages: frozenset[str | None] | None
    content_root: str
    needs: tuple[str, ...] = ()


def _spec(
    name: str,
    handler: str,
    license: str,
    domains: Iterable[str],
    languages: Iterable[str | None] | None,
    content_root: str,
    needs: tuple[str, ...] = (),
) -> PackageSpec:
    return PackageSpec(
        name, handler, license, frozenset(domains), None if languages is None else frozenset(languages),
        content_root, needs,
    )


# Licences as stated in each package's debian/copyright (the Asterisk file lists fr-*, it-*, ru-* stanzas).
ASTERISK_LICENSES = {
    "en": "CC-BY-SA-3.0",
    "es": "CC-BY-SA-3.0",
    "fr": "CC-BY-SA-3.0",
    "it": "CC-BY-3.0",
    "ru": "CC-BY-3.0",
}
ASTERISK_ROOT = "usr/share/asterisk/sounds"
FILLETS_ROOT = "usr/share/games/fillets-ng"
TUXPAINT_ROOT = "usr/share/tuxpaint/stamps"
SOUNDFONT_PACKAGE = "fluid-soundfont-gm"
SOUNDFONT_NAME = "FluidR3_GM.sf2"

PACKAGES: dict[str, PackageSpec] = {
    spec.name: spec
    for spec in [
        *(
            _spec(
                f"asterisk-core-sounds-{lang}-g722", "asterisk", license, ["speech"], [lang], ASTERISK_ROOT,
                (f"asterisk-core-sounds-{lang}",),
            )
            for lang, license in ASTERISK_LICENSES.items()
        ),
        _spec("fillets-ng-data", "fillets", "GPL-2+", DOMAINS, [None, "de", "ru"], FILLETS_ROOT),
        _spec("fillets-ng-data-cs", "fillets", "GPL-2+", ["speech"], ["cs"], FILLETS_ROOT, ("fillets-ng-data",)),
        _spec("fillets-ng-data-nl", "fillets", "GPL-2+", ["speech"], ["nl"], FILLETS_ROOT, ("fillets-ng-data",)),
        _spec("tuxpaint-stamps-default", "tuxpaint", "GPL-2", ["speech", "environment"], None, TUXPAINT_ROOT),
        _spec("wesnoth-1.16-music", "files", "GPL-2+", ["music"], [None], "usr/share/games/wesnoth/1.16/data/core"),
        _spec("supertux-data", "files", "GPL-2+", ["music"], [None], "usr/share/games/supertux2"),
        _spec("openttd-openmsx", "openmsx", "GPL-2", ["music"], [None], "usr/share/games/openttd/baseset/openmsx",
              (SOUNDFONT_PACKAGE,)),
        _spec("megaglest-data", "files", "CC-BY-SA-3.0", ["music", "environment"], [None], "usr/share/games/megaglest"),
        _spec("lincity-ng-data", "files", "GPL-2+", ["music", "environment"], [None], "usr/share/games/lincity-ng"),
        _spec("openttd-opensfx", "opensfx", "CC-BY-SA-3.0", ["environment"], [None],
              "usr/share/games/openttd/baseset/opensfx"),
    ]
}


# ----------------------------------------------------------------------------------------------------------
# Members filters: only what we read is extracted (MegaGlest alone would otherwise unpack 600 MB of models).


def _audio_or(*extra: str) -> Callable[[str], bool]:
    def keep(name: str) -> bool:
        lower = name.lower()
        return lower.endswith(AUDIO_SUFFIXES + extra) or ("/doc/" in name and lower.endswith("copyright"))

    return keep


def _under(prefixes: tuple[str, ...], inner: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda name: (name.startswith(prefixes) and inner(name)) or name.endswith("/copyright")


MEMBER_FILTERS: dict[str, tuple[str, Callable[[str], bool] | None]] = {
    "fillets-ng-data": ("audio+lua", _audio_or(".lua")),
    "tuxpaint-stamps-default": ("audio+txt", _audio_or(".txt")),
    "supertux-data": ("music", _under(("usr/share/games/supertux2/music/",), _audio_or())),
    "megaglest-data": ("audio", _audio_or()),
    "lincity-ng-data": ("audio", _audio_or()),
    SOUNDFONT_PACKAGE: ("sf2", lambda name: name.endswith(".sf2") or name.endswith("/copyright")),
}
