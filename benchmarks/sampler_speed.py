"""Time one epoch of each batch strategy (pairs drawn per second), on XQuAD-R or a synthetic corpus.

The samplers only draw indices, so their cost should be negligible next to a training step; this
script checks that. ``--synthetic N`` builds N fully parallel records in 11 languages (no text loading).
Writes results/bench-sampler-speed.json.

    .venv/bin/python benchmarks/sampler_speed.py [--corpus xquad-r | --synthetic 100000] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from langmix.data.loaders import load_corpus
from langmix.data.parallel import ParallelCorpus, ParallelRecord
from langmix.io import write_json
from langmix.provenance import device_info, versions
from langmix.training.sampling import STRATEGIES, make_sampler

LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")


def synthetic(n: int) -> ParallelCorpus:
    texts = dict.fromkeys(LANGS, "x")  # text is never read by a sampler
    return ParallelCorpus([ParallelRecord(f"s{i}", texts, texts) for i in range(n)], f"synthetic-{n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="xquad-r")
    parser.add_argument("--synthetic", type=int, help="number of synthetic records instead of --corpus")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("results/bench-sampler-speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = synthetic(args.synthetic) if args.synthetic else load_corpus(args.corpus)
    results = {}
    for strategy in STRATEGIES:
        start = time.perf_counter()
        sampler = make_sampler(strategy, corpus, args.batch_size, seed=0)
        build = time.perf_counter() - start
        seconds = []
        for epoch in range(args.repeats):
            sampler.set_epoch(epoch)
            start = time.perf_counter()
            pairs = sum(len(batch) for batch in sampler)
            seconds.append(time.perf_counter() - start)
        best = min(seconds)
        results[strategy] = {
            "build_s": build,
            "epoch_s": seconds,
            "batches": len(sampler),
            "pairs": pairs,
            "pairs_per_s": pairs / best,
            "us_per_batch": 1e6 * best / len(sampler),
        }
        print(f"{strategy:9s} build {build:.3f}s  epoch {best:.4f}s  {pairs / best:,.0f} pairs/s")
    write_json(
        args.out,
        {
            "corpus": corpus.name,
            "records": len(corpus),
            "batch_size": args.batch_size,
            "results": results,
            "device": device_info(),
            "versions": versions(),
        },
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
