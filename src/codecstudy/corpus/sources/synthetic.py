"""A corpus generated on the spot: eSpeak NG speech in several languages, procedural music and ambience.

It needs nothing but ``pip`` (the ``espeakng-loader`` wheel for speech) and builds in seconds, which is what
tests and quick demos want: every stage of the pipeline can run on it without a download. It is *not* a
substitute for real recordings in a study; synthetic voices are far easier to code than human ones.

Files are generated deterministically (the same settings give byte-identical WAVs) and idempotently: each file
name carries a hash of everything that decides its content, an existing file is reused, and a file is written
under a temporary name and renamed, so an interrupted run leaves no half-written WAV behind.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator

from codecstudy import audio
from codecstudy.corpus import espeak, procedural
from codecstudy.corpus.records import SkippedItem, SourceItem
from codecstudy.corpus.sources.base import Source, SourceOutput
from codecstudy.errors import CodecStudyError
from codecstudy.files import atomic_path

#: Bump when a generator changes its output, so that files cached under the old name are not reused.
GENERATOR_VERSION = 1
LICENSE = "generated"

#: Short everyday sentences, written for this project (no third-party text), keyed by ISO 639-1 code.
SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The bus to the station leaves every twenty minutes.",
        "Please put the milk back in the fridge when you are done.",
        "We walked along the river until the sun went down.",
        "My sister is learning to play the violin this year.",
        "The bakery on the corner opens at seven in the morning.",
        "Could you tell me where the nearest pharmacy is?",
        "It rained all night, so the garden looks very green today.",
        "He forgot his umbrella on the train again.",
    ),
    "es": (
        "El autobús a la estación sale cada veinte minutos.",
        "Por favor, guarda la leche en la nevera cuando termines.",
        "Caminamos junto al río hasta que se puso el sol.",
        "Mi hermana está aprendiendo a tocar el violín este año.",
        "La panadería de la esquina abre a las siete de la mañana.",
        "¿Me puede decir dónde está la farmacia más cercana?",
        "Llovió toda la noche y hoy el jardín está muy verde.",
        "Otra vez se olvidó el paraguas en el tren.",
    ),
    "fr": (
        "Le bus pour la gare part toutes les vingt minutes.",
        "Remets le lait au frigo quand tu as fini, s'il te plaît.",
        "Nous avons marché le long de la rivière jusqu'au coucher du soleil.",
        "Ma sœur apprend à jouer du violon cette année.",
        "La boulangerie du coin ouvre à sept heures du matin.",
        "Pouvez-vous me dire où se trouve la pharmacie la plus proche ?",
        "Il a plu toute la nuit, alors le jardin est très vert aujourd'hui.",
        "Il a encore oublié son parapluie dans le train.",
    ),
    "it": (
        "L'autobus per la stazione parte ogni venti minuti.",
        "Per favore, rimetti il latte in frigo quando hai finito.",
        "Abbiamo camminato lungo il fiume fino al tramonto.",
        "Mia sorella quest'anno sta imparando a suonare il violino.",
        "Il panificio all'angolo apre alle sette del mattino.",
        "Mi sa dire dov'è la farmacia più vicina?",
        "Ha piovuto tutta la notte, quindi oggi il giardino è verdissimo.",
        "Ha dimenticato di nuovo l'ombrello sul treno.",
    ),
    "nl": (
        "De bus naar het station vertrekt elke twintig minuten.",
        "Zet de melk terug in de koelkast als je klaar bent.",
        "We liepen langs de rivier tot de zon onderging.",
        "Mijn zus leert dit jaar viool spelen.",
        "De bakker op de hoek gaat om zeven uur 's ochtends open.",
        "Kunt u mij vertellen waar de dichtstbijzijnde apotheek is?",
        "Het heeft de hele nacht geregend, dus de tuin is vandaag heel groen.",
        "Hij is zijn paraplu weer in de trein vergeten.",
    ),
    "cs": (
        "Autobus na nádraží jezdí každých dvacet minut.",
        "Až skončíš, dej prosím mléko zpátky do lednice.",
        "Šli jsme podél řeky, dokud nezapadlo slunce.",
        "Moje sestra se letos učí hrát na housle.",
        "Pekárna na rohu otevírá v sedm hodin ráno.",
        "Můžete mi říct, kde je nejbližší lékárna?",
        "Celou noc pršelo, takže zahrada je dnes krásně zelená.",
        "Zase zapomněl deštník ve vlaku.",
    ),
    "de": (
        "Der Bus zum Bahnhof fährt alle zwanzig Minuten.",
        "Stell bitte die Milch zurück in den Kühlschrank, wenn du fertig bist.",
        "Wir sind am Fluss entlang gelaufen, bis die Sonne unterging.",
        "Meine Schwester lernt dieses Jahr Geige spielen.",
        "Die Bäckerei an der Ecke öffnet um sieben Uhr morgens.",
        "Können Sie mir sagen, wo die nächste Apotheke ist?",
        "Es hat die ganze Nacht geregnet, deshalb ist der Garten heute sehr grün.",
        "Er hat seinen Regenschirm schon wieder im Zug vergessen.",
    ),
    "ru": (
        "Автобус до вокзала ходит каждые двадцать минут.",
        "Пожалуйста, убери молоко обратно в холодильник.",
        "Мы гуляли вдоль реки, пока не зашло солнце.",
        "В этом году моя сестра учится играть на скрипке.",
        "Булочная на углу открывается в семь утра.",
        "Скажите, пожалуйста, где ближайшая аптека?",
        "Всю ночь шёл дождь, поэтому сегодня сад очень зелёный.",
        "Он опять забыл зонтик в поезде.",
    ),
    "pl": (
        "Autobus na dworzec odjeżdża co dwadzieścia minut.",
        "Odłóż proszę mleko do lodówki, kiedy skończysz.",
        "Szliśmy wzdłuż rzeki, aż zaszło słońce.",
        "Moja siostra uczy się w tym roku grać na skrzypcach.",
        "Piekarnia na rogu otwiera się o siódmej rano.",
        "Czy może mi pan powiedzieć, gdzie jest najbliższa apteka?",
        "Padało całą noc, więc ogród jest dziś bardzo zielony.",
        "Znowu zostawił parasol w pociągu.",
    ),
    "pt": (
        "O ônibus para a estação sai a cada vinte minutos.",
        "Por favor, guarde o leite na geladeira quando terminar.",
        "Caminhamos ao longo do rio até o sol se pôr.",
        "Minha irmã está aprendendo a tocar violino este ano.",
        "A padaria da esquina abre às sete da manhã.",
        "Você pode me dizer onde fica a farmácia mais próxima?",
        "Choveu a noite toda, por isso o jardim está muito verde hoje.",
        "Ele esqueceu o guarda-chuva no trem outra vez.",
    ),
}

DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "it", "nl", "cs", "de")

#: (variant, pitch 0..100, words per minute) per speaker slot; alternating sexes so that even two speakers
#: per language differ clearly. Slots beyond the table reuse it with shifted pitch and rate.
SPEAKER_PRESETS: tuple[tuple[str, int, int], ...] = (
    ("m1", 45, 165),
    ("f2", 58, 172),
    ("m3", 38, 182),
    ("f4", 66, 158),
    ("m6", 52, 150),
    ("f1", 54, 188),
    ("m2", 42, 170),
    ("f5", 70, 162),
)

_MUSIC_STREAM = 1
_ENVIRONMENT_STREAM = 2


def _content_hash(spec: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps({"version": GENERATOR_VERSION, **spec}, sort_keys=True).encode()).hexdigest()[:10]


def _write_atomic(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write under a temporary name, then rename, so a reader never sees a partial file."""
    with atomic_path(path) as temporary:
        audio.write(temporary, samples, sample_rate, subtype="PCM_16")


class SyntheticSource(Source):
    """Generated speech, music and environment clips; see the module docstring."""

    kind: ClassVar[str] = "synthetic"
    summary: ClassVar[str] = "espeak-ng speech and procedural music/ambience, generated in seconds (tests, demos)"

    out_dir: Path = Field(description="folder the generated WAV files are written to (reused across runs)")
    languages: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LANGUAGES), description="ISO 639-1 codes of the speech"
    )
    speakers_per_language: int = Field(3, ge=0, description="eSpeak voice variants per language")
    utterances_per_speaker: int = Field(4, ge=0, description="sentences each synthetic speaker says")
    music_clips: int = Field(6, ge=0, description="number of procedural music clips")
    environment_clips: int = Field(6, ge=0, description="number of procedural ambience clips")
    clip_seconds: float = Field(3.0, gt=0, le=600, description="length of each non-speech clip (seconds)")
    sample_rate: int = Field(16000, ge=8000, le=192000, description="sample rate of the written files (Hz)")
    seed: int = Field(0, ge=0, description="decides sentences, voice details and every procedural signal")

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: list[str]) -> list[str]:
        unknown = [code for code in value if code not in SENTENCES]
        if unknown:
            raise ValueError(f"no built-in sentences for {unknown}; available: {', '.join(sorted(SENTENCES))}")
        if len(set(value)) != len(value):
            raise ValueError("languages must not repeat")
        return value

    def items(self) -> Iterator[SourceOutput]:
        yield from self._speech_items()
        yield from self._procedural_items("music", self.music_clips, procedural.MUSIC_KINDS, _MUSIC_STREAM)
        yield from self._procedural_items(
            "environment", self.environment_clips, procedural.ENVIRONMENT_KINDS, _ENVIRONMENT_STREAM
        )

    # --- speech ---------------------------------------------------------------------------------------------

    def speech_plan(self, language: str) -> list[tuple[int, int, espeak.Voice, str]]:
        """(speaker index, utterance index, voice, sentence) for one language, without synthesising anything.

        Draws happen in a fixed order from a per-language stream, so adding a language or a speaker leaves the
        existing speakers' voices and sentences unchanged.
        """
        rng = np.random.default_rng([self.seed, zlib.crc32(language.encode())])
        sentences = SENTENCES[language]
        order = rng.permutation(len(sentences))
        plan = []
        for k in range(self.speakers_per_language):
            variant, pitch, rate = SPEAKER_PRESETS[k % len(SPEAKER_PRESETS)]
            cycle = k // len(SPEAKER_PRESETS)
            pitch = int(np.clip(pitch + 5 * cycle * (-1) ** cycle + rng.integers(-3, 4), 5, 95))
            rate = int(np.clip(rate + 10 * cycle + rng.integers(-8, 9), 100, 260))
            voice = espeak.Voice(espeak.voice_for_language(language), variant, rate=rate, pitch=pitch)
            for u in range(self.utterances_per_speaker):
                plan.append((k, u, voice, sentences[order[(k * self.utterances_per_speaker + u) % len(sentences)]]))
        return plan

    def _speech_items(self) -> Iterator[SourceOutput]:
        unavailable: str | None = None
        checked = False
        for language in self.languages:
            for k, u, voice, text in self.speech_plan(language):
                digest = _content_hash(
                    {"text": text, "voice": asdict(voice), "sample_rate": self.sample_rate}
                )
                path = self.out_dir / "speech" / language / f"{language}-{k}" / f"{u:03d}-{digest}.wav"
                if not path.exists():
                    if not checked:
                        unavailable, checked = espeak.unavailable_reason(), True
                    if unavailable is not None:
                        yield SkippedItem(str(path), self.name, f"speech synthesis unavailable ({unavailable})")
                        continue
                    try:
                        self._synthesize(path, text, voice)
                    except CodecStudyError as exc:
                        yield SkippedItem(str(path), self.name, f"speech synthesis failed ({exc})")
                        continue
                yield SourceItem(
                    path=str(path),
                    source=self.name,
                    domain="speech",
                    license=LICENSE,
                    language=language,
                    speaker=f"synthetic:{language}-{k}",
                    text=text,
                    item_id=f"synthetic/speech/{language}/{k * self.utterances_per_speaker + u}",
                )

    def _synthesize(self, path: Path, text: str, voice: espeak.Voice) -> None:
        samples, rate = espeak.synthesize(text, voice)
        samples = np.clip(audio.resample(samples, rate, self.sample_rate), -1.0, 1.0)
        _write_atomic(path, samples, self.sample_rate)

    # --- music and environment ------------------------------------------------------------------------------

    def _procedural_items(
        self, domain: str, count: int, kinds: tuple[str, ...], stream: int
    ) -> Iterator[SourceOutput]:
        generate: Callable[[np.random.Generator, float, int, str], np.ndarray] = (
            procedural.music_clip if domain == "music" else procedural.environment_clip
        )
        for index in range(count):
            kind = kinds[index % len(kinds)]  # round robin: even a handful of clips covers every kind
            digest = _content_hash(
                {"domain": domain, "kind": kind, "index": index, "seed": self.seed,
                 "seconds": self.clip_seconds, "sample_rate": self.sample_rate}
            )  # fmt: skip
            path = self.out_dir / domain / kind / f"{index:03d}-{digest}.wav"
            if not path.exists():
                # One stream per clip, so clip i does not depend on how many clips come before or after it.
                rng = np.random.default_rng([self.seed, stream, index])
                _write_atomic(path, generate(rng, self.clip_seconds, self.sample_rate, kind), self.sample_rate)
            yield SourceItem(
                path=str(path),
                source=self.name,
                domain=domain,
                license=LICENSE,
                item_id=f"synthetic/{domain}/{kind}/{index}",
                labels=(kind,),
            )
