"""Texts/s encoding XQuAD-R candidates with context: sentence-transformers ``encode`` vs langmix's fast path.

Both sides encode the same texts with the same model, batch size and precision, in one process, in
alternating rounds (ST first in even rounds, langmix first in odd ones) so both see the same machine
load. The check that the outputs agree (cosine of langmix's to ST's embedding of each text) is written
to the JSON next to the speeds.

    python benchmarks/encode_throughput.py --limit 256 --rounds 3
    python benchmarks/encode_throughput.py --device cuda --model xlmr-base --precision bf16 --limit 4096
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import numpy as np
import torch

from _common import (
    add_common_args,
    device_peak_tflops,
    environment,
    forward_flops,
    load,
    padded_tokens,
    peak_memory,
    resolve_device,
    setup_threads,
    st_batches,
    sync,
    write_result,
    xquad_candidates,
)
from langmix.model import encoding


def int8_copy(model):
    """A copy whose Linear layers run int8 dynamic quantisation (CPU): tried as a lever, judged on cosine."""
    import copy

    quantized = copy.deepcopy(model)
    linear_int8 = torch.ao.quantization.quantize_dynamic
    quantized[0].model = linear_int8(quantized[0].model, {torch.nn.Linear}, dtype=torch.qint8)
    return quantized


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--limit", type=int, default=256, help="texts encoded per round (seeded sample)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per side, interleaved")
    parser.add_argument("--languages", nargs="*", help="XQuAD-R languages to sample from (default: all 11)")
    parser.add_argument("--kind", default="passage", choices=("query", "passage"))
    parser.add_argument("--int8", action="store_true", help="langmix side: int8 dynamic quantisation (CPU experiment)")
    parser.add_argument("--uncapped", action="store_true",
                        help="langmix side: fixed sorted batches, without encode_fast's padding cap (for comparison)")
    args = parser.parse_args()
    setup_threads(args.threads)
    if args.uncapped:
        encoding.ENCODE_MAX_PADDING = None  # encode_batches then forms plain fixed-size sorted batches
    device = resolve_device(args.device)
    model = load(args.model, device)
    texts = xquad_candidates(args.limit, args.seed, args.languages)
    parts = encoding.encoder_parts(model)
    lengths = np.array([len(r) for r in encoding.tokenize(parts, texts, model.prompts[args.kind])])
    dtype = torch.bfloat16 if args.precision == "bf16" else None

    def run_st(batch: list[str]) -> np.ndarray:
        # ST runs the model under autocast for bf16 (its encode has no precision switch of its own)
        ctx = torch.autocast(torch.device(device).type, dtype=dtype) if dtype else contextlib.nullcontext()
        with ctx:
            return encoding.st_encode(model, batch, args.kind, batch_size=args.batch_size)

    lm_model = int8_copy(model) if args.int8 else model

    def run_langmix(batch: list[str]) -> np.ndarray:
        return encoding.encode_fast(lm_model, batch, args.kind, batch_size=args.batch_size, precision=args.precision)

    sides = {"sentence-transformers": run_st, "langmix": run_langmix}
    for run in sides.values():  # warm-up: kernels, allocator, tokenizer caches
        run(texts[:8])
    times: dict[str, list[float]] = {name: [] for name in sides}
    memory: dict[str, float] = {name: 0.0 for name in sides}
    outputs: dict[str, np.ndarray] = {}
    for r in range(args.rounds):
        names = list(sides) if r % 2 == 0 else list(reversed(sides))
        for name in names:
            with peak_memory(device) as mem:
                sync(device)
                t0 = time.perf_counter()
                outputs[name] = sides[name](texts)
                sync(device)
                times[name].append(time.perf_counter() - t0)
            memory[name] = max(memory[name], mem["peak_mb"])
            print(f"round {r} {name}: {len(texts) / times[name][-1]:.2f} texts/s", flush=True)

    cos = (outputs["langmix"] * outputs["sentence-transformers"]).sum(1)
    flops = forward_flops(parts.auto_model.config, lengths)
    peak, peak_source = device_peak_tflops(device, args.precision, args.peak_tflops)
    result: dict = {"sides": {}}
    for name in sides:
        median = statistics.median(times[name])
        tflops = flops / median / 1e12
        result["sides"][name] = {
            "seconds_per_round": times[name],
            "texts_per_s": len(texts) / median,
            "peak_memory_mb": memory[name],
            "memory_kind": mem["memory_kind"],
            "achieved_tflops": tflops,
            "share_of_peak": tflops / peak if peak else None,
        }
    result["speedup_langmix_over_st"] = (
        result["sides"]["langmix"]["texts_per_s"] / result["sides"]["sentence-transformers"]["texts_per_s"]
    )
    result["same_outputs"] = {"cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()),
                              "passes_0.999": bool(cos.min() >= 0.999)}
    result["tokens"] = {
        "real": int(lengths.sum()),
        "padded_st_batches": padded_tokens(lengths, st_batches(texts, args.batch_size)),
        "padded_langmix_batches": padded_tokens(lengths, encoding.encode_batches(lengths, args.batch_size)),
        "mean_length": float(lengths.mean()),
        "max_length": int(lengths.max()),
    }
    result["peak_tflops"] = {"value": peak, "source": peak_source}
    result["note"] = "texts/s from the median round; FLOPs count real (unpadded) tokens only"
    settings = {k: v for k, v in vars(args).items()}
    settings["n_texts"] = len(texts)
    langs = "-".join(args.languages) if args.languages else "all"
    name = f"encode-{args.model}-{device}-{args.precision}-{langs}"
    name += ("-int8" if args.int8 else "") + ("-uncapped" if args.uncapped else "")
    write_result(name, {**environment(device), "settings": settings, **result})
    print(f"speed-up {result['speedup_langmix_over_st']:.2f}x, cosine min {cos.min():.6f}")


if __name__ == "__main__":
    main()
