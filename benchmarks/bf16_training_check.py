"""Issue 12's quality check of bf16 training: the same medium-grid training run in bf16 and fp32, 3 seeds.

The bf16 runs are the medium grid's ``xquad-to-mlqa/hybrid`` cells (``results/medium-cpu``); the fp32 runs are
the same cells with ``precision=fp32`` (``results/bf16-check-fp32``, the last step of ``scripts/medium-grid.sh``).
Compared: the dev mAP (LAReQA, held-out training questions) at ``--step`` and the best one of each run; the
check passes when every seed's two values are within ``--tolerance``.

    python benchmarks/bf16_training_check.py
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _common import ROOT, write_result
from langmix.training.run_folder import read_log

METRIC = "xquad-r/multi/map"  # the dev mAP of xquad-to-mlqa (its training benchmark is XQuAD-R)


def dev_curve(run: Path, seed: int) -> dict[int, float]:
    log = run / "cells" / "xquad-to-mlqa" / "hybrid" / f"seed{seed}" / "train" / "train_log.jsonl"
    if not log.is_file():
        raise SystemExit(f"missing {log}: run the grid / scripts/medium-grid.sh first")
    return {row["step"]: row[METRIC] for row in read_log(log) if row["event"] == "dev" and METRIC in row}


def compare(bf16: Path, fp32: Path, seeds: list[int], step: int, tolerance: float) -> dict[str, Any]:
    """Per seed, both runs' dev mAP at ``step`` (where logged) and at their best step, and their differences;
    ``passes`` when every difference is within ``tolerance``."""
    per_seed: dict[str, Any] = {}
    for seed in seeds:
        curves = {"bf16": dev_curve(bf16, seed), "fp32": dev_curve(fp32, seed)}
        at = {k: c.get(step) for k, c in curves.items()}
        best = {k: max(c.values()) for k, c in curves.items()}
        per_seed[str(seed)] = {"curves": curves, f"at_step_{step}": at, "best": best,
                               "difference_at_step": None if None in at.values() else at["bf16"] - at["fp32"],
                               "difference_best": best["bf16"] - best["fp32"]}
    diffs = [s["difference_best"] for s in per_seed.values()]
    diffs += [s["difference_at_step"] for s in per_seed.values() if s["difference_at_step"] is not None]
    return {"metric": METRIC, "step": step, "tolerance": tolerance, "seeds": per_seed,
            "max_abs_difference": max(abs(d) for d in diffs),
            "passes": all(abs(d) <= tolerance for d in diffs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bf16", type=Path, default=Path("results/medium-cpu"))
    parser.add_argument("--fp32", type=Path, default=Path("results/bf16-check-fp32"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--step", type=int, default=200)
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    result = compare(ROOT / args.bf16, ROOT / args.fp32, args.seeds, args.step, args.tolerance)
    write_result("bf16-training-check", {"settings": {k: str(v) for k, v in vars(args).items()}, **result})
    for seed, s in result["seeds"].items():
        print(f"seed {seed}: best dev mAP bf16 {s['best']['bf16']:.4f} fp32 {s['best']['fp32']:.4f}; "
              f"at step {args.step}: {s[f'at_step_{args.step}']}")
    print(f"max |bf16 - fp32| = {result['max_abs_difference']:.4f}: {'pass' if result['passes'] else 'FAIL'}")


if __name__ == "__main__":
    main()
