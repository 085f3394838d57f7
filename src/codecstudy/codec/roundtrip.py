"""One clip through a codec and back: what the report's players and the listening test play.

The scorer keeps its own loop (it encodes once at the largest n_q and decodes every bitrate from the same codes).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def roundtrip(model: Any, samples: np.ndarray, n_q: int) -> np.ndarray:
    """Mono ``samples`` at the codec's rate, encoded with ``n_q`` codebooks (at most the codec's) and decoded to the
    same length."""
    import torch

    with torch.inference_mode():
        wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).view(1, 1, -1)
        codes = model.encode(wave, n_q=min(n_q, model.n_codebooks))
        return model.decode(codes, lengths=[samples.size])[0, 0].numpy()
