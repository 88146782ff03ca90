"""Training pairs/s: sentence-transformers' trainer with MultipleNegativesRankingLoss vs langmix's training step.

Same model (two copies of the same weights), same batches (XQuAD-R pairs with context from langmix's hybrid
sampler: question -> answer sentence + paragraph), batch size, max lengths (query 64, passage ``--passage-
length`` tokens, default 128), precision (bf16: autocast on both sides), AdamW settings and constant learning
rate, in ONE process. The runs are interleaved: a callback of the ST trainer runs langmix's next ``--block``
steps after every ``--block`` ST steps, so both see the same machine load. The langmix step is the body of
:func:`langmix.training.loop.train` (``embed`` in length-sorted chunks of ``--embed-chunk`` texts -> ``InfoNCELoss``
-> backward -> clipped AdamW step), built from the functions of :mod:`langmix.training.loop`, so any speed change
there shows up here; ``--cpu-dropout pcg64`` gives langmix's side PCG64 dropout masks
(:mod:`langmix.training.dropout`). The padded and real token counts of both sides' forwards are reported.

Reported per side: pairs/s over steady-state steps (the first ``--warmup-steps`` are skipped), peak memory,
achieved TFLOP/s (3x the forward matmul FLOPs of the real, unpadded tokens) and its share of the device peak;
and the per-step losses of both sides with their largest relative difference.

    python benchmarks/train_throughput.py --batch-size 32 --steps 8
    python benchmarks/train_throughput.py --batch-size 32 --steps 8 --precision bf16
    python benchmarks/train_throughput.py --device cuda --model xlmr-base --precision bf16 --batch-size 128
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from typing import Any

import numpy as np
import torch

from _common import (
    PeakMemory,
    add_common_args,
    device_peak_tflops,
    environment,
    forward_flops,
    load,
    resolve_device,
    setup_threads,
    sync,
    write_result,
)
from langmix.model import encoding
from langmix.precision import autocast, resolve_precision
from langmix.training import loop as training
from langmix.training.batches import TextBatch, make_text_batch
from langmix.training.config import TrainConfig
from langmix.training.dropout import CPU_DROPOUTS, use_pcg64_dropout
from langmix.training.embedding_grad import use_row_gradients
from langmix.training.losses import InfoNCELoss

MAX_LENGTH = {"query": 64, "passage": 128}  # the passage cap is set from --passage-length
Batch = tuple[list[str], list[str]]


def xquad_batches(batch_size: int, steps: int, seed: int) -> list[Batch]:
    """(queries, positive passages) of the first ``steps`` hybrid batches of XQuAD-R with context."""
    from langmix.data.loaders import load_corpus
    from langmix.training.sampling import make_sampler

    corpus = load_corpus("xquad-r")
    sampler = make_sampler("hybrid", corpus, batch_size, seed=seed)
    sampler.set_epoch(0)
    batches = []
    for pairs in itertools.islice(iter(sampler), steps):
        text = make_text_batch(corpus, pairs, 0)
        batches.append((text.queries, text.positives))
    return batches


def prepare(model, args) -> None:
    """What both sides get alike: the passage cap (queries are far below 64), frozen embeddings, dropout."""
    model.max_seq_length = MAX_LENGTH["passage"]
    if args.freeze_embeddings:
        training.freeze_word_embeddings(model)
    if args.no_dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0


class LangmixRunner:
    """langmix's training step, exactly as the loop in :func:`langmix.training.loop.train` composes it."""

    def __init__(self, model, batches: list[Batch], args, device: str) -> None:
        self.model, self.batches, self.device = model, batches, device
        self.config = TrainConfig()
        self.config.lr, self.config.weight_decay, self.config.max_grad_norm = args.lr, args.weight_decay, 1.0
        if args.compile:  # langmix's lever only: the ST side runs as its trainer does by default
            training.compile_encoder(model)
        if args.cpu_dropout == "pcg64":  # langmix's lever only, as above
            use_pcg64_dropout(model)
        if not (args.dense_embedding_grad or args.compile):  # as training.prepare_model does by default
            use_row_gradients(model)
        self.optimizer = training.make_optimizer(model, self.config)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.loss_fn = InfoNCELoss(temperature=1 / 20)  # MNRL's default scale 20
        self.config.embed_chunk = args.embed_chunk
        dtype = resolve_precision(args.precision, device)
        self.autocast = lambda: autocast(device, dtype)
        self.times: list[float] = []
        self.losses: list[float] = []
        model.train()

    def embed(self, texts, kind: str) -> torch.Tensor:
        with self.autocast():
            return training.embed(self.model, texts, kind, MAX_LENGTH[kind], self.device, self.config.embed_chunk)

    def step(self) -> None:
        t0 = time.perf_counter()
        queries, positives = self.batches[len(self.losses)]
        batch = TextBatch(queries, positives, [], torch.empty(0, dtype=torch.long), 0)
        loss = self.loss_fn(self.embed, batch)
        loss.backward()
        value = loss.item()
        training.optimizer_step(self.optimizer, None, self.params, self.config.max_grad_norm)
        sync(self.device)
        self.times.append(time.perf_counter() - t0)
        self.losses.append(value)


def st_trainer(model, batches: list[Batch], args, device: str, callback, out_dir: str):
    """A SentenceTransformerTrainer over ``batches`` in order (sequential batch sampler), constant lr."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import DefaultBatchSampler
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from torch.utils.data import SequentialSampler

    anchors, positives = [q for b in batches for q in b[0]], [p for b in batches for p in b[1]]
    data = Dataset.from_dict({"anchor": anchors, "positive": positives})

    def sequential(dataset, batch_size, drop_last, **kw):
        return DefaultBatchSampler(SequentialSampler(dataset), batch_size=batch_size, drop_last=drop_last, **kw)

    train_args = SentenceTransformerTrainingArguments(
        output_dir=out_dir, per_device_train_batch_size=args.batch_size, max_steps=len(batches),
        learning_rate=args.lr, lr_scheduler_type="constant", warmup_steps=0, weight_decay=args.weight_decay,
        max_grad_norm=1.0, logging_steps=1, save_strategy="no", report_to="none", seed=args.seed,
        prompts={"anchor": model.prompts["query"], "positive": model.prompts["passage"]},
        batch_sampler=sequential, dataloader_drop_last=True, dataloader_num_workers=0, disable_tqdm=True,
        bf16=args.precision == "bf16", use_cpu=device == "cpu",
    )
    return SentenceTransformerTrainer(model=model, args=train_args, train_dataset=data,
                                      loss=MultipleNegativesRankingLoss(model, scale=20.0), callbacks=[callback])


def make_callback(langmix: LangmixRunner, block: int, memory: PeakMemory, peaks: dict[str, list[float]]):
    """ST trainer callback: time ST's steps (end to end, data collation included), run langmix's blocks."""
    from transformers import TrainerCallback

    class Interleave(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.losses: list[float] = []
            self.last = time.perf_counter()

        def on_step_begin(self, args, state, control, **kw):
            if state.global_step % block == 0:
                memory.reset()

        def on_step_end(self, args, state, control, **kw):
            sync(langmix.device)
            self.times.append(time.perf_counter() - self.last)
            if state.global_step % block == 0 or state.global_step == state.max_steps:
                peaks["sentence-transformers"].append(memory.peak_mb())
                memory.reset()
                for _ in range(min(block, len(langmix.training.batches) - len(langmix.training.losses))):
                    langmix.step()
                peaks["langmix"].append(memory.peak_mb())
            self.last = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.losses.append(float(logs["loss"]))

    return Interleave()


def padded_tokens(lengths: list[int], chunk: int) -> int:
    """Tokens a forward computes for texts of ``lengths``: one block padded to the longest (chunk 0), or
    length-sorted chunks of ``chunk`` texts, each padded to its own longest."""
    if chunk <= 0:
        return len(lengths) * max(lengths)
    return sum(len(b) * max(lengths[i] for i in b) for b in encoding.length_batches(lengths, chunk))


def padding_report(q_len: list[list[int]], p_len: list[list[int]], chunk: int) -> dict[str, Any]:
    """Real vs computed tokens over all batches: ST (one padded block per side) vs langmix's chunks."""
    sides = [*q_len, *p_len]
    real = sum(sum(x) for x in sides)
    st, lm = sum(padded_tokens(x, 0) for x in sides), sum(padded_tokens(x, chunk) for x in sides)
    return {"real": real, "padded_st": st, "padded_langmix": lm, "padded_over_real_st": st / real,
            "padded_over_real_langmix": lm / real}


def side_report(times: list[float], args, flops_per_step: list[float], peak: float | None,
                peak_mb: list[float], memory_kind: str) -> dict[str, Any]:
    steady = times[args.warmup_steps :]
    seconds = sum(steady)
    tflops = 3 * sum(flops_per_step[args.warmup_steps : len(times)]) / seconds / 1e12
    return {
        "step_seconds": times,
        "steady_steps": len(steady),
        "pairs_per_s": args.batch_size * len(steady) / seconds,
        "median_step_s": statistics.median(steady),
        "achieved_tflops": tflops,
        "share_of_peak": tflops / peak if peak else None,
        "peak_memory_mb": max(peak_mb) if peak_mb else None,
        "memory_kind": memory_kind,
    }


def add_step_args(parser) -> None:
    """The options of langmix's training step (read by :func:`prepare` and :class:`LangmixRunner`)."""
    add_common_args(parser)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--freeze-embeddings", action="store_true", help="freeze the word embeddings on both sides")
    parser.add_argument("--no-dropout", action="store_true", help="dropout off on both sides (exact loss check)")
    parser.add_argument("--compile", action="store_true",
                        help="langmix side: torch.compile the encoder (model.compile); compile time falls in warm-up")
    parser.add_argument("--embed-chunk", type=int, default=TrainConfig().embed_chunk,
                        help="langmix side: texts per length-sorted forward chunk (0: one padded forward)")
    parser.add_argument("--passage-length", type=int, default=128, help="passage token cap on both sides")
    parser.add_argument("--dense-embedding-grad", action="store_true",
                        help="langmix side: the plain dense word-embedding backward (row_embedding_grad=false)")
    parser.add_argument("--cpu-dropout", choices=CPU_DROPOUTS, default=TrainConfig().cpu_dropout,
                        help="langmix's CPU dropout masks (langmix.training.dropout); the ST side keeps torch's")


def parse_interleaved_args(description: str | None) -> argparse.Namespace:
    """The options of a benchmark that interleaves two training sides in blocks of steps; threads and the
    passage cap applied."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_step_args(parser)
    parser.add_argument("--steps", type=int, default=12, help="steps per side")
    parser.add_argument("--warmup-steps", type=int, default=2, help="first steps of each side left out")
    parser.add_argument("--block", type=int, default=2, help="steps per side before switching sides")
    args = parser.parse_args()
    if args.steps <= args.warmup_steps:
        parser.error("--steps must exceed --warmup-steps")
    setup_threads(args.threads)
    MAX_LENGTH["passage"] = args.passage_length
    return args


def main() -> None:
    args = parse_interleaved_args(__doc__)
    device = resolve_device(args.device)
    batches = xquad_batches(args.batch_size, args.steps, args.seed)

    torch.manual_seed(args.seed)
    st_model, lm_model = load(args.model, device), load(args.model, device)
    for model in (st_model, lm_model):
        prepare(model, args)
    parts = encoding.encoder_parts(lm_model)
    q_len = [[len(r) for r in encoding.tokenize(parts, b[0], lm_model.prompts["query"], 512)] for b in batches]
    p_len = [[len(r) for r in encoding.tokenize(parts, b[1], lm_model.prompts["passage"], args.passage_length)]
             for b in batches]
    config = parts.auto_model.config
    flops = [forward_flops(config, q) + forward_flops(config, p) for q, p in zip(q_len, p_len, strict=True)]

    memory = PeakMemory(device)
    peaks: dict[str, list[float]] = {"sentence-transformers": [], "langmix": []}
    langmix = LangmixRunner(lm_model, batches, args, device)
    callback = make_callback(langmix, args.block, memory, peaks)
    with tempfile.TemporaryDirectory() as out_dir:
        torch.manual_seed(args.seed)
        st_trainer(st_model, batches, args, device, callback, out_dir).train()
    memory.close()

    peak, peak_source = device_peak_tflops(device, args.precision, args.peak_tflops)
    sides = {
        "sentence-transformers": side_report(callback.times, args, flops, peak, peaks["sentence-transformers"],
                                             memory.kind),
        "langmix": side_report(langmix.times, args, flops, peak, peaks["langmix"], memory.kind),
    }
    n = min(20, len(callback.losses), len(langmix.training.losses))
    st_loss, lm_loss = np.array(callback.losses[:n]), np.array(langmix.training.losses[:n])
    rel = np.abs(lm_loss - st_loss) / np.abs(st_loss)
    result = {
        "sides": sides,
        "speedup_langmix_over_st": sides["langmix"]["pairs_per_s"] / sides["sentence-transformers"]["pairs_per_s"],
        "losses": {"sentence-transformers": callback.losses, "langmix": langmix.training.losses,
                   "compared_steps": n, "max_relative_difference": float(rel.max()),
                   "passes_2_percent": bool(rel.max() <= 0.02),
                   "note": "dropout masks differ between the sides" if not args.no_dropout else "dropout off"},
        "tokens": {**padding_report(q_len, p_len, args.embed_chunk),
                   "query_max": int(max(map(max, q_len))), "query_mean": float(np.mean(np.concatenate(q_len))),
                   "passage_mean": float(np.mean(np.concatenate(p_len))),
                   "queries_over_64": int(sum(x > 64 for x in np.concatenate(q_len)))},
        "peak_tflops": {"value": peak, "source": peak_source},
        "trainable_parameters": sum(p.numel() for p in lm_model.parameters() if p.requires_grad),
        "note": "pairs/s over steady-state steps; FLOPs = 3 x forward matmul FLOPs of real (unpadded) tokens; "
                "CPU peak memory is the whole process (both models), the peak within each side's blocks",
    }
    name = f"train-{args.model}-{device}-{args.precision}-b{args.batch_size}"
    name += ("-frozen" if args.freeze_embeddings else "") + ("-nodropout" if args.no_dropout else "")
    name += "-compile" if args.compile else ""
    name += f"-p{args.passage_length}-chunk{args.embed_chunk}" + ("-pcg64" if args.cpu_dropout == "pcg64" else "")
    name += "-dense" if args.dense_embedding_grad else ""
    write_result(name, {**environment(device), "settings": vars(args), **result})
    st_rate, lm_rate = (side["pairs_per_s"] for side in sides.values())
    print(f"ST {st_rate:.2f} pairs/s, langmix {lm_rate:.2f} pairs/s, speed-up {lm_rate / st_rate:.2f}x, "
          f"max loss difference {rel.max():.4f}")


if __name__ == "__main__":
    main()
