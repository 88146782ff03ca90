"""langmix's training step with and without row gradients of the word embeddings (``row_embedding_grad``).

Two copies of the same weights, the same batches (the ones :mod:`train_throughput` uses), word embeddings
trained, interleaved in ONE process: ``--block`` steps with row gradients, then ``--block`` with the plain
dense backward, and so on, so both see the same machine load. Reported: each side's step times, their
medians and the speed-up, and the largest relative difference of the two sides' per-step losses (with
``--no-dropout`` the two compute the same training, so it stays at float-rounding level; with dropout on,
the two sides draw their masks from one generator in turn, so their losses differ by dropout noise).

    python benchmarks/embedding_grad_ab.py --batch-size 32 --steps 12 --embed-chunk 0 --cpu-dropout pcg64
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch

from _common import environment, load, resolve_device, write_result
from train_throughput import LangmixRunner, parse_interleaved_args, prepare, xquad_batches


def main() -> None:
    args = parse_interleaved_args(__doc__)
    if args.freeze_embeddings:
        raise SystemExit("row gradients need trained word embeddings: drop --freeze-embeddings")
    device = resolve_device(args.device)
    batches = xquad_batches(args.batch_size, args.steps, args.seed)
    runners = {}
    for name, dense in (("rows", False), ("dense", True)):
        torch.manual_seed(args.seed)
        model = load(args.model, device)
        prepare(model, args)
        side_args = argparse.Namespace(**{**vars(args), "dense_embedding_grad": dense})
        runners[name] = LangmixRunner(model, batches, side_args, device)
    while any(len(r.times) < args.steps for r in runners.values()):
        for runner in runners.values():
            for _ in range(min(args.block, args.steps - len(runner.times))):
                runner.step()
    steady = {name: r.times[args.warmup_steps:] for name, r in runners.items()}
    medians = {name: statistics.median(times) for name, times in steady.items()}
    losses = {name: np.array(r.losses) for name, r in runners.items()}
    result = {
        "step_seconds": {name: r.times for name, r in runners.items()},
        "median_step_s": medians,
        "speedup_rows_over_dense": medians["dense"] / medians["rows"],
        "losses": {name: loss.tolist() for name, loss in losses.items()},
        "max_relative_loss_difference": float(np.max(np.abs(losses["rows"] - losses["dense"])
                                                     / np.abs(losses["dense"]))),
    }
    name = f"embedding-grad-{args.model}-{device}-{args.precision}-b{args.batch_size}"
    name += "-nodropout" if args.no_dropout else ""
    write_result(name, {**environment(device), "settings": vars(args), **result})
    print(f"median step: rows {medians['rows']:.2f} s, dense {medians['dense']:.2f} s, "
          f"speed-up {result['speedup_rows_over_dense']:.2f}x; "
          f"max relative loss difference {result['max_relative_loss_difference']:.2e}")


if __name__ == "__main__":
    main()
