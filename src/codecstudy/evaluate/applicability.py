"""Which metric is valid where: domains (speech, music, environment) and the languages its model was trained on.

Every metric in the registry declares ``domains`` (where it means something) and ``languages`` (None: any; a tuple:
the model was trained only on these, so a value on another language is *marked*, not dropped). The rules:

* a clip whose domain the metric does not cover is not scored: its line gets a ``skipped`` note instead of a value
  or an error, so the metric is neither averaged nor counted in best/worst tallies for that set. PESQ, STOI,
  DNSMOS, UTMOS, SHEET-SSQA, SpeechBERTScore, WER, speaker similarity, F0 and ViSQOL's speech mode are speech-only;
* on a language outside a model's training languages the value is kept and the tables mark it (``†``);
* a clip shorter than a metric's declared ``min_duration_s`` (PESQ 0.25 s, STOI 0.5121 s, ViSQOL audio 0.96 s,
  speech 0.64 s, ...) is not applicable either (:func:`duration_skip_reason`): the method cannot score it, which
  says nothing about the codec, so it must not count as a failure (the WORLD metrics' limit is their FFT size in
  samples, a setting: their analysis raises ``NotApplicable`` itself);
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
    """Where a metric applies: its domains, the languages its model was trained on (None: any), and the numbers
    of codebooks at which a study computes it (None: every setting). ``n_q`` is never declared by a metric, only
    asked for by a study, to keep a dear metric (ViSQOL) to the bitrate its tables report; settings without
    codebooks (classic codecs' bitrates) always get it."""

    domains: tuple[str, ...] = ALL_DOMAINS
    languages: tuple[str, ...] | None = None
    n_q: tuple[int, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"domains": list(self.domains),
                               "languages": list(self.languages) if self.languages else None}
        if self.n_q is not None:  # only when asked, so that earlier results keep their fingerprint
            out["n_q"] = list(self.n_q)
        return out

    def describe(self) -> str:
        where = "all domains" if set(self.domains) == set(DOMAINS) else "/".join(self.domains) + " only"
        at = f"; at {'/'.join(map(str, self.n_q))} codebooks only" if self.n_q is not None else ""
        return where + (f"; trained on {'/'.join(self.languages)}" if self.languages else "") + at


def parse_overrides(raw: dict[str, Any] | None, known: set[str] | None = None) -> dict[str, Validity]:
    """``{metric: {domains: [...], languages: [...], n_q: [...]}}`` -> Validity per metric; bad keys raise a
    one-line error."""
    out: dict[str, Validity] = {}
    for metric, entry in (raw or {}).items():
        where = f"evaluate.validity.{metric}"
        if known is not None and metric not in known:
            raise CodecStudyError(f"{where}: unknown metric (known: {', '.join(sorted(known))})")
        if not isinstance(entry, dict) or set(entry) - {"domains", "languages", "n_q"}:
            raise CodecStudyError(f"{where}: expected a mapping with 'domains', 'languages' and/or 'n_q'")
        domains = tuple(entry.get("domains") or DOMAINS)
        bad = [d for d in domains if d not in DOMAINS]
        if bad:
            raise CodecStudyError(f"{where}.domains: {bad} not in {list(DOMAINS)}")
        languages = entry.get("languages")
        n_q = entry.get("n_q")
        if n_q is not None:
            n_q = [n_q] if isinstance(n_q, int) else n_q
            if not isinstance(n_q, list) or not n_q or not all(isinstance(n, int) and n >= 1 for n in n_q):
                raise CodecStudyError(f"{where}.n_q: expected numbers of codebooks (integers >= 1), got {n_q!r}")
        out[metric] = Validity(domains, tuple(languages) if languages else None,
                               tuple(sorted(n_q)) if n_q is not None else None)
    return out


def validity_of(spec: Any, overrides: dict[str, Validity] | None = None) -> Validity:
    """The metric's declared validity, or the study's explicit override."""
    if overrides and spec.name in overrides:
        return overrides[spec.name]
    return Validity(tuple(spec.domains), tuple(spec.languages) if spec.languages else None)


def skip_reason(validity: Validity, domain: str | None, n_q: int | None = None) -> str | None:
    """Why a metric is not computed on a clip of ``domain`` at ``n_q`` codebooks (None: it is computed; unknown
    domain, or a setting without codebooks: computed)."""
    if domain and domain not in validity.domains:
        return f"not applicable to {domain} ({'/'.join(validity.domains)} only)"
    if validity.n_q is not None and n_q is not None and n_q not in validity.n_q:
        return f"not computed at {n_q} codebooks (the study asks for {'/'.join(map(str, validity.n_q))} only)"
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


def min_duration_of(spec: Any) -> float | None:
    """The shortest clip (s) the metric scores, as its registry entry declares (None: no declared minimum)."""
    return getattr(spec, "min_duration_s", None)


def duration_skip_reason(min_duration_s: float | None, n_samples: int, sample_rate: int) -> str | None:
    """``"not applicable: shorter than X s (clip is Y s)"`` when a clip of ``n_samples`` at ``sample_rate`` is below
    the metric's minimum, else None. The clip's length is the reference's: every intrusive metric scores at most
    the reference's length, and a non-intrusive one gets the estimate cut to it."""
    if min_duration_s is None:
        return None
    if sample_rate <= 0:
        raise CodecStudyError(f"sample rate must be positive, got {sample_rate}")
    seconds = n_samples / sample_rate
    if seconds < min_duration_s:
        return f"not applicable: shorter than {min_duration_s:g} s (clip is {seconds:.3f} s)"
    return None
