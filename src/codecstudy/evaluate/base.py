"""What every metric shares: the error type, dependency loading, input checks and version reporting.

A metric is a plain function ``(ref, est, sr, **settings) -> dict[str, float]``. It raises :class:`MetricError`
when its value is undefined for this input (silent audio, too short, NaN samples, ...); the scorer records the
message for that metric and clip and goes on. No metric ever turns a failure into 0: an average that silently
includes zeros for failed clips (VERSA's PESQ does this) rewards codecs that break on hard inputs.
"""

from __future__ import annotations

import importlib
import warnings
from importlib import metadata
from types import ModuleType

import numpy as np

from codecstudy.errors import CodecStudyError

# pyworld 0.3.5 and webrtcvad import pkg_resources (hence the setuptools<81 pin), which warns on every import in
# every worker process; the warning says nothing a user of codecstudy can act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

# Peak below which a signal counts as silent: -100 dBFS is far below any real recording's noise floor (16-bit
# dither is about -96 dBFS), so only digital silence or a codec that outputs ~0 falls under it.
SILENCE_PEAK = 1e-5


class MetricError(Exception):
    """The metric has no value for this input; the message says why (it is stored in the results)."""


class NotApplicable(MetricError):
    """The metric does not apply to this clip (too short for the method, no voiced frame in a reference for a pitch
    metric, a reference with no sounding frame): a property of the clip, not a failure of the codec. It is a
    MetricError, so a caller that does not tell the two apart still records the reason; one that does records the
    clip as not applicable (``skipped``) instead of failed."""


class MissingDependency(CodecStudyError, MetricError):
    """A metric's library is not installed; the message names the package and the extra that installs it."""


def require(module: str, package: str, extra: str = "eval") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming ``package`` and the codecstudy extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"needs the Python package {package!r} ({exc}); install it with `pip install 'codecstudy[{extra}]'` "
            f"or `pip install {package}`"
        ) from None


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def as_signal(x: np.ndarray, name: str, *, min_samples: int = 1) -> np.ndarray:
    """A finite 1-D float64 copy-free view of ``x``; NaN/inf, wrong shape or too few samples raise MetricError."""
    x = np.asarray(x)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise MetricError(f"{name} must be mono 1-D audio, got shape {x.shape}")
    if x.size < min_samples:
        raise MetricError(f"{name} too short: {x.size} samples, this metric needs at least {min_samples}")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise MetricError(f"{name} has {bad} non-finite samples (NaN or inf)")
    return x


def is_silent(x: np.ndarray) -> bool:
    return x.size == 0 or float(np.max(np.abs(x))) < SILENCE_PEAK


def require_sound(x: np.ndarray, name: str, metric: str) -> None:
    """Raise MetricError when ``x`` is (digitally) silent, for metrics undefined on silence."""
    if is_silent(x):
        raise MetricError(f"{name} is silent (peak below -100 dBFS): {metric} is undefined")


def check_pair(
    ref: np.ndarray, est: np.ndarray, metric: str, *, min_samples: int = 1, silent_ok: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a reference/estimate pair for an intrusive metric."""
    ref = as_signal(ref, "reference", min_samples=min_samples)
    est = as_signal(est, "estimate", min_samples=min_samples)
    if not silent_ok:
        require_sound(ref, "reference", metric)
        require_sound(est, "estimate", metric)
    return ref, est


def truncate_pair(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both cut to the shorter length (the scorer has already aligned and matched them; this guards direct use)."""
    n = min(ref.size, est.size)
    return ref[:n], est[:n]


def finite(value: float, what: str) -> float:
    """``value`` as float, or MetricError when it is NaN/inf (a library may return NaN instead of raising)."""
    value = float(value)
    if not np.isfinite(value):
        raise MetricError(f"{what} is not finite ({value})")
    return value
