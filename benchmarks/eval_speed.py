"""Time all LAReQA metrics of XQuAD-R (13,090 queries x 13,014 candidates) from embeddings.

Embeddings are either random unit vectors of the real shapes (``--synthetic``, the default: the metric
time does not depend on the values) or a folder written by ``langmix evaluate --save-embeddings``.
Writes results/bench-eval-speed.json.

    .venv/bin/python benchmarks/eval_speed.py [--embeddings RUN/embeddings] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from langmix.data.lareqa import load_lareqa
from langmix.evaluation.lareqa import build_layout, score_lareqa
from langmix.evaluation.runner import load_lareqa_embeddings
from langmix.io import write_json
from langmix.provenance import device_info, versions


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default="xquad-r")
    parser.add_argument("--embeddings", type=Path, help="folder with queries.npy / candidates.npy")
    parser.add_argument("--dim", type=int, default=384, help="synthetic embedding size (e5-small: 384)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/bench-eval-speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    benchmark = load_lareqa(args.benchmark)
    layout = build_layout(benchmark)
    if args.embeddings:
        emb = load_lareqa_embeddings(args.embeddings)
        queries, candidates, source = emb.queries, emb.candidates, str(args.embeddings)
    else:
        rng = np.random.default_rng(0)
        queries = unit_rows(rng, len(layout.query_ids), args.dim)
        candidates = unit_rows(rng, len(layout.cand_lang), args.dim)
        source = "synthetic unit vectors"
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = score_lareqa(benchmark, queries, candidates)
        seconds.append(time.perf_counter() - start)
    record = {
        "benchmark": args.benchmark,
        "embeddings": source,
        "queries": queries.shape[0],
        "candidates": candidates.shape[0],
        "dim": queries.shape[1],
        "threads": args.threads,
        "seconds": seconds,
        "best_seconds": min(seconds),
        "n_metrics": len(result.metrics),
        "cross_pairs": result.info["n_cross_pairs"],
        "load_average_1min": os.getloadavg()[0],  # the machine is shared: contention inflates times
        "device": device_info(),
        "versions": versions(),
    }
    write_json(args.out, record)
    print(
        f"{args.benchmark}: {queries.shape[0]} x {candidates.shape[0]} all metrics in {min(seconds):.2f} s "
        f"(best of {args.repeats}, {args.threads} threads) -> {args.out}"
    )


if __name__ == "__main__":
    main()
