"""Padding of encoding batches on the LAReQA pools, counted from token lengths (tokenizer only, no forward).

For every list the evaluation encodes in one call (per benchmark, language and kind: queries, then
candidates), three batchings of the same texts:

- ``st``: sentence-transformers' ``encode``, sorted by characters, fixed batches;
- ``sorted``: sorted by tokens, fixed batches (``langmix.model.encoding.length_batches``, encode_fast until now);
- ``capped``: sorted by tokens, a batch closing early where the next text would make more than 2 % of it
  padding once it holds 2,048 tokens (``langmix.model.encoding.encode_batches``, what encode_fast runs now).

Reported per pool: tokens and forward matmul FLOPs (``_common.forward_flops`` of the padded shapes) as a
multiple of the unpadded texts', and the number of batches. The FLOPs ratio is the speed lever: the forward
is compute-bound, so the time follows the padded FLOPs.

    python benchmarks/padding.py                 # MLQA-R and XQuAD-R, sentences and sentences with context
    python benchmarks/padding.py --sample 256    # plus encode_throughput.py's sample of 256 XQuAD-R candidates
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from transformers import AutoConfig, AutoTokenizer

from _common import environment, forward_flops, model_path, padded_tokens, st_batches, write_result, xquad_candidates
from langmix.data.lareqa import load_lareqa
from langmix.evaluation.lareqa import candidate_texts
from langmix.model import encoding
from langmix.model.prompts import PROMPTS

Batching = Callable[[list[str], np.ndarray, int], list[np.ndarray]]
BATCHINGS: dict[str, Batching] = {
    "st": lambda texts, lengths, size: st_batches(texts, size),
    "sorted": lambda texts, lengths, size: encoding.length_batches(lengths, size),
    "capped": lambda texts, lengths, size: encoding.encode_batches(lengths, size),
}


def pool_lists(name: str, mode: str) -> list[tuple[str, list[str]]]:
    """(kind, texts) for each call the evaluation makes: per language its queries, then its candidates."""
    bench = load_lareqa(name)
    calls = []
    for lang in bench.langs:
        data = bench.languages[lang]
        calls += [("query", [q.text for q in data.questions]), ("passage", candidate_texts(data, mode))]
    return calls


def count(calls: list[tuple[str, list[str]]], tokenizer, config, batch_size: int) -> dict:
    real = {"tokens": 0, "flops": 0.0}
    sides = {name: {"tokens": 0, "flops": 0.0, "batches": 0} for name in BATCHINGS}
    for kind, texts in calls:
        prompt = PROMPTS[kind]
        ids = tokenizer([prompt + t for t in texts], truncation=True, max_length=512)["input_ids"]
        lengths = np.array([len(r) for r in ids])
        real["tokens"] += int(lengths.sum())
        real["flops"] += forward_flops(config, lengths)
        for name, batching in BATCHINGS.items():
            batches = batching(texts, lengths, batch_size)
            sides[name]["tokens"] += padded_tokens(lengths, batches)
            sides[name]["flops"] += sum(forward_flops(config, [lengths[b].max()] * len(b)) for b in batches)
            sides[name]["batches"] += len(batches)
    for side in sides.values():
        side["tokens_over_real"] = side["tokens"] / real["tokens"]
        side["flops_over_real"] = side["flops"] / real["flops"]
    return {"real": real, **sides}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sample", type=int, default=0, help="also encode_throughput.py's sample of this size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(str(model_path("embedded")))
    config = AutoConfig.from_pretrained(str(model_path("embedded")))
    pools: dict[str, list[tuple[str, list[str]]]] = {}
    if args.sample:
        pools[f"xquad-r context sample {args.sample}"] = [("passage", xquad_candidates(args.sample, args.seed))]
    for name in ("mlqa-r", "xquad-r"):
        for mode in ("sentence", "context"):
            pools[f"{name} {mode}"] = pool_lists(name, mode)
    result = {pool: count(calls, tokenizer, config, args.batch_size) for pool, calls in pools.items()}
    print("| pool | ST FLOPs / real | sorted | capped | batches ST / sorted / capped |")
    print("|---|---|---|---|---|")
    for pool, r in result.items():
        print(f"| {pool} | {r['st']['flops_over_real']:.3f} | {r['sorted']['flops_over_real']:.3f} | "
              f"{r['capped']['flops_over_real']:.3f} | {r['st']['batches']} / {r['sorted']['batches']} / "
              f"{r['capped']['batches']} |")
    settings = {**vars(args), "max_padding": encoding.ENCODE_MAX_PADDING, "min_tokens": encoding.ENCODE_MIN_TOKENS}
    write_result("padding", {**environment("cpu"), "settings": settings, "pools": result})


if __name__ == "__main__":
    main()
