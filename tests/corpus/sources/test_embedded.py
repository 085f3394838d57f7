"""The embedded source on miniature fake Debian packages built here (offline), plus MIDI rendering.

Each fake package mimics the real layout of its family (paths, script formats, the quirks the source handles),
with a handful of tiny files, so every rule of the source is pinned by an exact expectation.
"""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.debs import make_deb
from helpers.layouts import split

from codecstudy.corpus import debian, midi
from codecstudy.corpus.records import SkippedItem, SourceItem
from codecstudy.corpus.sources import embedded as embedded_module
from codecstudy.corpus.sources import make_source
from codecstudy.corpus.sources.embedded import (
    EmbeddedSource,
    clean_asterisk_text,
    opensfx_license,
    parse_fillets_dialogs,
    read_asterisk_transcripts,
    read_stamp_texts,
    repair_asterisk_text,
    scan_riff,
)
from codecstudy.errors import CodecStudyError, ConfigError

# ----------------------------------------------------------------------------------------------------------
# Building fake packages


_FREQ = iter(range(200, 100000, 37))


def tone(fmt: str = "OGG", seconds: float = 0.05, rate: int = 22050) -> bytes:
    """Tiny real audio; every call a new frequency, so no two files are accidentally identical."""
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * next(_FREQ) * t)).astype(np.float32), rate, format=fmt)
    return buffer.getvalue()


def g722() -> bytes:
    import G722

    t = np.arange(800) / 16000
    pcm = (8000 * np.sin(2 * np.pi * next(_FREQ) * t)).astype(np.int16)
    return bytes(G722.G722(16000, 64000).encode(pcm.tobytes()))


def _chunk(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _name(text: str) -> bytes:
    return text.encode().ljust(20, b"\0")


def tiny_sf2(period: int = 100, cycles: int = 10) -> bytes:
    """A valid SoundFont 2 with one preset: a looped sine whose root key is A4 (441 Hz at 44.1 kHz)."""
    n = period * cycles
    wave = (np.sin(2 * np.pi * np.arange(n) / period) * 16000).astype("<i2").tobytes() + b"\0" * 92
    terminal_sample = struct.pack("<IIIIIBbHH", 0, 0, 0, 0, 0, 0, 0, 0, 0)
    body = b"sfbk" + b"".join(
        [
            _chunk(b"LIST", b"INFO" + _chunk(b"ifil", struct.pack("<HH", 2, 1)) + _chunk(b"isng", b"EMU8000\0")
                   + _chunk(b"INAM", b"tiny\0")),
            _chunk(b"LIST", b"sdta" + _chunk(b"smpl", wave)),
            _chunk(
                b"LIST",
                b"pdta"
                + _chunk(b"phdr", _name("sine") + struct.pack("<HHHIII", 0, 0, 0, 0, 0, 0)
                         + _name("EOP") + struct.pack("<HHHIII", 0, 0, 1, 0, 0, 0))
                + _chunk(b"pbag", struct.pack("<HHHH", 0, 0, 1, 0))
                + _chunk(b"pmod", b"\0" * 10)
                + _chunk(b"pgen", struct.pack("<HHHH", 41, 0, 0, 0))  # instrument 0
                + _chunk(b"inst", _name("sine") + struct.pack("<H", 0) + _name("EOI") + struct.pack("<H", 1))
                + _chunk(b"ibag", struct.pack("<HHHH", 0, 0, 2, 0))
                + _chunk(b"imod", b"\0" * 10)
                + _chunk(b"igen", struct.pack("<HHHHHH", 54, 1, 53, 0, 0, 0))  # loop continuously, sample 0
                + _chunk(b"shdr", _name("sine") + struct.pack("<IIIIIBbHH", 0, n, 0, n, 44100, 69, 0, 0, 1)
                         + _name("EOS") + terminal_sample),
            ),
        ]
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tiny_midi(key: int = 69) -> bytes:
    """Format 0, one note of 480 ticks (0.5 s at the default 120 bpm)."""
    track = bytes([0, 0xC0, 0, 0, 0x90, key, 100, 0x83, 0x60, 0x80, key, 0, 0, 0xFF, 0x2F, 0])
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + track


def riff(payload: bytes, form: bytes = b"WAVE") -> bytes:
    return b"RIFF" + struct.pack("<I", len(payload) + 4) + form + payload


AST = "usr/share/asterisk/sounds/en_US_f_Allison"
OTHER_VOICES = {"es": "es_MX_f_Allison", "fr": "fr_CA_f_June", "it": "it_IT_m_Carlo", "ru": "ru_RU_f_IvrvoiceRU"}
ONE = {"es": "uno", "fr": "un", "it": "uno", "ru": "один"}
FIL = "usr/share/games/fillets-ng"
TUX = "usr/share/tuxpaint/stamps"
MG = "usr/share/games/megaglest"
SFX_WAV_1 = tone("WAV", rate=44100)
SFX_WAV_2 = tone("WAV", rate=44100)
WOLF = tone("WAV")
KEY = tone()
LETTER_A = tone()
CS_BARREL = """
dialogId("bar-v-videt0", "font_big", "Somebody from Greenpeace should see this.")
dialogStr("To by měli vidět lidi z Greenpeace.")

dialogId("bar-m-multi", "font_small",
  "He said \\"hi\\" and left.")
dialogStr(
  "Řekl \\"ahoj\\" a  odešel.")

dialogId("bar-v-fotka", "font_big", "A photo.")
dialogStr("Fotka.")

dialogId("bar-v-co", "font_big", "What now?")
dialogStr("Co s tím?")
"""


def package_files() -> dict[tuple[str, str], tuple[dict[str, bytes], dict[str, str]]]:
    """(package, version) -> (files, symlinks) of every fake package."""
    transcripts = (
        "; Core Asterisk Sounds in English\n\n"
        "hello: Hello  world.\ndigits/1: one\nbeep: [beep tone]\nletters/at: at [@]\nempty: \n"
        "vm-note: Please hang up. (simple tone sound plays)\nsilence/1: (1 second of silence)\n"
    )
    return {
        ("asterisk-core-sounds-en-g722", "1.6.1-1"): (
            {f"{AST}/{name}.g722": g722() for name in
             ["hello", "digits/1", "beep", "letters/at", "empty", "orphan", "vm-note", "silence/1"]}
            | {"usr/share/doc/asterisk-core-sounds-en-g722/copyright": b"CC-BY-SA-3.0"},
            {},
        ),
        ("asterisk-core-sounds-en", "1.6.1-1"): (
            {"usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz": gzip.compress(transcripts.encode())},
            {},
        ),
        **{
            (f"asterisk-core-sounds-{lang}-g722", "1.6.1-1"): (
                {f"usr/share/asterisk/sounds/{voice}/digits/1.g722": g722()}, {}
            )
            for lang, voice in OTHER_VOICES.items()
        },
        **{
            (f"asterisk-core-sounds-{lang}", "1.6.1-1"): (
                {f"usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz":
                 gzip.compress(f"digits/1: {ONE[lang]}\n".encode())},
                {},
            )
            for lang in OTHER_VOICES
        },
        ("fillets-ng-data", "1.0.1-1.1"): (
            {
                f"{FIL}/music/rybky01.ogg": tone(),
                f"{FIL}/images/menu/fish.png": b"png",
                f"{FIL}/sound/share/sp-bubles_00.ogg": tone(),
                f"{FIL}/sound/cancan/en/kan-klavir-music.ogg": tone(),
                f"{FIL}/sound/corridor/en/ch-x-click1.ogg": tone(),
                f"{FIL}/sound/elk/en/deu-l-ja.ogg": tone(),
                f"{FIL}/sound/elk/en/deu-p-los.ogg": tone(),
                f"{FIL}/sound/linux/en/key0.ogg": KEY,
                f"{FIL}/sound/linux/en/key1.ogg": KEY,
                f"{FIL}/script/corridor/dialogs_en.lua": b'dialogId("ch-x-click1", "font_darkgrey", "CLICK")\n',
                f"{FIL}/script/cancan/dialogs_en.lua": b'dialogId("kan-klavir-music", "", "")\n',
                f"{FIL}/script/elk/dialogs_en.lua": (
                    'dialogId("deu-l-ja", "font_elk", "Ya los...")\n'
                    'dialogId("deu-p-los", "font_parrot", "Was ist denn los?")\n'
                ).encode(),
                f"{FIL}/script/elk/dialogs_ru.lua": (
                    'dialogId("deu-l-ja", "font_elk", "Ya los...")\ndialogStr("Я лось...")\n'
                    'dialogId("deu-p-los", "font_parrot", "Was ist denn los?")\n'
                    'dialogStr("Что случилось?")\n'
                ).encode(),
                f"{FIL}/script/barrel/dialogs_cs.lua": CS_BARREL.encode(),
                f"{FIL}/script/share/black_dialogs_cs.lua": b'dialogId("smrt-m-0", "font_small", "Death.")\n'
                                                            b'dialogStr("Smrt.")\n',
                f"{FIL}/script/barrel/dialogs_nl.lua": b'dialogId("bar-v-videt0", "font_big", "Look.")\n'
                                                       b'dialogStr("Kijk.")\n',
                f"{FIL}/script/gods/dialogs_cs.lua": b'dialogId("b1-1", "", "")\ndialogStr("")\n',
            },
            {},
        ),
        ("fillets-ng-data-cs", "1.0.1-1.1"): (
            {
                f"{FIL}/sound/barrel/cs/bar-v-videt0.ogg": tone(),
                f"{FIL}/sound/barrel/cs/bar-m-multi.ogg": tone(),
                f"{FIL}/sound/barrel/cs/bar_v_fotka.ogg": tone(),
                f"{FIL}/sound/barrel/cs/bar-v-co2.ogg": tone(),
                f"{FIL}/sound/blackjokes/cs/smrt-m-0.ogg": tone(),
                f"{FIL}/sound/fdto/cs/ted5-m.ogg": tone(),
                f"{FIL}/sound/gods/cs/b1-1.ogg": tone(),
            },
            {},
        ),
        ("fillets-ng-data-nl", "1.0.1-1.1"): ({f"{FIL}/sound/barrel/nl/bar-v-videt0.ogg": tone()}, {}),
        ("tuxpaint-stamps-default", "2022.06.04-1"): (
            {
                f"{TUX}/animals/frog.txt": (
                    "A frog.\nes.utf8=Una rana.\nda.utf8=En frø.\npt_BR.utf8=Um sapo.\n"
                ).encode(),
                f"{TUX}/animals/frog.png": b"png",
                f"{TUX}/animals/frog.ogg": tone(),
                f"{TUX}/animals/frog_desc.ogg": tone(),
                f"{TUX}/animals/frog_desc_es.ogg": tone(),
                f"{TUX}/animals/frog_desc_da.ogg.ogg": tone(),
                f"{TUX}/animals/frog_desc_pt_BR.wav": tone("WAV"),
                f"{TUX}/animals/frog_desc_ru.ogg": tone(),
                f"{TUX}/animals/orphan_desc_fr.ogg": tone(),
                f"{TUX}/symbols/math/7.txt": "Seven.\nde.utf8=Sieben.\nzh_TW.utf8=七\n".encode(),
                f"{TUX}/symbols/math/7.ogg": tone(),
                f"{TUX}/symbols/math/7_de.ogg": tone(),
                f"{TUX}/symbols/math/7_zh_tw.ogg": tone(),
                f"{TUX}/symbols/letters/A_filled.txt": "The letter A.\nfr.utf8=La lettre A.\n".encode(),
                f"{TUX}/symbols/letters/A_outline.txt": "The letter A.\nfr.utf8=La lettre A.\n".encode(),
                f"{TUX}/symbols/letters/A_filled_desc_fr.ogg": LETTER_A,
                f"{TUX}/symbols/letters/A_outline_desc_fr.ogg": LETTER_A,
            },
            {},
        ),
        ("wesnoth-1.16-music", "1:1.16.9-1"): (
            {f"usr/share/games/wesnoth/1.16/data/core/music/{n}.ogg": tone() for n in ["b_song", "a_song"]}, {},
        ),
        ("supertux-data", "0.6.3-2"): (
            {
                "usr/share/games/supertux2/music/forest/forest.ogg": tone(),
                "usr/share/games/supertux2/music/forest/forest.music": b"(music)",
                "usr/share/games/supertux2/sounds/jump.wav": tone("WAV"),
            },
            {},
        ),
        ("megaglest-data", "3.13.0-3"): (
            {
                f"{MG}/techs/megapack/factions/magic/music/magic.ogg": tone(),
                f"{MG}/techs/megapack/factions/magic/units/archer/sounds/archer_ack1.wav": tone("WAV"),
                f"{MG}/techs/megapack/factions/magic/units/archer/sounds/archer_attack1.wav": tone("WAV"),
                f"{MG}/techs/megapack/factions/magic/units/archer/sounds/archer_select2.wav": tone("WAV"),
                f"{MG}/tilesets/forest/sounds/wolf.wav": WOLF,
                f"{MG}/tilesets/winter/sounds/wolf.wav": WOLF,
                f"{MG}/tilesets/forest/models/tree.g3d": b"model",
            },
            {f"{MG}/tilesets/desert/sounds/wolf.wav": "../../forest/sounds/wolf.wav"},
        ),
        ("lincity-ng-data", "2.9~git20150314-5"): (
            {
                "usr/share/games/lincity-ng/sounds/Farm1.wav": tone("WAV"),
                "usr/share/games/lincity-ng/music/default/01 - lincity.ogg": tone(),
            },
            {},
        ),
        ("openttd-opensfx", "1.0.3-2"): (
            {
                "usr/share/games/openttd/baseset/opensfx/opensfx.cat": (
                    b"\x10\x00\x00\x80index"
                    + b'\x2a"Bell". License: Creative Commons Zero 1.0.\x00' + SFX_WAV_1
                    + b"\x05junk" + riff(b"avih" + b"\0" * 8, b"AVI ")
                    + b'"Horn". License: Creative Commons Attribution 3.0 Unported.\x00' + SFX_WAV_2
                    + b"RIFF" + struct.pack("<I", 1000) + b"WAVEfmt "
                ),
            },
            {},
        ),
        ("openttd-openmsx", "0.4.2-1"): (
            {
                "usr/share/games/openttd/baseset/openmsx/song.mid": tiny_midi(),
                "usr/share/games/openttd/baseset/openmsx/broken.mid": b"MThd not really",
            },
            {},
        ),
        ("fluid-soundfont-gm", "3.1-5.3"): (
            {"usr/share/sounds/sf2/FluidR3_GM.sf2": tiny_sf2(), "etc/timidity/fluidr3_gm.cfg": b"cfg"}, {},
        ),
    }


@pytest.fixture(scope="module")
def deb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("debs")
    for (package, version), (files, links) in package_files().items():
        make_deb(folder, package, files, version=version, links=links)
    return folder


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(package: str, cache_dir: Path) -> Path:
        raise AssertionError(f"the test tried to download {package}")

    monkeypatch.setattr(debian, "_apt_download", no_download)


def _source(deb_dir: Path, cache: Path, **options) -> EmbeddedSource:  # type: ignore[no-untyped-def]
    return EmbeddedSource(cache_dir=cache, deb_dir=deb_dir, **options)


def _root(cache: Path, slug: str, inner: str) -> Path:
    return cache / "unpacked" / slug / inner


def _item(path: Path, package: str, rel: str, domain: str, license: str, language: str | None = None,
          speaker: str | None = None, text: str | None = None) -> SourceItem:
    return SourceItem(
        path=str(path), source=f"embedded/{package}", domain=domain, license=license, language=language,
        speaker=speaker, text=text, item_id=f"embedded/{package}/{rel}",
    )


def _skips(skips: list[SkippedItem], root: Path) -> list[tuple[str, str]]:
    return [(str(Path(s.path).relative_to(root)), s.reason) for s in skips]


# ----------------------------------------------------------------------------------------------------------
# Families


def test_asterisk(deb_dir: Path, tmp_path: Path) -> None:
    pkg = "asterisk-core-sounds-en-g722"
    items, skips = split(_source(deb_dir, tmp_path, packages=[pkg, "asterisk-core-sounds-it-g722"]).items())
    sounds = _root(tmp_path, f"{pkg}_1.6.1-1", "usr/share/asterisk/sounds")
    voice = sounds / "en_US_f_Allison"

    def en(rel: str, text: str) -> SourceItem:
        return _item(voice / f"{rel}.g722", pkg, f"en_US_f_Allison/{rel}", "speech", "CC-BY-SA-3.0", "en",
                     "asterisk:Allison", text)

    it_sounds = _root(tmp_path, "asterisk-core-sounds-it-g722_1.6.1-1", "usr/share/asterisk/sounds")
    assert items == [
        en("digits/1", "one"),
        en("hello", "Hello world."),
        en("letters/at", "at"),
        en("vm-note", "Please hang up."),
        _item(it_sounds / "it_IT_m_Carlo/digits/1.g722", "asterisk-core-sounds-it-g722", "it_IT_m_Carlo/digits/1",
              "speech", "CC-BY-3.0", "it", "asterisk:Carlo", "uno"),
    ]
    assert _skips(skips, voice) == [
        ("beep.g722", "transcript describes a sound, not speech ([beep tone])"),
        ("empty.g722", "empty transcript"),
        ("orphan.g722", "no transcript (no line 'orphan' in core-sounds-en.txt.gz)"),
    ]


def test_fillets(deb_dir: Path, tmp_path: Path) -> None:
    items, skips = split(_source(deb_dir, tmp_path, packages=["fillets-ng-data", "fillets-ng-data-cs"]).items())
    base = _root(tmp_path, "fillets-ng-data_1.0.1-1.1", FIL)
    cs = _root(tmp_path, "fillets-ng-data-cs_1.0.1-1.1", FIL)

    def b(rel: str, domain: str, language: str | None = None, speaker: str | None = None,
          text: str | None = None) -> SourceItem:
        return _item(base / f"{rel}.ogg", "fillets-ng-data", rel, domain, "GPL-2+", language, speaker, text)

    def c(rel: str, speaker: str, text: str) -> SourceItem:
        return _item(cs / f"{rel}.ogg", "fillets-ng-data-cs", rel, "speech", "GPL-2+", "cs", speaker, text)

    assert items == [
        b("music/rybky01", "music"),
        b("sound/cancan/en/kan-klavir-music", "music"),
        # no English dialogue exists: the "en" fallback folder holds a Russian elk and a German parrot
        b("sound/elk/en/deu-l-ja", "speech", "ru", "fillets:en:elk", "Я лось..."),
        b("sound/elk/en/deu-p-los", "speech", "de", "fillets:en:parrot", "Was ist denn los?"),
        b("sound/linux/en/key0", "environment"),
        b("sound/share/sp-bubles_00", "environment"),
        c("sound/barrel/cs/bar-m-multi", "fillets:cs:small", 'Řekl "ahoj" a odešel.'),
        c("sound/barrel/cs/bar-v-co2", "fillets:cs:big", "Co s tím?"),
        c("sound/barrel/cs/bar-v-videt0", "fillets:cs:big", "To by měli vidět lidi z Greenpeace."),
        c("sound/barrel/cs/bar_v_fotka", "fillets:cs:big", "Fotka."),
        c("sound/blackjokes/cs/smrt-m-0", "fillets:cs:small", "Smrt."),
    ]
    assert [(s.source, s.reason) for s in skips] == [
        ("embedded/fillets-ng-data", "captioned vocal effect, not clean speech (CLICK)"),
        ("embedded/fillets-ng-data", "duplicate (same bytes as embedded/fillets-ng-data/sound/linux/en/key0)"),
        ("embedded/fillets-ng-data-cs", "no transcript"),
        ("embedded/fillets-ng-data-cs", "empty transcript"),
    ]
    assert [Path(s.path).name for s in skips] == ["ch-x-click1.ogg", "key1.ogg", "ted5-m.ogg", "b1-1.ogg"]
    assert not (base / "images").exists()  # only audio and scripts are unpacked


def test_tuxpaint(deb_dir: Path, tmp_path: Path) -> None:
    pkg = "tuxpaint-stamps-default"
    items, skips = split(_source(deb_dir, tmp_path, packages=[pkg]).items())
    root = _root(tmp_path, f"{pkg}_2022.06.04-1", TUX)

    def t(name: str, domain: str, language: str | None = None, text: str | None = None, rel: str | None = None):
        return _item(root / name, pkg, rel or name.rsplit(".", 1)[0], domain, "GPL-2", language, None, text)

    assert items == [
        t("animals/frog.ogg", "environment"),
        t("animals/frog_desc.ogg", "speech", "en", "A frog."),
        t("animals/frog_desc_da.ogg.ogg", "speech", "da", "En frø.", rel="animals/frog_desc_da.ogg"),
        t("animals/frog_desc_es.ogg", "speech", "es", "Una rana."),
        t("animals/frog_desc_pt_BR.wav", "speech", "pt", "Um sapo."),
        t("symbols/letters/A_filled_desc_fr.ogg", "speech", "fr", "La lettre A."),
        # digits recorded per locale are speech, and so the plain one is the English recording
        t("symbols/math/7.ogg", "speech", "en", "Seven."),
        t("symbols/math/7_de.ogg", "speech", "de", "Sieben."),
        t("symbols/math/7_zh_tw.ogg", "speech", "zh", "七"),
    ]
    assert _skips(skips, root) == [
        ("animals/frog_desc_ru.ogg", "no transcript (no ru line in frog.txt)"),
        ("animals/orphan_desc_fr.ogg", "no transcript (no orphan.txt)"),
        ("symbols/letters/A_outline_desc_fr.ogg",
         f"duplicate (same bytes as embedded/{pkg}/symbols/letters/A_filled_desc_fr)"),
    ]
    assert not list(root.rglob("*.png"))


def test_music_and_effects(deb_dir: Path, tmp_path: Path) -> None:
    packages = ["wesnoth-1.16-music", "supertux-data", "megaglest-data", "lincity-ng-data"]
    items, skips = split(_source(deb_dir, tmp_path, packages=packages).items())
    wesnoth = _root(tmp_path, "wesnoth-1.16-music_1%3a1.16.9-1", "usr/share/games/wesnoth/1.16/data/core")
    supertux = _root(tmp_path, "supertux-data_0.6.3-2", "usr/share/games/supertux2")
    mg = _root(tmp_path, "megaglest-data_3.13.0-3", MG)
    lincity = _root(tmp_path, "lincity-ng-data_2.9~git20150314-5", "usr/share/games/lincity-ng")
    units = "techs/megapack/factions/magic"
    assert items == [
        _item(lincity / "music/default/01 - lincity.ogg", "lincity-ng-data", "music/default/01 - lincity", "music",
              "GPL-2+"),
        _item(lincity / "sounds/Farm1.wav", "lincity-ng-data", "sounds/Farm1", "environment", "GPL-2+"),
        _item(mg / f"{units}/music/magic.ogg", "megaglest-data", f"{units}/music/magic", "music", "CC-BY-SA-3.0"),
        # the unit replies (archer_ack1, archer_select2) are spoken English and left out
        _item(mg / f"{units}/units/archer/sounds/archer_attack1.wav", "megaglest-data",
              f"{units}/units/archer/sounds/archer_attack1", "environment", "CC-BY-SA-3.0"),
        _item(mg / "tilesets/forest/sounds/wolf.wav", "megaglest-data", "tilesets/forest/sounds/wolf", "environment",
              "CC-BY-SA-3.0"),
        _item(supertux / "music/forest/forest.ogg", "supertux-data", "music/forest/forest", "music", "GPL-2+"),
        _item(wesnoth / "music/a_song.ogg", "wesnoth-1.16-music", "music/a_song", "music", "GPL-2+"),
        _item(wesnoth / "music/b_song.ogg", "wesnoth-1.16-music", "music/b_song", "music", "GPL-2+"),
    ]
    assert _skips(skips, mg) == [
        ("tilesets/winter/sounds/wolf.wav",
         "duplicate (same bytes as embedded/megaglest-data/tilesets/forest/sounds/wolf)"),
    ]
    assert not (mg / "tilesets/desert").exists()  # symlinked copies are not even unpacked
    assert not (supertux / "sounds").exists()


def test_opensfx_cuts_riff_files(deb_dir: Path, tmp_path: Path) -> None:
    pkg = "openttd-opensfx"
    items, skips = split(_source(deb_dir, tmp_path, packages=[pkg]).items())
    out = tmp_path / "derived" / f"{pkg}_1.0.3-2" / "opensfx"
    assert items == [
        _item(out / "000.wav", pkg, "opensfx.cat/000", "environment", "CC0-1.0"),
        _item(out / "002.wav", pkg, "opensfx.cat/002", "environment", "CC-BY-3.0"),
    ]
    assert (out / "000.wav").read_bytes() == SFX_WAV_1 and (out / "002.wav").read_bytes() == SFX_WAV_2
    assert sf.info(str(out / "002.wav")).samplerate == 44100
    cat = _root(tmp_path, f"{pkg}_1.0.3-2", "usr/share/games/openttd/baseset/opensfx/opensfx.cat")
    data = cat.read_bytes()
    assert [(s.path, s.reason) for s in skips] == [
        (f"{cat}@{data.index(b'RIFF', data.index(b'junk'))}", "RIFF chunk is not WAVE audio"),
        (f"{cat}@{data.rindex(b'RIFF')}", "truncated RIFF chunk (1000 bytes declared, 8 left)"),
    ]


def test_openmsx_renders_once(deb_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = "openttd-openmsx"
    items, skips = split(_source(deb_dir, tmp_path, packages=[pkg]).items())
    flac = tmp_path / "derived" / f"{pkg}_0.4.2-1" / "fluidr3_gm-44100" / "song.flac"
    assert items == [_item(flac, pkg, "song", "music", "GPL-2")]
    assert [(Path(s.path).name, s.reason.split(" (")[0]) for s in skips] == [("broken.mid", "MIDI rendering failed")]
    info = sf.info(str(flac))
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_16")
    assert 0.45 < info.duration < 0.7  # the 0.5 s note plus its release, trailing silence cut
    samples, _ = sf.read(str(flac))
    assert 20 * np.log10(np.abs(samples).max()) == pytest.approx(-1.0, abs=0.01)

    def must_not_render(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("rendered again")

    monkeypatch.setattr(midi, "synthesize", must_not_render)
    monkeypatch.setattr(midi, "tinysoundfont_available", lambda: False)  # cached renders need no renderer
    again, _ = split(_source(deb_dir, tmp_path, packages=[pkg]).items())
    assert again == items


def test_openmsx_without_tinysoundfont(deb_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(midi, "tinysoundfont_available", lambda: False)
    items, skips = split(_source(deb_dir, tmp_path, packages=["openttd-openmsx"]).items())
    assert items == []
    assert {s.reason for s in skips} == {"tinysoundfont not installed (pip install --no-deps tinysoundfont==0.3.7)"}
    assert not (tmp_path / "unpacked" / "fluid-soundfont-gm_3.1-5.3").exists()  # 120 MB not fetched for nothing


# ----------------------------------------------------------------------------------------------------------
# The whole source: filters, caching, config


def test_whole_source_is_deterministic_and_cached(
    deb_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = list(_source(deb_dir, tmp_path).items())
    items, skips = split(first)
    assert {i.source for i in items} == {f"embedded/{name}" for name in embedded_module.PACKAGES}
    assert len({i.item_id for i in items}) == len(items)
    assert all(Path(i.path).is_absolute() and Path(i.path).is_file() for i in items)
    assert all((i.language is None) == (i.domain != "speech") for i in items)

    extractions: list[Path] = []
    monkeypatch.setattr(debian, "_extract_data", lambda deb, root, keep: extractions.append(root))
    source = _source(deb_dir, tmp_path)
    assert list(source.items()) == first
    assert extractions == []
    assert source.versions["wesnoth-1.16-music"] == "1:1.16.9-1"


def test_language_and_domain_filters(deb_dir: Path, tmp_path: Path) -> None:
    def summary(**options) -> set[tuple[str | None, str]]:  # type: ignore[no-untyped-def]
        items, _ = split(_source(deb_dir, tmp_path, **options).items())
        return {(i.language, i.domain) for i in items}

    assert summary(languages=["cs", "de"]) == {("cs", "speech"), ("de", "speech")}
    assert summary(domains=["environment"], packages=["fillets-ng-data", "tuxpaint-stamps-default"]) == {
        (None, "environment")
    }
    assert summary(languages=["none"], packages=["fillets-ng-data"]) == {(None, "music"), (None, "environment")}
    # skips obey the filters too: no Russian "no transcript" when only Spanish is asked for
    _, skips = split(_source(deb_dir, tmp_path, languages=["es"], packages=["tuxpaint-stamps-default"]).items())
    assert skips == []


def test_filters_avoid_unneeded_packages(deb_dir: Path, tmp_path: Path) -> None:
    source = _source(deb_dir, tmp_path, languages=["cs"])
    assert source.selected_packages() == ["fillets-ng-data-cs", "tuxpaint-stamps-default"]
    assert source.needed_packages() == ["fillets-ng-data", "fillets-ng-data-cs", "tuxpaint-stamps-default"]
    list(source.items())
    assert sorted(p.name for p in (tmp_path / "unpacked").iterdir()) == [
        "fillets-ng-data-cs_1.0.1-1.1", "fillets-ng-data_1.0.1-1.1", "tuxpaint-stamps-default_2022.06.04-1",
    ]
    assert _source(deb_dir, tmp_path, domains=["music"], languages=["en"]).selected_packages() == []


def test_config_validation_and_registry(deb_dir: Path, tmp_path: Path) -> None:
    source = make_source({"kind": "embedded", "packages": ["openttd-opensfx"], "cache_dir": str(tmp_path),
                          "deb_dir": str(deb_dir)})
    assert isinstance(source, EmbeddedSource) and source.name == "embedded"
    with pytest.raises(ConfigError, match="unknown package.*nosuch-data"):
        make_source({"kind": "embedded", "packages": ["nosuch-data"]})
    with pytest.raises(ConfigError, match="unknown domain.*noise"):
        make_source({"kind": "embedded", "domains": ["noise"]})


def test_check_fails_fast_without_apt(deb_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    _source(deb_dir, tmp_path, packages=["fillets-ng-data-cs"]).check()
    with pytest.raises(CodecStudyError, match="no .deb was found for fillets-ng-data, fillets-ng-data-cs"):
        EmbeddedSource(cache_dir=tmp_path, packages=["fillets-ng-data-cs"]).check()


# ----------------------------------------------------------------------------------------------------------
# Parsers


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Hello  world. ", "Hello world."),
        ("[ascending tones]", None),
        ("(beep)", None),
        ("IAX (note: does not say \"2\")", "IAX"),
        ("at [@]", "at"),
        ("[!] punto esclamativo", "punto esclamativo"),
        ("Sus saludos [temporales] estan en uso", "Sus saludos temporales estan en uso"),
        ("Voce disattivata. (You are now muted.)", "Voce disattivata."),
        ("", ""),
    ],
)
def test_clean_asterisk_text(raw: str, clean: str | None) -> None:
    assert clean_asterisk_text(raw) == clean


def test_read_asterisk_transcripts_splits_run_together_lines(tmp_path: Path) -> None:
    path = tmp_path / "core-sounds-it.txt"
    path.write_text(
        "; comment: not an entry\n"
        "conf-adminmenu: conf-adminmenu: Premere 1.\n"
        "vm-tempremoved: Saluto eliminato vm-then-pound: poi premere cancelletto\n"
        "options: Ecco: le opzioni\n",
        encoding="utf-8",
    )
    keys = {"conf-adminmenu", "vm-tempremoved", "vm-then-pound", "options"}
    assert read_asterisk_transcripts(path, keys) == {
        "conf-adminmenu": "Premere 1.",
        "vm-tempremoved": "Saluto eliminato",
        "vm-then-pound": "poi premere cancelletto",
        "options": "Ecco: le opzioni",
    }
    run_together = read_asterisk_transcripts(path)["vm-tempremoved"]  # without the file names: not split
    assert run_together == "Saluto eliminato vm-then-pound: poi premere cancelletto"


def test_repair_asterisk_text() -> None:
    assert repair_asterisk_text("Il tempo sar? esattamente, non pu? essere pi? tardi", "it") == (
        "Il tempo sarà esattamente, non può essere più tardi"
    )
    assert repair_asterisk_text("La conferenza ? piena. Casella di posta?", "it") == (
        "La conferenza è piena. Casella di posta?"
    )
    assert repair_asterisk_text("Una parol? sconosciuta", "it") is None
    assert repair_asterisk_text("Why? Because", "en") == "Why? Because"


def test_parse_fillets_dialogs() -> None:
    dialogs = parse_fillets_dialogs(CS_BARREL + '\ndialogId("x", "font_big", "Only English")\n')
    assert dialogs["bar-m-multi"].font == "font_small"
    assert dialogs["bar-m-multi"].text("cs") == 'Řekl "ahoj" a odešel.'
    assert dialogs["bar-m-multi"].text("en") == 'He said "hi" and left.'
    assert dialogs["x"].translated is None and dialogs["x"].text("cs") == ""


def test_read_stamp_texts(tmp_path: Path) -> None:
    path = tmp_path / "frog.txt"
    path.write_text("\ufeffA  frog.\nca@valencia.utf8=Una granota.\nzh_TW.utf8=青蛙\nbroken line\n", encoding="utf-8")
    assert read_stamp_texts(path) == {"en": "A frog.", "ca@valencia": "Una granota.", "zh_tw": "青蛙"}


def test_scan_riff() -> None:
    wav = riff(b"fmt " + b"\0" * 20)
    blob = b"head" + wav + b"desc" + riff(b"x", b"AVI ") + wav + b"RIFF" + struct.pack("<I", 99) + b"WAVE" + b"RI"
    chunks = scan_riff(blob)
    assert [(c.offset, c.problem) for c in chunks] == [
        (4, None),
        (4 + len(wav) + 4, "RIFF chunk is not WAVE audio"),
        (4 + len(wav) + 4 + 13, None),
        (4 + 2 * len(wav) + 4 + 13, "truncated RIFF chunk (99 bytes declared, 6 left)"),
    ]
    assert chunks[0].data == wav and chunks[2].data == wav
    assert chunks[0].preamble == b"head" and chunks[2].preamble == b"desc" + riff(b"x", b"AVI ")
    assert scan_riff(b"no riff here") == []
    assert [c.problem for c in scan_riff(b"xxRIFF\x01")] == ["truncated RIFF header"]


def test_opensfx_license() -> None:
    assert opensfx_license(b'"A". License: Creative Commons Zero 1.0.\x00', "X") == "CC0-1.0"
    assert opensfx_license(b"License: Creative Commons Attribution-ShareAlike 3.0 Unported", "X") == "CC-BY-SA-3.0"
    assert opensfx_license(b"License: Creative Commons Attribution 3.0. Original is Public Domain", "X") == "CC-BY-3.0"
    assert opensfx_license(b"no statement", "GPL-2+") == "GPL-2+"


# ----------------------------------------------------------------------------------------------------------
# MIDI rendering


class _FakeSequencer:
    def __init__(self, blocks: int) -> None:
        self.blocks = blocks

    def is_empty(self) -> bool:
        return self.blocks <= 0


class _FakeSynth:
    """Loud while the sequence runs, then a tail halving every call."""

    def __init__(self, sequencer: _FakeSequencer) -> None:
        self.sequencer = sequencer
        self.level = 0.5
        self.calls: list[int] = []

    def generate(self, samples: int) -> memoryview:
        self.calls.append(samples)
        if self.sequencer.blocks > 0:
            self.sequencer.blocks -= 1
        else:
            self.level /= 2
        frames = np.full((samples, 2), self.level, np.float32)
        return memoryview(frames.tobytes())


def test_run_sequence_renders_until_the_tail_dies() -> None:
    sequencer = _FakeSequencer(blocks=2)
    synth = _FakeSynth(sequencer)
    out = midi.run_sequence(synth, sequencer, 1000, silence_peak=0.01)
    # two 1 s blocks, then 0.1 s tail blocks at 0.25, 0.125, ... until one is below 0.01 (0.0078: dropped)
    assert synth.calls == [1000, 1000] + [100] * 6
    assert out.shape == (2, 2000 + 5 * 100)
    assert out[0, -1] == pytest.approx(0.015625)


def test_run_sequence_caps_the_tail() -> None:
    sequencer = _FakeSequencer(blocks=1)
    synth = _FakeSynth(sequencer)
    out = midi.run_sequence(synth, sequencer, 1000, silence_peak=0.0, max_tail_seconds=0.3)
    assert synth.calls == [1000, 100, 100, 100] and out.shape == (2, 1300)


def test_write_rendered_normalises_atomically(tmp_path: Path) -> None:
    samples = np.stack([np.linspace(-3, 3, 4410), np.zeros(4410)]).astype(np.float32)
    out = midi.write_rendered(samples, 44100, tmp_path / "x.flac")
    data, rate = sf.read(str(out), always_2d=True)
    assert rate == 44100 and sf.info(str(out)).subtype == "PCM_16"
    assert 20 * np.log10(np.abs(data).max()) == pytest.approx(-1.0, abs=0.01)
    assert [p.name for p in tmp_path.iterdir()] == ["x.flac"]
    with pytest.raises(CodecStudyError, match="silent"):
        midi.write_rendered(np.zeros((2, 100), np.float32), 44100, tmp_path / "y.flac")
    assert [p.name for p in tmp_path.iterdir()] == ["x.flac"]


def test_render_midi_is_cached_and_deterministic(tmp_path: Path) -> None:
    (tmp_path / "t.sf2").write_bytes(tiny_sf2())
    (tmp_path / "t.mid").write_bytes(tiny_midi(key=81))  # A5: one octave above the sample's root
    first = midi.synthesize(tmp_path / "t.mid", tmp_path / "t.sf2")
    assert np.array_equal(first, midi.synthesize(tmp_path / "t.mid", tmp_path / "t.sf2"))
    spectrum = np.abs(np.fft.rfft(first[0]))
    assert np.argmax(spectrum) * 44100 / first.shape[1] == pytest.approx(882, rel=0.02)
    calls: list[Path] = []

    def counting(mid: Path, sf2: Path, rate: int) -> np.ndarray:
        calls.append(mid)
        return first

    out = tmp_path / "out" / "t.flac"
    assert midi.render_midi(tmp_path / "t.mid", tmp_path / "t.sf2", out, synthesize_fn=counting) == out
    midi.render_midi(tmp_path / "t.mid", tmp_path / "t.sf2", out, synthesize_fn=counting)
    assert len(calls) == 1


def test_bad_inputs_are_codecstudy_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.sf2").write_bytes(b"RIFF")
    (tmp_path / "t.mid").write_bytes(tiny_midi())
    with pytest.raises(CodecStudyError, match="cannot load SoundFont"):
        midi.synthesize(tmp_path / "t.mid", tmp_path / "bad.sf2")


def _fluid_soundfont() -> Path | None:
    candidates = [
        Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
        *sorted((debian.cache_root() / "unpacked").glob("fluid-soundfont-gm_*/usr/share/sounds/sf2/FluidR3_GM.sf2")),
    ]
    return next((p for p in candidates if p.is_file()), None)


@pytest.mark.slow
def test_render_with_fluidr3(tmp_path: Path) -> None:
    soundfont = _fluid_soundfont()
    if soundfont is None:
        pytest.skip("FluidR3_GM.sf2 not available (apt-get download fluid-soundfont-gm)")
    song = tmp_path / "song.mid"
    song.write_bytes(tiny_midi(key=60))
    out = midi.render_midi(song, soundfont, tmp_path / "song.flac")
    data, rate = sf.read(str(out), always_2d=True)
    assert rate == 44100 and 0.5 < len(data) / rate < 5.5  # a piano note rings on after its release
    assert 20 * np.log10(np.abs(data).max()) == pytest.approx(-1.0, abs=0.01)
    again = midi.synthesize(song, soundfont)
    assert np.array_equal(again, midi.synthesize(song, soundfont))
