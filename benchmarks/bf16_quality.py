"""bf16 on the CPU, quality side: cosine of bf16 to fp32 embeddings of LAReQA texts (issue 12's 0.999 check).

A seeded sample of ``--texts`` XQuAD-R and MLQA-R texts (questions as queries, answer sentences with their
paragraph as passages, every language) is encoded by :func:`langmix.model.encoding.encode_fast` in fp32 and under
bf16 autocast; the JSON holds the cosine of each text's two embeddings (min, mean, 1st percentile), the
time of each side and the CPU. The training side of the check (the same 200-step run in fp32 and bf16, dev
mAP within 0.01) is ``scripts/bf16-train-check.sh``.

    python benchmarks/bf16_quality.py --texts 1000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import add_common_args, environment, load, resolve_device, setup_threads, write_result
from langmix.data.lareqa import load_lareqa
from langmix.evaluation.lareqa import candidate_texts
from langmix.model.encoding import encode_fast


def lareqa_sample(n: int, seed: int) -> dict[str, list[str]]:
    """``n`` texts, half queries and half passages, drawn from both benchmarks and every language."""
    queries, passages = [], []
    for name in ("xquad-r", "mlqa-r"):
        bench = load_lareqa(name)
        for data in bench.languages.values():
            queries += [q.text for q in data.questions]
            passages += candidate_texts(data, "context")
    rng = np.random.default_rng(seed)
    pick = {kind: rng.choice(len(texts), size=n // 2, replace=False)
            for kind, texts in (("query", queries), ("passage", passages))}
    return {"query": [queries[i] for i in pick["query"]], "passage": [passages[i] for i in pick["passage"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--texts", type=int, default=1000, help="texts in all, half queries, half passages")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    setup_threads(args.threads)
    device = resolve_device(args.device)
    model = load(args.model, device)
    sample = lareqa_sample(args.texts, args.seed)
    cosines, seconds = [], {"fp32": 0.0, "bf16": 0.0}
    for kind, texts in sample.items():
        out = {}
        for precision in ("fp32", "bf16"):
            t0 = time.perf_counter()
            out[precision] = encode_fast(model, texts, kind, batch_size=args.batch_size, precision=precision)
            seconds[precision] += time.perf_counter() - t0
        cosines.append((out["fp32"] * out["bf16"]).sum(1))
    cos = np.concatenate(cosines)
    result = {
        "n_texts": int(cos.size),
        "cosine_min": float(cos.min()),
        "cosine_mean": float(cos.mean()),
        "cosine_p01": float(np.percentile(cos, 1)),
        "passes_0.999": bool(cos.min() >= 0.999),
        "seconds": seconds,
        "speedup_bf16_over_fp32": seconds["fp32"] / seconds["bf16"],
    }
    write_result(f"bf16-quality-{args.model}-{device}", {**environment(device), "settings": vars(args), **result})
    print(f"cosine min {cos.min():.6f} mean {cos.mean():.6f}; bf16 {result['speedup_bf16_over_fp32']:.2f}x fp32")


if __name__ == "__main__":
    main()
