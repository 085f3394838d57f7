"""What the robust frame rules change in a study, against the same study scored with VERSA's frames (``parity``).

Score the study twice, the second time into a copy of the run folder without its evaluations (the trained codecs
are kept, so only the scoring runs again), then compare:

    cp -r runs/demo runs/demo-parity && rm -rf runs/demo-parity/{eval,tables,report,listen}
    codecstudy study run configs/studies/demo.yaml --out runs/demo-parity \\
        --set evaluate.frames=parity --set "evaluate.metrics=[mcd,f0_corr,mel_distance]"
    python benchmarks/frame_rules.py --robust runs/demo --parity runs/demo-parity [--n-q 8]

Per codec and set at ``--n-q``: the MCD and mel-distance means under both definitions (over the clips both
scored), the clips where each rule left frames out (``<metric>_frames_dropped`` > 0), and the F0-correlation cells
whose number of clips changed (parity leaves out a clip whose output has no voiced frame; robust scores it). The
seen-speaker split of each set is in the robust run's ``tables/speakers.csv``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

RULED = ("mcd", "f0_corr", "mel_distance")


def results(run: Path) -> dict[tuple[str, str, str], dict[str, dict]]:
    """(codec, set, setting) -> clip -> result line, over every results file (shards included); a trained codec's
    setting is its number of codebooks, a baseline's its own (``6kbps``)."""
    cells: dict[tuple[str, str, str], dict[str, dict]] = defaultdict(dict)
    for path in sorted((run / "eval").glob("*/*/*/results*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                cells[(record["condition"], record["set"], str(record["setting"]))][record["clip"]] = record
    return cells


def _value(record: dict, metric: str) -> float | None:
    value = (record.get("metrics") or {}).get(metric)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def compare(robust: Path, parity: Path, n_q: int | None) -> list[dict]:
    ours, theirs = results(robust), results(parity)
    rows = []
    for key in sorted(ours):
        codec, eval_set, setting = key
        trained = next(iter(ours[key].values())).get("n_q") is not None  # a baseline's setting is its own
        if (n_q is not None and trained and int(setting) != n_q) or key not in theirs:
            continue
        row: dict = {"codec": codec, "set": eval_set, "n_q": setting, "clips": len(ours[key])}
        for metric in RULED:
            both = [(_value(r, metric), _value(theirs[key].get(c, {}), metric)) for c, r in ours[key].items()]
            paired = [(a, b) for a, b in both if a is not None and b is not None]
            row[f"{metric}_n_robust"] = sum(1 for a, _ in both if a is not None)
            row[f"{metric}_n_parity"] = sum(1 for _, b in both if b is not None)
            if paired and metric != "f0_corr":
                row[f"{metric}_robust"] = sum(a for a, _ in paired) / len(paired)
                row[f"{metric}_parity"] = sum(b for _, b in paired) / len(paired)
            dropped = f"{metric}_frames_dropped"
            row[f"{metric}_clips_changed"] = sum(1 for r in ours[key].values()
                                                 if ((r.get("metrics") or {}).get(dropped) or 0) > 0)
        row["f0_unvoiced_output"] = sum(1 for r in ours[key].values()
                                        if (r.get("metrics") or {}).get("f0_corr_unvoiced_output"))
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    head = ("| codec | set | clips | MCD robust / parity (dB) | clips MCD rule changed | mel robust / parity | "
            "clips mel rule changed | F0-corr n robust / parity | unvoiced outputs |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        f0_changed = " **changed**" if r["f0_corr_n_robust"] != r["f0_corr_n_parity"] else ""
        lines.append(
            f"| {r['codec']} | {r['set']} | {r['clips']} | {r.get('mcd_robust', math.nan):.2f} / "
            f"{r.get('mcd_parity', math.nan):.2f} | {r['mcd_clips_changed']} | "
            f"{r.get('mel_distance_robust', math.nan):.3f} / {r.get('mel_distance_parity', math.nan):.3f} | "
            f"{r['mel_distance_clips_changed']} | {r['f0_corr_n_robust']} / {r['f0_corr_n_parity']}{f0_changed} | "
            f"{r['f0_unvoiced_output']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robust", type=Path, required=True, help="the study's run (evaluate.frames: robust)")
    parser.add_argument("--parity", type=Path, required=True, help="the same codecs scored with parity frames")
    parser.add_argument("--n-q", type=int, default=8, help="codebooks to compare (0: every count)")
    parser.add_argument("--json", type=Path, help="write the rows here too")
    args = parser.parse_args()
    rows = compare(args.robust, args.parity, args.n_q or None)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(markdown(rows))
    every = compare(args.robust, args.parity, None)
    changed = [r for r in every if r["f0_corr_n_robust"] != r["f0_corr_n_parity"]]
    print(f"\nF0-correlation cells (codec x set x n_q) whose n changed: {len(changed)} of {len(every)}")
    for r in changed:
        print(f"  {r['codec']} {r['set']} n_q={r['n_q']}: {r['f0_corr_n_parity']} -> {r['f0_corr_n_robust']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
