"""Export a codec's encoder (wave -> codes) and decoder (codes -> wave) to TorchScript and ONNX.

Both are produced by tracing a copy of the model with weight norm folded, so they contain plain convolutions and
run without codecstudy. Tracing fixes two things, which the exported files therefore expect:

* the input length must be a whole number of frames (``T % hop == 0``; pad with zeros first, as
  :meth:`CodecModel.encode` does) and, with reflect padding, at least :data:`MIN_EXPORT_FRAMES` frames;
* the number of codebooks is the ``n_q`` given at export time (decode fewer by exporting again).

Batch size and length are dynamic. ONNX needs ``pip install onnx onnxruntime`` (optional; the checks in
:func:`verify_export` run it when present).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from codecstudy.codec.models.base import CodecModel
from codecstudy.codec.registry import build_codec
from codecstudy.codec.seanet import fold_weight_norm, has_weight_norm
from codecstudy.errors import CodecStudyError
from codecstudy.files import write_text_atomic

MIN_EXPORT_FRAMES = 8
"""Frames of the example input used for tracing; real inputs may be shorter only with constant padding."""


class ExportEncoder(nn.Module):
    """``wave [B, 1, F * hop]`` -> ``codes [B, n_q, F]``."""

    def __init__(self, model: CodecModel, n_q: int) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.quantizer = model.quantizer
        self.n_q = n_q

    def forward(self, wave: Tensor) -> Tensor:
        return self.quantizer.encode(self.encoder(wave), self.n_q)


class ExportDecoder(nn.Module):
    """``codes [B, n_q, F]`` -> ``wave [B, 1, F * hop]``."""

    def __init__(self, model: CodecModel) -> None:
        super().__init__()
        self.quantizer = model.quantizer
        self.decoder = model.decoder

    def forward(self, codes: Tensor) -> Tensor:
        return self.decoder(self.quantizer.decode(codes))


@dataclass
class ExportResult:
    encoder: Path
    decoder: Path
    format: str
    n_q: int
    metadata: Path


def _inference_copy(model: CodecModel) -> CodecModel:
    """A folded copy, rebuilt from config + state dict.

    ``copy.deepcopy`` is not usable here: a deep-copied parametrized module shares its generated class with the
    original, and removing the parametrization from the copy deletes the original's ``weight`` too.
    """
    identity = model.identity_hash()
    clone = build_codec(model.config)
    if not has_weight_norm(model):
        fold_weight_norm(clone)
    clone.load_state_dict(model.state_dict())
    fold_weight_norm(clone)
    clone.keep_identity(identity)
    return clone.eval()


def _examples(model: CodecModel, n_q: int, frames: int = MIN_EXPORT_FRAMES) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(0)
    wave = 0.1 * torch.randn(1, 1, frames * model.hop_length, generator=gen)
    codes = torch.randint(model.codebook_size, (1, n_q, frames), generator=gen)
    return wave, codes


def _write_metadata(model: CodecModel, out_dir: Path, fmt: str, n_q: int) -> Path:
    meta = {
        "codec": model.config.name,
        "architecture": model.config.architecture,
        "identity": model.identity_hash(),
        "sample_rate": model.sample_rate,
        "hop_length": model.hop_length,
        "n_q": n_q,
        "codebook_size": model.codebook_size,
        "format": fmt,
        "input": "encoder: float32 wave [B, 1, T], T a multiple of hop_length; decoder: int64 codes [B, n_q, F]",
    }
    return write_text_atomic(out_dir / f"{fmt}.json", json.dumps(meta, indent=2) + "\n")


def _n_q(model: CodecModel, n_q: int | None) -> int:
    n_q = model.n_codebooks if n_q is None else n_q
    if not 1 <= n_q <= model.n_codebooks:
        raise CodecStudyError(f"--n-q must be in 1..{model.n_codebooks}, got {n_q}")
    return n_q


def export_torchscript(model: CodecModel, out_dir: str | Path, n_q: int | None = None) -> ExportResult:
    """Write ``encoder.ts`` and ``decoder.ts`` (load with ``torch.jit.load``) plus ``torchscript.json``."""
    n_q = _n_q(model, n_q)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clone = _inference_copy(model)
    wave, codes = _examples(clone, n_q)
    enc_path, dec_path = out / "encoder.ts", out / "decoder.ts"
    # TorchScript is deprecated in favour of torch.export, but it is still what C++/mobile runtimes load.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        enc = torch.jit.trace(ExportEncoder(clone, n_q), (wave,), check_trace=False)
        dec = torch.jit.trace(ExportDecoder(clone), (codes,), check_trace=False)
        torch.jit.save(enc, str(enc_path))
        torch.jit.save(dec, str(dec_path))
    return ExportResult(enc_path, dec_path, "torchscript", n_q, _write_metadata(clone, out, "torchscript", n_q))


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """``torch.jit.load`` without its deprecation warning (the format is still the portable one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path))


def onnx_available() -> bool:
    try:
        import onnx  # noqa: F401 - optional package, only looked for here
    except ImportError:
        return False
    return True


def export_onnx(model: CodecModel, out_dir: str | Path, n_q: int | None = None, opset: int = 17) -> ExportResult:
    """Write ``encoder.onnx`` and ``decoder.onnx`` (dynamic batch and length) plus ``onnx.json``."""
    if not onnx_available():
        raise CodecStudyError("ONNX export needs the onnx package: pip install onnx onnxruntime")
    n_q = _n_q(model, n_q)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clone = _inference_copy(model)
    wave, codes = _examples(clone, n_q)
    enc_path, dec_path = out / "encoder.onnx", out / "decoder.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            ExportEncoder(clone, n_q), (wave,), str(enc_path), dynamo=False, opset_version=opset,
            input_names=["wave"], output_names=["codes"],
            dynamic_axes={"wave": {0: "batch", 2: "samples"}, "codes": {0: "batch", 2: "frames"}},
        )
        torch.onnx.export(
            ExportDecoder(clone), (codes,), str(dec_path), dynamo=False, opset_version=opset,
            input_names=["codes"], output_names=["wave"],
            dynamic_axes={"codes": {0: "batch", 2: "frames"}, "wave": {0: "batch", 2: "samples"}},
        )
    return ExportResult(enc_path, dec_path, "onnx", n_q, _write_metadata(clone, out, "onnx", n_q))


def verify_export(model: CodecModel, result: ExportResult, frames: int = 2 * MIN_EXPORT_FRAMES + 3) -> dict[str, float]:
    """Run the exported files and the model on the same input (of another length than the trace's).

    Returns the largest absolute decoder difference and the fraction of differing codes; raises CodecStudyError
    when the export is not equivalent (codes differ by more than float rounding can explain, or audio by > 1e-4).
    """
    clone = _inference_copy(model)
    gen = torch.Generator().manual_seed(1)
    wave = 0.1 * torch.randn(2, 1, frames * clone.hop_length, generator=gen)
    codes = torch.randint(clone.codebook_size, (2, result.n_q, frames), generator=gen)
    with torch.inference_mode():
        ref_codes = clone.encode(wave, n_q=result.n_q)
        ref_wave = clone.decode(codes)
    if result.format == "torchscript":
        enc, dec = load_torchscript(result.encoder), load_torchscript(result.decoder)
        with torch.inference_mode():
            got_codes, got_wave = enc(wave), dec(codes)
    else:
        try:
            import onnxruntime as ort  # optional package (the eval extra), needed only to verify an ONNX export
        except ImportError as exc:
            raise CodecStudyError("verifying an ONNX export needs onnxruntime: pip install onnxruntime") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        enc_s = ort.InferenceSession(str(result.encoder), options, providers=["CPUExecutionProvider"])
        dec_s = ort.InferenceSession(str(result.decoder), options, providers=["CPUExecutionProvider"])
        got_codes = torch.from_numpy(enc_s.run(None, {"wave": wave.numpy()})[0])
        got_wave = torch.from_numpy(dec_s.run(None, {"codes": codes.numpy()})[0])
    mismatch = float((got_codes != ref_codes).float().mean())
    error = float((got_wave - ref_wave).abs().max())
    # Different kernels round differently; a near-tie in the codebook search may flip a rare code.
    if mismatch > 0.01 or error > 1e-4:
        raise CodecStudyError(
            f"{result.format} export differs from the model: {mismatch:.1%} codes differ, max audio error {error:.2e}"
        )
    return {"code_mismatch": mismatch, "max_abs_error": error}
