"""Which metric is valid where: domains (speech, music, environment) and the languages its model was trained on.

Every metric in the registry declares ``domains`` (where it means something) and ``languages`` (None: any; a tuple:
the model was trained only on these, so a value on another language is *marked*, not dropped). The rules:

* a clip whose domain the metric does not cover is not scored: its line gets a ``skipped`` note instead of a value
  or an error, so the metric is neither averaged nor counted in best/worst tallies for that set. PESQ, STOI,
  DNSMOS, UTMOS, SHEET-SSQA, SpeechBERTScore, WER, speaker similarity, F0 and ViSQOL's speech mode are speech-only;
* on a language outside a model's training languages the value is kept and the tables mark it (``†``);
* a study overrides a declaration explicitly with ``evaluate.validity: {metric: {domains: [...], languages: [...]}}``
  (``languages: null`` = any).

Pure functions of the registry and the clip's fields; the scorer and the tables call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codecstudy.errors import CodecStudyError

DOMAINS = ("speech", "music", "environment")
ALL_DOMAINS = DOMAINS
SPEECH = ("speech",)
ENGLISH = ("en",)
MARK = "†"


@dataclass(frozen=True)
class Validity:
    """Where a metric applies: its domains, and the languages its model was trained on (None: any)."""

    domains: tuple[str, ...] = ALL_DOMAINS
    languages: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"domains": list(self.domains), "languages": list(self.languages) if self.languages else None}

    def describe(self) -> str:
        where = "all domains" if set(self.domains) == set(DOMAINS) else "/".join(self.domains) + " only"
        return where + (f"; trained on {'/'.join(self.languages)}" if self.languages else "")


def parse_overrides(raw: dict[str, Any] | None, known: set[str] | None = None) -> dict[str, Validity]:
    """``{metric: {domains: [...], languages: [...]}}`` -> Validity per metric; bad keys raise a one-line error."""
    out: dict[str, Validity] = {}
    for metric, entry in (raw or {}).items():
        where = f"evaluate.validity.{metric}"
        if known is not None and metric not in known:
            raise CodecStudyError(f"{where}: unknown metric (known: {', '.join(sorted(known))})")
        if not isinstance(entry, dict) or set(entry) - {"domains", "languages"}:
            raise CodecStudyError(f"{where}: expected a mapping with 'domains' and/or 'languages'")
        domains = tuple(entry.get("domains") or DOMAINS)
        bad = [d for d in domains if d not in DOMAINS]
        if bad:
            raise CodecStudyError(f"{where}.domains: {bad} not in {list(DOMAINS)}")
        languages = entry.get("languages")
        out[metric] = Validity(domains, tuple(languages) if languages else None)
    return out


def validity_of(spec: Any, overrides: dict[str, Validity] | None = None) -> Validity:
    """The metric's declared validity, or the study's explicit override."""
    if overrides and spec.name in overrides:
        return overrides[spec.name]
    return Validity(tuple(spec.domains), tuple(spec.languages) if spec.languages else None)


def skip_reason(validity: Validity, domain: str | None) -> str | None:
    """Why a metric is not computed on a clip of ``domain`` (None: it is computed; unknown domain: computed)."""
    if domain and domain not in validity.domains:
        return f"not applicable to {domain} ({'/'.join(validity.domains)} only)"
    return None


def base_language(language: str | None) -> str | None:
    return language.split("-")[0].lower() if language else None


def off_language(validity: Validity, language: str | None) -> bool:
    """True when the metric's model was trained on other languages than ``language`` (the value gets a mark)."""
    lang = base_language(language)
    return bool(validity.languages and lang and lang not in validity.languages)


def language_note(validity: Validity, language: str | None) -> str | None:
    if off_language(validity, language):
        return f"{MARK} model trained on {'/'.join(validity.languages or ())} only; {language} is outside it"
    return None
