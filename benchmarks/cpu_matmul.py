"""GFLOP/s of one encoder-sized matrix product in fp32, bf16 and fp32 under bf16 autocast.

The cheapest answer to "does bf16 pay on this CPU?": an (n x 384) @ (384 x 1536) product, the FFN shape of
multilingual-e5-small, timed after warm-up. oneDNN runs bf16 on AMX tiles where the CPU has them (Intel
Sapphire/Emerald Rapids), on AVX512-BF16 otherwise; the JSON records the CPU flags it found.

    python benchmarks/cpu_matmul.py
"""

from __future__ import annotations

import argparse
import time

import torch

from _common import cpu_flags, device_peak_tflops, environment, setup_threads, write_result
from langmix.precision import bf16_native


def gflops(a: torch.Tensor, w: torch.Tensor, repeats: int, autocast: bool = False) -> float:
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else torch.autocast("cpu", enabled=False)
    with ctx, torch.inference_mode():
        for _ in range(3):
            torch.nn.functional.linear(a, w)
        t0 = time.perf_counter()
        for _ in range(repeats):
            torch.nn.functional.linear(a, w)
        seconds = (time.perf_counter() - t0) / repeats
    return 2 * a.shape[0] * a.shape[1] * w.shape[0] / seconds / 1e9


def bf16_flags() -> list[str]:
    return sorted(f for f in cpu_flags() if f.startswith(("amx", "avx512_bf16", "avx512_fp16")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=4096, help="tokens in the product (batch x length)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    setup_threads(args.threads)
    a, w = torch.randn(args.rows, 384), torch.randn(1536, 384)
    result = {
        "fp32_gflops": gflops(a, w, args.repeats),
        "bf16_gflops": gflops(a.bfloat16(), w.bfloat16(), args.repeats),
        "autocast_bf16_gflops": gflops(a, w, args.repeats, autocast=True),
        "bf16_native": bf16_native(torch.device("cpu")),
        "cpu_flags": bf16_flags(),
    }
    result["speedup_bf16_over_fp32"] = result["bf16_gflops"] / result["fp32_gflops"]
    peak, source = device_peak_tflops("cpu", "fp32")
    result["fp32_share_of_peak"] = result["fp32_gflops"] / 1000 / peak
    result["fp32_peak_tflops"] = {"value": peak, "source": source}
    write_result("cpu-matmul", {**environment("cpu"), "settings": vars(args), **result})
    print({k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()})


if __name__ == "__main__":
    main()
