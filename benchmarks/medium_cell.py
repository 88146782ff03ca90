"""Wall time of one medium-grid cell (issue 12): the defaults before the CPU speed work vs the medium config's.

A cell of ``configs/reproduce-medium.yaml`` trains at most 250 steps of 32 pairs (+1 hard negative each) on the
protocol's training sentences, evaluates the dev mAP every 50 steps, then encodes the whole test pool. Running
two whole cells would take hours, so this benchmark times the parts, in ONE process, interleaved so both
settings see the same machine load, and adds them up:

- training steps on the same real hybrid batches of ``xquad-to-mlqa`` (``--steps`` per setting, in blocks of
  ``--block``; the first ``--warmup-steps`` of each are not timed);
- encoding texts/s of the same shuffled sample of MLQA-R sentences and questions (``--encode-texts``);
- the cell: ``cell_steps x step + (dev texts x dev evaluations + test texts) / encoding rate``.

The settings: ``old`` is fp32 with torch's dropout and one forward per side, the defaults when issue 12 was
filed; ``new`` is the medium config's training (bf16 autocast, PCG64 dropout, ``embed_chunk: 0``) and test
encoding (bf16). Both freeze the word embeddings as the medium config does.

    python benchmarks/medium_cell.py --steps 6 --block 2
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from _common import ROOT, add_common_args, environment, setup_threads, write_result
from langmix.evaluation.lareqa import dev_evaluator
from langmix.model.encoding import encode_fast
from langmix.model.load import load_model
from langmix.precision import autocast, resolve_precision
from langmix.reproduce.data import build_test_benchmark, prepare_protocol
from langmix.reproduce.grid import Cell
from langmix.reproduce.runner import cell_train_config
from langmix.reproduce.settings import PROTOCOLS, make_settings
from langmix.training import loop as training
from langmix.training.dropout import use_pcg64_dropout
from langmix.training.losses import InfoNCELoss

SETTINGS = {  # name: (training precision, cpu_dropout, embed_chunk, test encoding precision)
    "old": ("fp32", "torch", 0, "fp32"),
    "new": ("bf16", "pcg64", 0, "bf16"),
}
PROTOCOL = "xquad-to-mlqa"


class Stepper:
    """One setting's training step, composed as :func:`langmix.training.loop.train` composes it."""

    def __init__(self, config, corpus, batches: list, precision: str, cpu_dropout: str, chunk: int) -> None:
        self.model = load_model(config.model.name)
        training.freeze_word_embeddings(self.model)
        if cpu_dropout == "pcg64":
            use_pcg64_dropout(self.model)
        self.model.train()
        self.config, self.corpus, self.batches, self.chunk = config, corpus, batches, chunk
        self.dtype = resolve_precision(precision, "cpu")
        self.optimizer = training.make_optimizer(self.model, config)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.loss_fn = InfoNCELoss(config.temperature, config.symmetric)
        self.times: list[float] = []

    def embed(self, texts, kind: str) -> torch.Tensor:
        length = {"query": self.config.model.max_query_length, "passage": self.config.model.max_passage_length}
        with autocast("cpu", self.dtype):
            return training.embed(self.model, texts, kind, length[kind], "cpu", self.chunk)

    def step(self) -> None:
        batch = training.make_text_batch(self.corpus, self.batches[len(self.times)], self.config.data.hard_negatives)
        t0 = time.perf_counter()
        loss = training.batch_loss(self.embed, batch, self.loss_fn)
        loss.backward()
        training._optimizer_step(self.optimizer, None, self.params, self.config.max_grad_norm)
        self.times.append(time.perf_counter() - t0)


def encode_rate(model, texts: list[str], precision: str, batch_size: int) -> float:
    model.eval()
    t0 = time.perf_counter()
    encode_fast(model, texts, "passage", batch_size=batch_size, precision=precision)
    return len(texts) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--config", default=str(ROOT / "configs/reproduce-medium.yaml"))
    parser.add_argument("--steps", type=int, default=6, help="timed training steps per setting")
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--block", type=int, default=2, help="steps per setting before switching")
    parser.add_argument("--encode-texts", type=int, default=512)
    parser.add_argument("--cell-steps", type=int, default=200, help="training steps of the cell to estimate")
    args = parser.parse_args()
    setup_threads(args.threads)
    settings = make_settings("full", args.config)
    protocol = PROTOCOLS[PROTOCOL]
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare_protocol(protocol, Path(tmp), settings.sources, settings.max_train_records,
                                settings.test_languages, settings.test_questions, settings.article_test_fraction,
                                max_negatives=1, candidates=settings.train_candidates)
        config = cell_train_config(settings.train_config(), Cell(PROTOCOL, "hybrid", "hybrid", 0.5, 0),
                                   data.train_path)
        corpus, dev = training.load_training_data(config)
    from langmix.training.sampling import make_sampler

    n = args.warmup_steps + args.steps
    batches = list(itertools.islice(iter(make_sampler("hybrid", corpus, config.batch_size, seed=0)), n))
    steppers = {name: Stepper(config, corpus, batches, p, d, c) for name, (p, d, c, _) in SETTINGS.items()}
    for start in range(0, n, args.block):
        for stepper in steppers.values():
            for _ in range(min(args.block, n - start)):
                stepper.step()
    bench, _ = build_test_benchmark(protocol, settings.test_languages, settings.test_questions,
                                    settings.article_test_fraction)
    test_texts = sum(len(d.sentences) + len(d.questions) for d in bench.languages.values())
    pool = [s for d in bench.languages.values() for s in d.sentences]
    sample = random.Random(0).sample(pool, min(args.encode_texts, len(pool)))
    rates: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for _ in range(2):
        for name, (_, _, _, precision) in SETTINGS.items():
            rates[name].append(encode_rate(steppers[name].model, sample, precision, settings.eval_batch_size))
    dev_bench = dev_evaluator(config.data.dev_benchmark, [r.id for r in dev.records],
                              config.data.dev_candidates).benchmark
    dev_texts = sum(len(d.sentences) + len(d.questions) for d in dev_bench.languages.values())
    dev_evals = args.cell_steps // config.eval_every
    report: dict[str, Any] = {}
    for name, stepper in steppers.items():
        step = statistics.median(stepper.times[args.warmup_steps:])
        rate = max(rates[name])
        encode_seconds = (dev_texts * dev_evals + test_texts) / rate
        report[name] = {"settings": dict(zip(("precision", "cpu_dropout", "embed_chunk", "eval_precision"),
                                            SETTINGS[name], strict=True)),
                        "step_seconds_median": step, "step_seconds": stepper.times,
                        "encode_texts_per_s": rate, "cell_train_seconds": args.cell_steps * step,
                        "cell_encode_seconds": encode_seconds, "cell_seconds": args.cell_steps * step + encode_seconds}
    result = {
        "protocol": PROTOCOL, "cell_steps": args.cell_steps, "dev_evaluations": dev_evals,
        "dev_texts_per_evaluation": dev_texts, "test_texts": test_texts, "settings_compared": report,
        "speedup_step": report["old"]["step_seconds_median"] / report["new"]["step_seconds_median"],
        "speedup_encode": report["new"]["encode_texts_per_s"] / report["old"]["encode_texts_per_s"],
        "speedup_cell": report["old"]["cell_seconds"] / report["new"]["cell_seconds"],
        "note": "cell time = steps x median step + encoded texts / encoding rate (dev pool x evaluations + "
                "test pool); loading, checkpoints and scoring are left out",
    }
    write_result("medium-cell-cpu", {**environment("cpu"), "settings": vars(args), **result})
    print(f"step {report['old']['step_seconds_median']:.2f} -> {report['new']['step_seconds_median']:.2f} s, "
          f"encode {report['old']['encode_texts_per_s']:.1f} -> {report['new']['encode_texts_per_s']:.1f} texts/s, "
          f"cell {report['old']['cell_seconds'] / 60:.1f} -> {report['new']['cell_seconds'] / 60:.1f} min: "
          f"{result['speedup_cell']:.2f}x")


if __name__ == "__main__":
    main()
