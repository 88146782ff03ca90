"""Time all LAReQA metrics of XQuAD-R (13,090 queries x 13,014 candidates) from embeddings.

Embeddings are either random unit vectors of the real shapes (``--synthetic``, the default: the metric
time does not depend on the values) or a folder written by ``langmix evaluate --save-embeddings``.
Writes results/bench-eval-speed.json.

    .venv/bin/python benchmarks/eval_speed.py [--embeddings RUN/embeddings] [--threads 2] [--repeats 3]

With ``--model`` it times a whole evaluation instead: encode every query and candidate (with context)
and compute all metrics, once with sentence-transformers' ``encode`` (:func:`langmix.model.encoding.st_encode`)
and once with langmix's fast path (:func:`langmix.model.encoding.encode_fast`, what ``langmix.model.load.encode``
calls), alternating, and checks
that both give the same metrics. A full XQuAD-R encode of 13,014 candidates with context takes hours on
two shared CPU cores, so ``--limit-questions N`` evaluates the first N question ids (all their languages
and paragraphs); the JSON records what was measured. Writes results/bench-eval-full-<model>-<device>.json.

    .venv/bin/python benchmarks/eval_speed.py --model embedded --limit-questions 20
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


def full_evaluation(args) -> None:
    """Encode + all metrics, ST encode vs the fast path, alternating rounds; same metrics checked."""
    import statistics
    import sys
    from unittest import mock

    sys.path.insert(0, str(Path(__file__).parent))
    from _common import environment, load, resolve_device, write_result
    from langmix.evaluation import lareqa
    from langmix.model import encoding

    device = resolve_device(args.device)
    benchmark = load_lareqa(args.benchmark)
    if args.limit_questions:
        benchmark = lareqa.first_questions(benchmark, args.limit_questions)
    model = load(args.model, device)
    encoders = {"sentence-transformers": encoding.st_encode, "langmix": encoding.encode_fast}
    seconds: dict[str, list[float]] = {name: [] for name in encoders}
    encode_seconds: dict[str, list[float]] = {name: [] for name in encoders}
    metrics: dict[str, dict[str, float]] = {}
    for r in range(args.repeats):
        for name in encoders if r % 2 == 0 else reversed(encoders):
            start = time.perf_counter()
            with mock.patch.object(lareqa, "encode", encoders[name]):  # what wiring langmix.model.load.encode does
                emb = lareqa.embed_benchmark(model, benchmark, "context", args.batch_size)
            encoded = time.perf_counter()
            result = score_lareqa(benchmark, emb.queries, emb.candidates, "context")
            seconds[name].append(time.perf_counter() - start)
            encode_seconds[name].append(encoded - start)
            metrics[name] = result.metrics
            print(f"round {r} {name}: {seconds[name][-1]:.1f} s ({encode_seconds[name][-1]:.1f} s encoding)")
    st, fast = metrics["sentence-transformers"], metrics["langmix"]
    diff = max(abs(st[k] - fast[k]) for k in st if not (np.isnan(st[k]) or np.isnan(fast[k])))
    layout = build_layout(benchmark)
    record = {
        **environment(device),
        "settings": vars(args) | {"embeddings": None},
        "measured": f"{args.benchmark}, first {args.limit_questions or 'all'} question ids: "
        f"{len(layout.query_ids)} queries x {len(layout.cand_lang)} candidates with context",
        "sides": {
            name: {"seconds": seconds[name], "median_seconds": statistics.median(seconds[name]),
                   "encode_seconds": encode_seconds[name]}
            for name in encoders
        },
        "speedup_langmix_over_st": statistics.median(seconds["sentence-transformers"])
        / statistics.median(seconds["langmix"]),
        "max_metric_difference": diff,
        "metrics_langmix": fast,
    }
    write_result(f"eval-full-{args.model}-{device}", record)
    print(f"speed-up {record['speedup_langmix_over_st']:.2f}x; largest metric difference {diff:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="embedded, e5-small or xlmr-base: time encode + metrics (see above)")
    parser.add_argument("--limit-questions", type=int, help="with --model: the first N question ids only")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--benchmark", default="xquad-r")
    parser.add_argument("--embeddings", type=Path, help="folder with queries.npy / candidates.npy")
    parser.add_argument("--dim", type=int, default=384, help="synthetic embedding size (e5-small: 384)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/bench-eval-speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.model:
        full_evaluation(args)
        return
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
