"""Where one langmix training step spends its time: torch.profiler's operator table, grouped.

Runs ``--warmup`` steps of langmix's training step (the one :mod:`train_throughput` times, same data
and lengths), then profiles ``--steps`` more and writes the operators' self CPU (or CUDA) time, grouped
into matrix products, dropout sampling, attention softmax, optimiser and the rest, to
``results/bench-profile-train-<model>-<device>-<precision>-b<batch>.json``. The groups bound what any
change of the training loop can gain while the model, precision and batch stay the same: matrix products
run in the same BLAS/cuBLAS kernels whoever calls them.

    python benchmarks/profile_train_step.py --batch-size 8
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any

from torch.profiler import ProfilerActivity, profile

from _common import environment, load, resolve_device, setup_threads, write_result
from train_throughput import LangmixRunner, add_step_args, prepare, xquad_batches

GROUPS = {  # operator name -> group; first match wins, anything else is "other"
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear"),
    "dropout sampling": ("aten::bernoulli_", "aten::bernoulli", "aten::native_dropout", "aten::rand_like"),
    "attention softmax": ("aten::_softmax", "aten::_softmax_backward_data", "aten::_safe_softmax"),
    "fused attention": ("aten::_scaled_dot_product_flash_attention", "aten::_flash_attention_forward",
                        "aten::_scaled_dot_product_flash_attention_for_cpu",
                        "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
                        "aten::_scaled_dot_product_efficient_attention"),
    "optimizer": ("aten::_fused_adamw_", "Optimizer.zero_grad#AdamW.zero_grad"),
    "zero fill": ("aten::fill_", "aten::zero_"),
}


def group_of(name: str) -> str:
    return next((group for group, names in GROUPS.items() if name in names), "other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_step_args(parser)
    parser.add_argument("--warmup", type=int, default=2, help="unprofiled steps first")
    parser.add_argument("--steps", type=int, default=2, help="profiled steps")
    parser.add_argument("--top", type=int, default=25, help="operators listed one by one")
    args = parser.parse_args()
    setup_threads(args.threads)
    device = resolve_device(args.device)
    batches = xquad_batches(args.batch_size, args.warmup + args.steps, args.seed)
    model = load(args.model, device)
    prepare(model, args)
    runner = LangmixRunner(model, batches, args, device)
    for _ in range(args.warmup):
        runner.step()
    cuda = device.startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(args.steps):
            runner.step()
    attr = "self_device_time_total" if cuda else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, attr), reverse=True)
    total = sum(getattr(e, attr) for e in events)
    groups: dict[str, float] = defaultdict(float)
    for event in events:
        groups[group_of(event.key)] += getattr(event, attr)
    result: dict[str, Any] = {
        "time_kind": attr,
        "step_seconds": runner.times[args.warmup :],
        "profiled_total_ms": total / 1e3,
        "groups_share": {g: v / total for g, v in sorted(groups.items(), key=lambda kv: -kv[1])},
        "top_operators": [
            {"name": e.key, "ms": getattr(e, attr) / 1e3, "share": getattr(e, attr) / total, "calls": e.count}
            for e in events[: args.top]
        ],
        "upper_bound_speedup_if_only_matmul_remained": total / groups["matmul"] if groups["matmul"] else None,
    }
    name = f"profile-train-{args.model}-{device}-{args.precision}-b{args.batch_size}"
    name += ("-nodropout" if args.no_dropout else "") + ("-compile" if args.compile else "")
    write_result(name, {**environment(device), "settings": vars(args), **result})
    for group, share in result["groups_share"].items():
        print(f"{group:>18}: {share:6.1%}")
    print(f"step seconds {[round(t, 2) for t in result['step_seconds']]}; "
          f"all but matmul removed -> at most {result['upper_bound_speedup_if_only_matmul_remained']:.2f}x")


if __name__ == "__main__":
    main()
