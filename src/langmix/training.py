"""Contrastive training of the shared dual encoder; :func:`train` reads top to bottom like nanoGPT's loop.

One step: the batch sampler chooses (record, query language, passage language) pairs, so the language
make-up of the batch is the experimental variable; the shared encoder embeds queries (``query: ``) and
passages (``passage: ``); :class:`~langmix.losses.InfoNCELoss` scores every query against all positives
(of all ranks) and the hard negatives; AdamW steps with the learning rate of :func:`learning_rate`.

The run folder holds ``config.yaml``/``config.json`` (resolved), ``versions.json``, ``data.json`` (content
hash of the training data: a resume on other data is refused), ``train_log.jsonl``
(one line per step: loss, lr, mono share and languages of the batch; one per evaluation),
``checkpoints/`` (complete, atomic, see :mod:`langmix.checkpoint`), ``best-model/`` (sentence-transformers
format with a model card), ``metrics.json`` and ``loss_curve.png``.

Under ``torchrun`` each rank takes its slice of the global batch; candidates are gathered across ranks and
gradients averaged, which equals one process training on the global batch.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from langmix import checkpoint as ckpt
from langmix import distributed as dist
from langmix.config import TrainConfig, dump_yaml, from_dict, to_dict
from langmix.dropout import use_pcg64_dropout
from langmix.encoding import embed_sorted, encoder_parts
from langmix.errors import LangmixError
from langmix.io import atomic_dir, check_writable, read_json, write_json, write_text
from langmix.losses import CachedInfoNCE, InfoNCELoss, scatter_negatives
from langmix.plotting import pyplot, save_png
from langmix.precision import autocast, resolve_precision
from langmix.provenance import versions

Evaluator = Callable[[Any], dict[str, float]]


@dataclass
class TrainResult:
    """What a finished run produced; ``best_metrics`` are the dev numbers of the selected model."""

    out_dir: Path
    best_model_dir: Path | None
    selection_metric: str
    best_step: int | None
    best_metrics: dict[str, float]
    steps: int
    stopped_early: bool
    history: list[dict[str, Any]] = field(default_factory=list)


def learning_rate(step: int, base_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up then linear decay to 0, as a pure function of the 0-based ``step``.

    ``lr(t) = base * (t + 1) / (w + 1)`` for ``t < w``, then ``base * (T - t) / (T - w)`` for ``w <= t < T``,
    and 0 from ``T`` on (``w`` warm-up steps, ``T`` total steps).
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / (warmup_steps + 1)
    if step >= total_steps:
        return 0.0
    return base_lr * (total_steps - step) / (total_steps - warmup_steps)


# ---------------------------------------------------------------------------------------------- batches
@dataclass
class TextBatch:
    """The texts of one (rank-local) batch; hard negatives are flattened with their slot positions."""

    queries: list[str]
    positives: list[str]
    negatives: list[str]
    negative_index: Tensor  # (K,) slot of each real negative in the (B * N) negative block
    negative_slots: int  # B * N


def make_text_batch(corpus, pairs: Sequence, hard_negatives: int) -> TextBatch:
    """Texts for ``pairs`` (sampler output): query in the query language, passages in the passage language."""
    queries, positives, negatives, index = [], [], [], []
    for i, pair in enumerate(pairs):
        record = corpus.records[pair.record]
        queries.append(record.queries[pair.query_lang])
        positives.append(record.passages[pair.passage_lang])
        for j, text in enumerate(record.negatives.get(pair.passage_lang, ())[:hard_negatives]):
            negatives.append(text)
            index.append(i * hard_negatives + j)
    return TextBatch(
        queries, positives, negatives, torch.tensor(index, dtype=torch.long), len(pairs) * hard_negatives
    )


def embed(model, texts: Sequence[str], kind: str, max_length: int, device: str, chunk_size: int = 0) -> Tensor:
    """(n, d) L2-normalised sentence embeddings with gradients.

    With ``chunk_size > 0`` and a mean-pooled model the texts go through the encoder in length-sorted
    chunks, each padded only to its own longest text (:func:`langmix.encoding.embed_sorted`): the same
    embeddings, loss and gradients as one forward padded to the batch's longest text (with dropout off),
    with fewer FLOPs spent on padding. Otherwise one forward through the sentence-transformers modules.
    """
    if chunk_size > 0 and encoder_parts(model) is not None:
        return embed_sorted(model, texts, model.prompts.get(kind) or "", max_length, device, chunk_size)
    features = model.preprocess(list(texts), prompt=model.prompts.get(kind), max_length=max_length)
    features = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in features.items()}
    emb = model(features)["sentence_embedding"]  # (n, d)
    return torch.nn.functional.normalize(emb, dim=-1)


def batch_loss(embed_fn, batch: TextBatch, loss_fn: InfoNCELoss) -> Tensor:
    """InfoNCE of one batch with autograd through the encoder (the plain, non-cached path)."""
    q = embed_fn(batch.queries, "query")  # (B, d)
    p = embed_fn(batch.positives, "passage")  # (B, d)
    n = embed_fn(batch.negatives, "passage") if batch.negatives else None  # (K, d)
    negatives, mask = scatter_negatives(n, batch.negative_index, batch.negative_slots, p)  # (B*N, d), (B*N,)
    return loss_fn(q, p, negatives, mask)


def rank_slice(pairs: list, env: dist.DistEnv) -> list:
    """This rank's contiguous share of the global batch (all ranks get the same size)."""
    per_rank = len(pairs) // env.world_size
    return pairs[env.rank * per_rank : (env.rank + 1) * per_rank]


# ------------------------------------------------------------------------------------------- set-up helpers
def load_training_data(config: TrainConfig):
    """(train, dev) corpora: load every ``data.corpus`` spec (``spec@weight`` mixes), then split by id."""
    from langmix.data.parallel import ParallelCorpus, load_corpus, mix

    corpora, weights = [], []
    for item in config.data.corpus:
        spec, weight = _split_weight(item)
        corpora.append(load_corpus(spec, config.data.languages))
        weights.append(weight)
    explicit = any(w is not None for w in weights)
    corpus = mix(corpora, [1.0 if w is None else w for w in weights] if explicit else None, config.seed)
    train, dev = corpus.split(config.data.dev_fraction, config.seed)
    if config.data.max_records is not None:
        train = ParallelCorpus(train.records[: config.data.max_records], train.name)
    return train, dev


def _split_weight(item: str) -> tuple[str, float | None]:
    spec, sep, tail = item.rpartition("@")
    if not sep:
        return item, None
    try:
        return spec, float(tail)
    except ValueError as err:
        raise LangmixError(f"corpus weight in '{item}' is not a number", "write e.g. ntrex128@0.5") from err


def _autocast(config: TrainConfig, device: str):
    """(context factory, GradScaler or None) of ``config.precision`` (:mod:`langmix.precision`); only fp16
    needs the scaler."""
    dtype = resolve_precision(config.precision, device)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return (lambda: autocast(device, dtype)), scaler


def freeze_word_embeddings(model) -> int:
    """Stop training the word-embedding matrix; return how many parameters that froze."""
    for module in model.modules():
        if hasattr(module, "get_input_embeddings") and module is not model:
            weight = module.get_input_embeddings().weight
            weight.requires_grad_(False)
            return weight.numel()
    raise LangmixError("model has no word-embedding matrix to freeze", "set model.freeze_embeddings=false")


def compile_encoder(model) -> None:
    """``torch.compile`` the Hugging Face encoder's forward in place, with dynamic shapes.

    Only the bound ``forward`` is replaced, so parameter names, ``state_dict`` keys, checkpoints and the
    saved sentence-transformers folder stay exactly as without compilation. With ``dynamic=True`` one
    compilation serves every padded length (batches are padded to their own longest text).
    """
    parts = encoder_parts(model)
    if parts is None:
        raise LangmixError("model.compile needs a Transformer -> mean Pooling model", "set model.compile=false")
    encoder = parts.auto_model
    encoder.forward = torch.compile(encoder.forward, dynamic=True)


def make_optimizer(model, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; biases and LayerNorm weights get no weight decay (as in BERT and sentence-transformers)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # The fused kernel updates all tensors in one pass: same AdamW maths, but on a CPU the default
    # per-tensor loop took ~10 s per step for mE5-small's 118M parameters, against ~0.2 s fused (see
    # benchmarks/README.md); sentence-transformers' trainer uses it too.
    fused = all(p.device.type in ("cpu", "cuda") for group in groups for p in group["params"])
    return torch.optim.AdamW(groups, lr=config.lr, fused=fused or None)


def selection(config: TrainConfig, evaluator: Evaluator | None) -> tuple[str, bool]:
    """(metric that picks the best model, greater is better)."""
    name = config.selection_metric
    if name == "dev_loss" or (name == "auto" and evaluator is None):
        return "dev_loss", False
    if evaluator is None:
        raise LangmixError(
            f"selection_metric '{name}' needs a dev evaluator", "set selection_metric=dev_loss"
        )
    if name == "auto":
        name = getattr(evaluator, "primary_metric", None)
        if not name:
            raise LangmixError(
                "the dev evaluator names no primary_metric", "set selection_metric to one of its keys"
            )
    return name, bool(getattr(evaluator, "greater_is_better", True))


@torch.no_grad()
def dev_loss(
    model,
    embed_fn,
    dev_corpus,
    dev_batches: list[list],
    loss_fn: InfoNCELoss,
    hard_negatives: int,
    env: dist.DistEnv,
) -> float:
    """Mean InfoNCE over the fixed dev batches (eval mode, so no dropout); restores train mode."""
    model.eval()
    losses = [
        batch_loss(
            embed_fn, make_text_batch(dev_corpus, rank_slice(pairs, env), hard_negatives), loss_fn
        ).item()
        for pairs in dev_batches
    ]
    model.train()
    return dist.all_reduce_mean(sum(losses) / len(losses))


def _is_better(value: float, best: float | None, greater: bool) -> bool:
    return best is None or (value > best if greater else value < best)


# ---------------------------------------------------------------------------------------------- the loop
def train(
    config: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    evaluator: Evaluator | None = None,
    model=None,
) -> TrainResult:
    """Train the shared encoder with ``config``; write everything to ``out_dir``; return the outcome.

    ``resume`` continues from the newest complete checkpoint in ``out_dir`` (the config must match).
    ``evaluator(model) -> dict`` adds dev metrics (e.g. LAReQA mAP) at every evaluation; its
    ``primary_metric`` then selects the best model unless ``config.selection_metric`` says otherwise.
    ``model`` is an already loaded ``SentenceTransformer`` to train in place instead of loading
    ``config.model.name`` (saves the tokenizer load in notebooks and tests; pass a fresh copy).
    """
    from langmix.model import load_model
    from langmix.sampling import make_sampler

    # ---- setup: processes, threads, seeds, output folder
    out_dir = Path(out_dir)
    env = dist.init_distributed(config.device)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed + env.rank)
    start = _open_run(out_dir, config, resume, env)
    autocast, scaler = _autocast(config, env.device)

    # ---- data: corpora, samplers (global batches), fixed dev batches
    if config.batch_size % env.world_size:
        raise LangmixError(
            f"batch_size {config.batch_size} is not divisible by {env.world_size} processes",
            "choose a batch size that is a multiple of the number of processes",
        )
    train_corpus, dev_corpus = load_training_data(config)
    _check_data(out_dir, train_corpus, dev_corpus, start is not None, env)
    if evaluator is None and config.data.dev_benchmark:
        from langmix.evaluation.lareqa import dev_evaluator

        evaluator = dev_evaluator(config.data.dev_benchmark, [r.id for r in dev_corpus.records],
                                  config.data.dev_candidates, config.data.languages, config.precision)
    sampler = make_sampler(
        config.data.strategy, train_corpus, config.batch_size, seed=config.seed, alpha=config.data.alpha
    )
    dev_size = min(config.batch_size, len(dev_corpus)) // env.world_size * env.world_size
    dev_sampler = make_sampler(
        config.data.strategy, dev_corpus, dev_size, seed=config.seed, alpha=config.data.alpha
    )
    dev_batches = list(itertools.islice(iter(dev_sampler), config.data.dev_batches))
    total_steps = config.epochs * len(sampler)
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    warmup_steps = int(config.warmup_ratio * total_steps)

    # ---- model, loss, optimiser
    model = load_model(config.model.name, device=env.device) if model is None else model.to(env.device)
    if config.model.freeze_embeddings:
        freeze_word_embeddings(model)
    if config.cpu_dropout == "pcg64":
        use_pcg64_dropout(model)
    if config.model.compile:
        compile_encoder(model)
    model.train()
    loss_fn = InfoNCELoss(config.temperature, config.symmetric)
    cached = CachedInfoNCE(loss_fn, config.grad_cache_chunk) if config.grad_cache_chunk > 0 else None
    optimizer = make_optimizer(model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    max_length = {"query": config.model.max_query_length, "passage": config.model.max_passage_length}

    def embed_fn(texts: Sequence[str], kind: str) -> Tensor:
        with autocast():
            return embed(model, texts, kind, max_length[kind], env.device, config.embed_chunk)

    metric_name, greater = selection(config, evaluator)
    state = {
        "step": 0,
        "epoch": 0,
        "batch_in_epoch": 0,
        "best": None,
        "best_step": None,
        "best_metrics": {},
        "bad_evals": 0,
        "history": [],
    }
    if start is not None:  # resume: weights, optimiser, scaler, loop counters, sampler and RNG states
        saved = ckpt.load_checkpoint(start)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scaler is not None and saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        sampler.load_state_dict(saved["sampler"])
        state.update(saved["loop"])
        rng = saved["rng"]
        ckpt.set_rng_state(rng[env.rank] if env.rank < len(rng) else rng[0])
        _truncate_log(out_dir / "train_log.jsonl", state["step"], env)

    def save_checkpoint() -> None:
        rngs = _gather_objects(ckpt.rng_state())
        if env.is_main:
            ckpt.save_checkpoint(
                out_dir,
                state["step"],
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scaler": scaler.state_dict() if scaler is not None else None,
                    "sampler": sampler.state_dict(),
                    "loop": dict(state),
                    "rng": rngs,
                    "config": to_dict(config),
                    "world_size": env.world_size,
                },
                keep=config.keep_checkpoints,
            )
        dist.barrier()

    def evaluate() -> bool:
        """Dev loss (+ evaluator); save the best model; return True when patience is used up."""
        metrics = {
            "dev_loss": dev_loss(
                model, embed_fn, dev_corpus, dev_batches, loss_fn, config.data.hard_negatives, env
            )
        }
        if evaluator is not None:
            model.eval()
            extra = evaluator(model) if env.is_main else None
            model.train()
            metrics.update(dist.broadcast_object(extra))
        if metric_name not in metrics:
            raise LangmixError(
                f"selection metric '{metric_name}' is not among the dev metrics {sorted(metrics)}",
                "set selection_metric to one of them",
            )
        state["history"].append({"step": state["step"], **metrics})
        _log(out_dir, {"event": "dev", "step": state["step"], **metrics}, env)
        if _is_better(metrics[metric_name], state["best"], greater):
            state.update(
                best=metrics[metric_name], best_step=state["step"], best_metrics=metrics, bad_evals=0
            )
            if env.is_main:
                save_best_model(model, out_dir / "best-model", config, metrics, state["step"], metric_name)
            dist.barrier()
        else:
            state["bad_evals"] += 1
        return config.patience > 0 and state["bad_evals"] >= config.patience

    # ---- the loop: epochs of sampler batches, resuming mid-epoch by skipping the batches already done
    stopped_early = False
    bar = tqdm(total=total_steps, initial=state["step"], desc="train", disable=not env.is_main)
    while state["step"] < total_steps and not stopped_early:
        sampler.set_epoch(state["epoch"])
        batches = itertools.islice(iter(sampler), state["batch_in_epoch"], None)
        for consumed, pairs in enumerate(batches, start=state["batch_in_epoch"] + 1):
            state["batch_in_epoch"] = consumed
            t0 = time.perf_counter()
            lr = learning_rate(state["step"], config.lr, warmup_steps, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = make_text_batch(train_corpus, rank_slice(pairs, env), config.data.hard_negatives)
            # fp16: GradScaler's factor (scale() of a 1 also initialises it, which unscale_ requires)
            loss_scale = scaler.scale(torch.ones((), device=env.device)).item() if scaler is not None else 1.0
            if cached is not None:
                loss = cached.backward(
                    embed_fn,
                    batch.queries,
                    batch.positives,
                    batch.negatives,
                    batch.negative_index,
                    batch.negative_slots,
                    loss_scale,
                )
            else:
                loss = batch_loss(embed_fn, batch, loss_fn)
                (loss * loss_scale).backward()
            # .item() syncs with the device once per step; we need the value for the NaN check anyway
            loss_value = dist.all_reduce_mean(loss.item())
            if not math.isfinite(loss_value):
                last = ckpt.latest_checkpoint(out_dir)
                raise LangmixError(
                    f"loss became {loss_value} at step {state['step'] + 1}; last good checkpoint: "
                    f"{last or 'none'}",
                    "lower lr or use precision=fp32/bf16, then rerun with --resume",
                )
            dist.average_gradients(params)
            _optimizer_step(optimizer, scaler, params, config.max_grad_norm)
            state["step"] += 1
            bar.update(1)
            if state["step"] % config.log_every == 0:
                _log(
                    out_dir,
                    {
                        "event": "train",
                        "step": state["step"],
                        "epoch": state["epoch"],
                        "loss": loss_value,
                        "lr": lr,
                        **_makeup(pairs),
                        "seconds": round(time.perf_counter() - t0, 4),
                    },
                    env,
                )
            done = state["step"] >= total_steps
            if state["step"] % config.eval_every == 0 or done:
                stopped_early = evaluate()
            if state["step"] % config.checkpoint_every == 0 or done or stopped_early:
                save_checkpoint()
            if done or stopped_early:
                break
        else:  # epoch exhausted: the next one starts from its first batch
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
    bar.close()

    # ---- teardown: metrics, loss curve
    result = TrainResult(
        out_dir,
        out_dir / "best-model" if state["best_step"] is not None else None,
        metric_name,
        state["best_step"],
        state["best_metrics"],
        state["step"],
        stopped_early,
        state["history"],
    )
    if env.is_main:
        write_json(
            out_dir / "metrics.json",
            {
                "selection_metric": metric_name,
                "best_step": result.best_step,
                "best": result.best_metrics,
                "steps": result.steps,
                "total_steps": total_steps,
                "stopped_early": stopped_early,
                "history": result.history,
                "train_records": len(train_corpus),
                "dev_records": len(dev_corpus),
            },
        )
        plot_loss_curve(out_dir / "train_log.jsonl", out_dir / "loss_curve.png")
    dist.barrier()
    return result


def _optimizer_step(optimizer, scaler, params: list[Tensor], max_grad_norm: float) -> None:
    if scaler is not None:
        scaler.unscale_(optimizer)
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _makeup(pairs: list) -> dict[str, Any]:
    """Language make-up of the global batch: share of mono pairs and counts per (query, passage) language."""
    mono = sum(p.query_lang == p.passage_lang for p in pairs)
    counts: dict[str, int] = {}
    for p in pairs:
        key = f"{p.query_lang}-{p.passage_lang}"
        counts[key] = counts.get(key, 0) + 1
    langs = sorted({p.query_lang for p in pairs} | {p.passage_lang for p in pairs})
    return {
        "mono_share": mono / len(pairs),
        "cross_share": 1 - mono / len(pairs),
        "languages": langs,
        "pair_counts": dict(sorted(counts.items())),
    }


# ---------------------------------------------------------------------------------------------- run folder
DATA_FILE = "data.json"
LEFTOVERS = ("train_log.jsonl", "loss_curve.png", DATA_FILE, "best-model")  # of a run without a checkpoint


def _open_run(out_dir: Path, config: TrainConfig, resume: bool, env: dist.DistEnv) -> Path | None:
    """Check the folder against ``resume``; write config and versions; return the checkpoint to resume.

    A started run without a complete checkpoint (killed, or out of disk, before its first one) holds
    nothing to resume: with or without ``resume`` it starts again from step 0.
    """
    check_writable(out_dir, folder=True)
    latest = ckpt.latest_checkpoint(out_dir)
    started = (out_dir / "config.json").is_file()
    if latest is None and (out_dir / "metrics.json").is_file():
        raise LangmixError(f"run folder {out_dir} holds a finished run without checkpoints", "pick another --out")
    if latest is None and resume and not started:
        raise LangmixError(f"no complete checkpoint in {out_dir}", "start the run without --resume")
    if latest is not None and not resume:
        raise LangmixError(
            f"run folder {out_dir} already holds a run", "pass --resume to continue it or pick another --out"
        )
    if latest is not None:
        # through from_dict, so a setting added to langmix since the run was saved compares as its default
        saved = to_dict(from_dict(read_json(out_dir / "config.json")))
        differing = _diff(saved, to_dict(config))
        if differing:
            raise LangmixError(
                f"config differs from the checkpointed run in {', '.join(differing)}",
                "resume with the same config file and overrides, or train into a new --out",
            )
        return latest
    if env.is_main:
        if started:
            print(f"langmix: {out_dir} holds no complete checkpoint; starting its run from step 0", file=sys.stderr)
        _remove_leftovers(out_dir)
        write_text(out_dir / "config.yaml", dump_yaml(config))
        write_json(out_dir / "config.json", to_dict(config))
        write_json(out_dir / "versions.json", versions())
    dist.barrier()
    return None


def _remove_leftovers(out_dir: Path) -> None:
    for name in LEFTOVERS:
        path = out_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _check_data(out_dir: Path, train_corpus, dev_corpus, resuming: bool, env: dist.DistEnv) -> None:
    """Store the content hash of the training data in a new run; refuse to resume a run on other data.

    A run saved before langmix stored the hash has none to compare: it gets the current one.
    """
    found = {
        "fingerprint": hashlib.sha256(f"{train_corpus.fingerprint()}:{dev_corpus.fingerprint()}".encode()).hexdigest(),
        "train_records": len(train_corpus),
        "dev_records": len(dev_corpus),
    }
    path = out_dir / DATA_FILE
    saved = read_json(path) if resuming and path.is_file() else None
    if saved is not None and saved.get("fingerprint") != found["fingerprint"]:
        raise LangmixError(
            f"the training data differ from those the run in {out_dir} was trained on (now "
            f"{found['train_records']} train / {found['dev_records']} dev records, then "
            f"{saved.get('train_records')} / {saved.get('dev_records')}; or their texts changed)",
            "restore the original data, or train into a new --out without --resume",
        )
    if saved is None and env.is_main:
        write_json(path, found)
    dist.barrier()


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for key in keys:
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            out += _diff(a[key], b[key], f"{prefix}{key}.")
        elif a.get(key) != b.get(key):
            out.append(f"{prefix}{key}")
    return out


def _log(out_dir: Path, row: dict[str, Any], env: dist.DistEnv) -> None:
    if env.is_main:
        with open(out_dir / "train_log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


def _truncate_log(path: Path, step: int, env: dist.DistEnv) -> None:
    """Drop log lines written after the checkpoint we resume from (and a torn last line)."""
    if not env.is_main or not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("step", 0) <= step:
            kept.append(line)
    write_text(path, "".join(f"{line}\n" for line in kept))


def _gather_objects(obj: Any) -> list[Any]:
    if not dist.is_distributed():
        return [obj]
    import torch.distributed as tdist

    out: list[Any] = [None] * tdist.get_world_size()
    tdist.all_gather_object(out, obj)
    return out


def read_log(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def plot_loss_curve(log_path: Path, png_path: Path) -> None:
    """Training loss per step and dev loss per evaluation, as a PNG (matplotlib Agg, no display needed)."""
    plt = pyplot()
    rows = read_log(log_path) if log_path.exists() else []
    train_rows = [r for r in rows if r.get("event") == "train"]
    dev_rows = [r for r in rows if r.get("event") == "dev"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["step"] for r in train_rows], [r["loss"] for r in train_rows], label="train loss", lw=0.8)
    ax.plot([r["step"] for r in dev_rows], [r["dev_loss"] for r in dev_rows], "o-", label="dev loss")
    ax.set_xlabel("step")
    ax.set_ylabel("InfoNCE loss")
    ax.legend()
    fig.tight_layout()
    save_png(fig, png_path, dpi=100)


# ---------------------------------------------------------------------------------------------- best model
def save_best_model(
    model, folder: Path, config: TrainConfig, metrics: dict[str, float], step: int, metric_name: str
) -> None:
    """Save in sentence-transformers format (atomically) with a card stating data, strategy, dev numbers."""
    with atomic_dir(folder) as tmp:
        model.save(str(tmp))
        (tmp / "README.md").write_text(model_card(config, metrics, step, metric_name), encoding="utf-8")


def model_card(config: TrainConfig, metrics: dict[str, float], step: int, metric_name: str) -> str:
    data = config.data
    alpha = f"{data.alpha}" if data.strategy == "hybrid" else "n/a (not hybrid)"
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(metrics.items()))
    return f"""---
library_name: sentence-transformers
tags: [sentence-transformers, langmix, multilingual, dense-retrieval]
---

# langmix retriever ({data.strategy})

Shared dual encoder fine-tuned from `{config.model.name}` with contrastive InfoNCE (temperature
{config.temperature}) with langmix; the checkpoint of step {step} was selected on dev `{metric_name}`.

| setting | value |
|---|---|
| training data | {", ".join(data.corpus)} |
| languages | {", ".join(data.languages) if data.languages else "all of the data"} |
| batch strategy | {data.strategy} |
| alpha | {alpha} |
| seed | {config.seed} |
| batch size / lr / weight decay | {config.batch_size} / {config.lr} / {config.weight_decay} |
| hard negatives per query | {data.hard_negatives} |
| dev split | {data.dev_fraction} of record ids |

## Dev numbers at the selected step

| metric | value |
|---|---|
{rows}

Use with prompts `query: ` and `passage: ` (stored in the model's prompts):
`model.encode(texts, prompt_name="query")`.
"""
