"""The report's "How much to trust these numbers" section, per evaluation set: the clips scored, failed and not
applicable per metric, the clips whose silent frames a frame rule left out, outputs without a voiced frame, the
outlier clips (linked to their audio where the report has players for them), the seen-speaker share per condition
and where each codec's delay came from (``tables/trust.csv``, ``outliers.csv``, ``speakers.csv``); rendered by
``templates/trust.html.j2``."""

from __future__ import annotations

from typing import Any

from codecstudy.study.speakers import speaker_notes

#: Outlier rows shown per set (the rest are in tables/outliers.csv).
MAX_OUTLIERS = 20


def _in_set(group: str, eval_set: str) -> bool:
    return group == eval_set or group.startswith(f"{eval_set}/")


def trust_view(trust: list[dict[str, str]], outliers: list[dict[str, str]], samples: list[dict[str, Any]],
               speakers: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One block per evaluation set: its trust rows (one per condition), its outliers farthest first with the
    players' files when the report has the clip, and the seen-speaker notes of its groups."""
    audio = {(s["set"], s["clip"]): s for s in samples}
    blocks = []
    for eval_set in dict.fromkeys(r["set"] for r in trust):
        mine = [o for o in outliers if o.get("set") == eval_set]
        mine.sort(key=lambda o: -abs(float(o.get("robust_z") or 0.0)))
        rows = []
        for o in mine[:MAX_OUTLIERS]:
            sample = audio.get((eval_set, o["clip"]))
            rows.append({**o, "reference": sample["reference"] if sample else None,
                         "decoded": (sample or {}).get("decoded", {}).get(o["condition"])})
        blocks.append({
            "set": eval_set,
            "rows": [r for r in trust if r["set"] == eval_set],
            "outliers": rows,
            "more_outliers": max(0, len(mine) - MAX_OUTLIERS),
            "speaker_notes": speaker_notes([s for s in speakers if _in_set(s["group"], eval_set)]),
        })
    return blocks
