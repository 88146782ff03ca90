"""Contrastive training of the shared dual encoder; :func:`train` reads top to bottom like nanoGPT's loop.

One step: the batch sampler chooses (record, query language, passage language) pairs, so the language
make-up of the batch is the experimental variable; the shared encoder embeds queries (``query: ``) and
passages (``passage: ``); :class:`~langmix.training.losses.InfoNCELoss` (or
:class:`~langmix.training.losses.CachedInfoNCE`,
GradCache, with the same call) scores every query against all positives (of all ranks) and the hard
negatives, plus, with ``distill_weight > 0``, the same-language distillation term from a frozen copy of the
starting model (:func:`frozen_copy`); AdamW steps with the learning rate of :func:`learning_rate`.

:func:`set_up` builds a :class:`Run` (corpora and samplers, model, loss, optimiser, evaluator), the loop
keeps its counters in a :class:`LoopState`, and :func:`train_step`, :func:`evaluate`, :func:`write_checkpoint`
and :func:`finish` are the loop's four verbs. The run folder (:mod:`langmix.training.run_folder`) holds the resolved
config, ``versions.json``, ``data.json``, ``train_log.jsonl``, ``checkpoints/`` (complete, atomic, see
:mod:`langmix.training.checkpoint`), ``best-model/`` with a model card and ``loss_curve.png``
(:mod:`langmix.training.report`), and ``metrics.json``.

Under ``torchrun`` each rank takes its slice of the global batch; candidates are gathered across ranks and
gradients averaged, which equals one process training on the global batch.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from langmix import distributed as dist
from langmix.data.loaders import load_corpus
from langmix.data.parallel import Pair, ParallelCorpus, mix
from langmix.errors import LangmixError
from langmix.evaluation.lareqa import dev_evaluator
from langmix.io import write_json
from langmix.model.encoding import embed_sorted, encoder_parts, shortest_useful_length
from langmix.model.load import load_model
from langmix.precision import autocast, precision_name, resolve_precision
from langmix.provenance import device_info
from langmix.training import checkpoint as ckpt
from langmix.training.batches import TextBatch, make_text_batch, rank_slice
from langmix.training.config import TrainConfig, split_weight, to_dict, validate
from langmix.training.dropout import use_pcg64_dropout
from langmix.training.embedding_grad import use_row_gradients, word_embeddings
from langmix.training.losses import CachedInfoNCE, Embed, InfoNCELoss, SameLanguageDistillation
from langmix.training.report import plot_loss_curve, save_best_model
from langmix.training.run_folder import LOG_FILE, check_data, log_row, open_run, truncate_log
from langmix.training.sampling import LanguageBatchSampler, batch_makeup, make_sampler

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
    alpha: float | None = None  # the hybrid sampler's alpha as it ran ("proportional" resolved); None otherwise


@dataclass
class LoopState:
    """Where the loop stands. Saved in every checkpoint as ``loop`` (a plain dict of these fields), so a
    resumed run continues with the same batch, learning rate, best model and patience."""

    step: int = 0  # optimiser steps done
    epoch: int = 0
    batch_in_epoch: int = 0  # sampler batches of this epoch consumed
    best: float | None = None  # selection metric of the best evaluation so far
    best_step: int | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    bad_evals: int = 0  # evaluations since the best one (early-stopping patience)
    history: list[dict[str, Any]] = field(default_factory=list)  # every evaluation's metrics


@dataclass
class TrainingData:
    """The corpora, the sampler of global training batches, the fixed dev batches and the schedule's length."""

    train: ParallelCorpus
    dev: ParallelCorpus
    sampler: LanguageBatchSampler
    dev_batches: list[list[Pair]]
    total_steps: int
    warmup_steps: int


@dataclass
class Run:
    """Everything the loop works with, built once by :func:`set_up`."""

    config: TrainConfig
    out_dir: Path
    env: dist.DistEnv
    data: TrainingData
    model: Any  # a SentenceTransformer, trained in place
    loss_fn: InfoNCELoss  # or CachedInfoNCE: the same call, loss_fn(embed, batch)
    optimizer: torch.optim.AdamW
    scaler: torch.amp.GradScaler | None  # fp16 only
    params: list[Tensor]  # the trained parameters
    embed: Embed  # texts -> (n, d) embeddings with autograd, under the run's precision
    evaluator: Evaluator | None
    metric: str  # the dev metric that selects the best model
    higher_is_better: bool  # whether a larger value of the metric is better (mAP: yes; a dev loss: no)


# ---------------------------------------------------------------------------------------------- the loop
def train(
    config: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    evaluator: Evaluator | None = None,
    model=None,
    allow_changed: Sequence[str] = (),
) -> TrainResult:
    """Train the shared encoder with ``config``; write everything to ``out_dir``; return the outcome.

    ``resume`` continues from the newest complete checkpoint in ``out_dir``; the config must match, except the
    settings named in ``allow_changed`` (among :data:`~langmix.training.run_folder.RESUME_CHANGEABLE`: lr and schedule,
    e.g. to resume a run that diverged with a lower lr).
    ``evaluator(model) -> dict`` adds dev metrics (e.g. LAReQA mAP) at every evaluation; its
    ``primary_metric`` then selects the best model unless ``config.selection_metric`` says otherwise.
    ``model`` is an already loaded ``SentenceTransformer`` to train in place instead of loading
    ``config.model.name`` (saves the tokenizer load in notebooks and tests; pass a fresh copy).
    """
    run, start = set_up(config, Path(out_dir), resume, evaluator, model, allow_changed)
    state = resume_from(run, start) if start is not None else LoopState()
    data, stopped_early = run.data, False
    # leave=None: the bar stays on screen unless it sits under another one (langmix reproduce's cells)
    bar = tqdm(total=data.total_steps, initial=state.step, desc="train", leave=None, disable=not run.env.is_main)
    if config.eval_on_start and state.step == 0:
        dev_metrics(run, state)  # the dev curve's starting point only: not a candidate for the best model
    while state.step < data.total_steps and not stopped_early:
        # epochs of sampler batches; a resumed run skips the batches of its epoch already done
        data.sampler.set_epoch(state.epoch)
        batches = itertools.islice(iter(data.sampler), state.batch_in_epoch, None)
        for consumed, pairs in enumerate(batches, start=state.batch_in_epoch + 1):
            state.batch_in_epoch = consumed
            t0 = time.perf_counter()
            lr = learning_rate(state.step, config.lr, data.warmup_steps, data.total_steps)
            losses = train_step(run, pairs, lr, state.step)
            state.step += 1
            bar.update(1)
            if state.step % config.log_every == 0:
                log_row(run.out_dir, step_row(state, losses, lr, pairs, t0), run.env)
            done = state.step >= data.total_steps
            evaluating = state.step % config.eval_every == 0 or done
            if evaluating or state.step % config.checkpoint_every == 0:
                check_weights(run, state.step)  # no inf/nan is evaluated, saved as the best model or checkpointed
            if evaluating:
                stopped_early = evaluate(run, state)
            if state.step % config.checkpoint_every == 0 or done or stopped_early:
                write_checkpoint(run, state)
            if done or stopped_early:
                break
        else:  # epoch exhausted: the next one starts from its first batch
            state.epoch += 1
            state.batch_in_epoch = 0
    bar.close()
    return finish(run, state, stopped_early)


# ---------------------------------------------------------------------------------------------- set-up
def set_up(
    config: TrainConfig, out_dir: Path, resume: bool, evaluator: Evaluator | None, model=None,
    allow_changed: Sequence[str] = (),
) -> tuple[Run, Path | None]:
    """The run and the checkpoint to resume from (None: a new run).

    Order matters for reproducibility: the torch RNG is seeded first, so whatever draws from it while the
    model is built (before a resume restores the saved RNG states) draws the same numbers on every start.
    """
    validate(config)  # a TrainConfig built in Python has not been through load_config
    env = dist.init_distributed(config.device)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed + env.rank)
    start = open_run(out_dir, config, resume, env, allow_changed)
    dtype = resolve_precision(config.precision, env.device)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None  # only fp16 needs scaling
    data = load_data(config, out_dir, start is not None, env)
    if evaluator is None and config.data.dev_benchmark:
        evaluator = dev_evaluator(config.data.dev_benchmark, [r.id for r in data.dev.records],
                                  config.data.dev_candidates, config.data.languages, config.precision)
    model = load_model(config.model.name, device=env.device) if model is None else model.to(env.device)
    teacher = frozen_copy(model) if config.distill_weight > 0 else None  # before prepare_model changes the model
    model = prepare_model(config, env.device, model)
    check_lengths(model, config)
    loss_fn = make_loss(config, env.device, dtype, teacher)
    optimizer = make_optimizer(model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    metric, higher_is_better = selection(config, evaluator)
    embed_fn = make_embed(model, config, env.device, dtype)
    return Run(config, out_dir, env, data, model, loss_fn, optimizer, scaler, params, embed_fn, evaluator, metric,
               higher_is_better), start


def load_data(config: TrainConfig, out_dir: Path, resuming: bool, env: dist.DistEnv) -> TrainingData:
    """Corpora (checked against the run's data fingerprint), samplers of global batches, fixed dev batches."""
    if config.batch_size % env.world_size:
        raise LangmixError(
            f"batch_size {config.batch_size} is not divisible by {env.world_size} processes",
            "choose a batch size that is a multiple of the number of processes",
        )
    train_corpus, dev_corpus = load_training_data(config)
    check_data(out_dir, train_corpus, dev_corpus, resuming, env)
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
    return TrainingData(train_corpus, dev_corpus, sampler, dev_batches, total_steps,
                        int(config.warmup_ratio * total_steps))


def prepare_model(config: TrainConfig, device: str, model):
    """``model`` (on ``device``) made the encoder to train, in train mode: word embeddings frozen or given row
    gradients, PCG64 dropout (CPU) and the forward compiled as the config says."""
    if config.model.freeze_embeddings:
        freeze_word_embeddings(model)
    elif config.row_embedding_grad and not config.model.compile:  # dynamo and sparse gradients: not tried
        use_row_gradients(model)
    if config.cpu_dropout == "pcg64":
        use_pcg64_dropout(model)
    if config.model.compile:
        compile_encoder(model)
    model.train()
    return model


def frozen_copy(model):
    """The distillation teacher: a copy of the starting model in eval mode (no dropout), nothing trained.

    :func:`set_up` makes it from the model as loaded (or as passed to :func:`train`), before a resume loads
    a checkpoint into the model: a resumed run gets the starting model again, so the teacher is never
    checkpointed. It costs a second copy of the weights in memory and one forward without autograd per step.
    """
    teacher = copy.deepcopy(model).eval()
    teacher.requires_grad_(False)
    return teacher


def make_loss(config: TrainConfig, device: str, dtype: torch.dtype | None, teacher=None) -> InfoNCELoss:
    """InfoNCE (GradCache when ``grad_cache_chunk > 0``), plus the same-language distillation term from
    ``teacher`` (embedding under the run's precision) when there is one."""
    distill = None
    if teacher is not None:
        temperature = config.temperature if config.distill_temperature is None else config.distill_temperature
        distill = SameLanguageDistillation(make_embed(teacher, config, device, dtype), config.distill_weight,
                                           temperature)
    if config.grad_cache_chunk > 0:
        return CachedInfoNCE(config.temperature, config.symmetric, config.grad_cache_chunk, device, distill)
    return InfoNCELoss(config.temperature, config.symmetric, distill)


def make_embed(model, config: TrainConfig, device: str, dtype: torch.dtype | None) -> Embed:
    """``embed(texts, kind)``: :func:`embed` under the run's autocast, texts truncated at their side's length."""
    max_length = {"query": config.model.max_query_length, "passage": config.model.max_passage_length}

    def embed_fn(texts: Sequence[str], kind: str) -> Tensor:
        with autocast(device, dtype):
            return embed(model, texts, kind, max_length[kind], device, config.embed_chunk)

    return embed_fn


def check_lengths(model, config: TrainConfig) -> None:
    """Refuse a query or passage length that keeps no text (every text would embed alike) or exceeds the model's."""
    tokenizer, longest = getattr(model, "tokenizer", None), getattr(model, "max_seq_length", None)
    if tokenizer is None:  # a test double: nothing to measure
        return
    for kind, key in (("query", "max_query_length"), ("passage", "max_passage_length")):
        value, prompt = getattr(config.model, key), model.prompts.get(kind) or ""
        shortest = shortest_useful_length(tokenizer, prompt)
        if value < shortest:
            raise LangmixError(
                f"model.{key}={value} keeps no {kind} text: the special tokens and the prompt {prompt!r} take "
                f"{shortest - 1} tokens", f"set model.{key} to {shortest} or more")
        if longest and value > longest:
            raise LangmixError(f"model.{key}={value} is longer than the model's {longest} positions",
                               f"set model.{key} to {longest} or less")


def resume_from(run: Run, path: Path) -> LoopState:
    """Weights, optimiser, scaler, sampler, loop counters and RNG states of the checkpoint at ``path``; the
    log lines written after it are dropped."""
    saved = ckpt.load_checkpoint(path)
    run.model.load_state_dict(saved["model"])
    run.optimizer.load_state_dict(saved["optimizer"])
    if run.scaler is not None and saved.get("scaler"):
        run.scaler.load_state_dict(saved["scaler"])
    run.data.sampler.load_state_dict(saved["sampler"])
    state = LoopState(**saved["loop"])
    rng = saved["rng"]
    ckpt.set_rng_state(rng[run.env.rank] if run.env.rank < len(rng) else rng[0])
    truncate_log(run.out_dir / LOG_FILE, state.step, run.env)
    return state


# ---------------------------------------------------------------------------------------------- step, evaluation
def train_step(run: Run, pairs: list[Pair], lr: float, step: int) -> dict[str, float]:
    """One optimiser step on the global batch ``pairs`` at learning rate ``lr``; the loss averaged over ranks
    (``loss``), with distillation also its two terms (``info_nce``, ``distill``).

    Plain and GradCache loss take the same path: ``loss_fn(embed, batch)``, then one backward.
    """
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    batch = make_text_batch(run.data.train, rank_slice(pairs, run.env), run.config.data.hard_negatives)
    # fp16: GradScaler's factor (scale() of a 1 also initialises it, which unscale_ requires)
    scale = run.scaler.scale(torch.ones((), device=run.env.device)).item() if run.scaler is not None else 1.0
    loss = run.loss_fn(run.embed, batch)
    (loss * scale).backward()
    # .item() syncs with the device once per step; we need the value for the NaN check anyway
    loss_value = dist.all_reduce_mean(loss.item())
    if not math.isfinite(loss_value):  # the weights after `step` steps gave it
        raise diverged(run, f"loss became {loss_value} at step {step + 1}", step)
    dist.average_gradients(run.params)
    optimizer_step(run.optimizer, run.scaler, run.params, run.config.max_grad_norm)
    return {"loss": loss_value, **{key: dist.all_reduce_mean(term.item()) for key, term in run.loss_fn.terms.items()}}


def check_weights(run: Run, step: int) -> None:
    """Fail as :func:`diverged` if the weights or the optimiser state after ``step`` steps hold inf/nan (a huge lr
    can get there while the loss of the step, computed before the update, was still finite)."""
    bad = ckpt.nonfinite_tensors({"model": run.model.state_dict(), "optimizer": run.optimizer.state_dict()})
    if bad:
        raise diverged(run, f"the weights became inf/nan at step {step} ({len(bad)} tensors, e.g. {bad[0]})", step)


def diverged(run: Run, problem: str, first_bad: int) -> LangmixError:
    """The error of a run whose loss or weights turned inf/nan, naming a checkpoint that can be resumed.

    A step's loss depends only on the weights before it (with the batch and RNG a resume restores), so the
    checkpoints from step ``first_bad`` on would diverge again whatever the lr: they are moved aside
    (:func:`langmix.training.checkpoint.set_aside`) and ``--resume`` takes the last good one.
    """
    moved = ckpt.set_aside(run.out_dir, first_bad) if run.env.is_main else []
    dist.barrier()
    last = ckpt.latest_checkpoint(run.out_dir)
    aside = f" (moved aside: {', '.join(p.name for p in moved)}, whose weights lead to it)" if moved else ""
    lower = f"--override lr={run.config.lr / 10:.3g}"
    fix = (f"resume with a lower lr: add --resume --allow-changed lr {lower} to the same langmix train command"
           if last is not None else f"rerun the same langmix train command with a lower lr, e.g. {lower}")
    if run.scaler is not None:
        fix += " (or train in precision=bf16 or fp32, into a new --out: fp16 overflows easily)"
    return LangmixError(f"{problem}; last good checkpoint: {last or 'none'}{aside}", fix)


def step_row(state: LoopState, losses: dict[str, float], lr: float, pairs: list[Pair], t0: float) -> dict[str, Any]:
    """The log line of a training step: loss (and its terms), learning rate, the batch's language make-up,
    seconds."""
    return {
        "event": "train",
        "step": state.step,
        "epoch": state.epoch,
        **losses,
        "lr": lr,
        **batch_makeup(pairs),
        "seconds": round(time.perf_counter() - t0, 4),
    }


def evaluate(run: Run, state: LoopState) -> bool:
    """Dev metrics; save the best model; True once patience is used up."""
    metrics = dev_metrics(run, state)
    if _is_better(metrics[run.metric], state.best, run.higher_is_better):
        state.best, state.best_step, state.best_metrics, state.bad_evals = metrics[run.metric], state.step, metrics, 0
        if run.env.is_main:
            save_best_model(run.model, run.out_dir / "best-model", run.config, metrics, state.step, run.metric)
        dist.barrier()
    else:
        state.bad_evals += 1
    return run.config.patience > 0 and state.bad_evals >= run.config.patience


def dev_metrics(run: Run, state: LoopState) -> dict[str, float]:
    """Dev loss (+ evaluator) of the model as it is now, into the history and the log."""
    metrics = dev_loss(run)
    if run.evaluator is not None:
        run.model.eval()
        extra = run.evaluator(run.model) if run.env.is_main else None
        run.model.train()
        metrics.update(dist.broadcast_object(extra))
    if run.metric not in metrics:
        raise LangmixError(
            f"selection metric '{run.metric}' is not among the dev metrics {sorted(metrics)}",
            "set selection_metric to one of them",
        )
    state.history.append({"step": state.step, **metrics})
    log_row(run.out_dir, {"event": "dev", "step": state.step, **metrics}, run.env)
    return metrics


@torch.no_grad()
def dev_loss(run: Run) -> dict[str, float]:
    """``dev_loss``: the mean InfoNCE over the fixed dev batches (eval mode, so no dropout; plain, never
    GradCache); with distillation also ``dev_distill``, its term's mean, kept apart so that ``dev_loss`` means
    the same in every run. Restores train mode."""
    run.model.eval()
    hard_negatives = run.config.data.hard_negatives
    rows = [dev_row(run, make_text_batch(run.data.dev, rank_slice(pairs, run.env), hard_negatives))
            for pairs in run.data.dev_batches]
    run.model.train()
    return {key: dist.all_reduce_mean(sum(row[key] for row in rows) / len(rows)) for key in rows[0]}


def dev_row(run: Run, batch: TextBatch) -> dict[str, float]:
    """The dev losses of one batch (see :func:`dev_loss`)."""
    loss = run.loss_fn(run.embed, batch)
    terms = run.loss_fn.terms
    if not terms:
        return {"dev_loss": loss.item()}
    return {"dev_loss": terms["info_nce"].item(), "dev_distill": terms["distill"].item()}


def _is_better(value: float, best: float | None, higher_is_better: bool) -> bool:
    return best is None or (value > best if higher_is_better else value < best)


# ---------------------------------------------------------------------------------------------- checkpoint, end
def write_checkpoint(run: Run, state: LoopState) -> None:
    """A complete checkpoint of the run at ``state.step`` (every rank's RNG states; written by rank 0)."""
    rngs = dist.gather_objects(ckpt.rng_state())
    if run.env.is_main:
        ckpt.save_checkpoint(
            run.out_dir,
            state.step,
            {
                "model": run.model.state_dict(),
                "optimizer": run.optimizer.state_dict(),
                "scaler": run.scaler.state_dict() if run.scaler is not None else None,
                "sampler": run.data.sampler.state_dict(),
                "loop": dataclasses.asdict(state),
                "rng": rngs,
                "config": to_dict(run.config),
                "world_size": run.env.world_size,
            },
            keep=run.config.keep_checkpoints,
        )
    dist.barrier()


def finish(run: Run, state: LoopState, stopped_early: bool) -> TrainResult:
    """``metrics.json`` and the loss curve; the outcome."""
    best_dir = run.out_dir / "best-model" if state.best_step is not None else None
    result = TrainResult(run.out_dir, best_dir, run.metric, state.best_step, state.best_metrics, state.step,
                         stopped_early, state.history, getattr(run.data.sampler, "alpha", None))
    if run.env.is_main:
        write_json(
            run.out_dir / "metrics.json",
            {
                "selection_metric": run.metric,
                "best_step": result.best_step,
                "best": result.best_metrics,
                "steps": result.steps,
                "total_steps": run.data.total_steps,
                "stopped_early": stopped_early,
                "alpha": result.alpha,
                "history": result.history,
                "train_records": len(run.data.train),
                "dev_records": len(run.data.dev),
                "precision": precision_name(run.config.precision, run.env.device),
                "device": device_info(),
            },
        )
        plot_loss_curve(run.out_dir / LOG_FILE, run.out_dir / "loss_curve.png")
    dist.barrier()
    return result


# ---------------------------------------------------------------------------------------------- building blocks
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


def embed(model, texts: Sequence[str], kind: str, max_length: int, device: str, chunk_size: int = 0) -> Tensor:
    """(n, d) L2-normalised sentence embeddings with gradients.

    With ``chunk_size > 0`` and a mean-pooled model the texts go through the encoder in length-sorted
    chunks, each padded only to its own longest text (:func:`langmix.model.encoding.embed_sorted`): the same
    embeddings, loss and gradients as one forward padded to the batch's longest text (with dropout off),
    with fewer FLOPs spent on padding. Otherwise one forward through the sentence-transformers modules.
    """
    if chunk_size > 0 and encoder_parts(model) is not None:
        return embed_sorted(model, texts, model.prompts.get(kind) or "", max_length, device, chunk_size)
    features = model.preprocess(list(texts), prompt=model.prompts.get(kind), max_length=max_length)
    features = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in features.items()}
    emb = model(features)["sentence_embedding"]  # (n, d)
    return torch.nn.functional.normalize(emb, dim=-1)


def load_training_data(config: TrainConfig) -> tuple[ParallelCorpus, ParallelCorpus]:
    """(train, dev) corpora: load every ``data.corpus`` spec (``spec@weight`` mixes), then split by id."""
    corpora, weights = [], []
    for item in config.data.corpus:
        spec, weight = split_weight(item)
        corpora.append(load_corpus(spec, config.data.languages))
        weights.append(weight)
    explicit = any(w is not None for w in weights)
    corpus = mix(corpora, [1.0 if w is None else w for w in weights] if explicit else None, config.seed)
    train, dev = corpus.split(config.data.dev_fraction, config.seed)
    if config.data.max_records is not None:
        train = ParallelCorpus(train.records[: config.data.max_records], train.name)
    return train, dev


def freeze_word_embeddings(model) -> int:
    """Stop training the word-embedding matrix; return how many parameters that froze."""
    embedding = word_embeddings(model)
    if embedding is not None:
        embedding.weight.requires_grad_(False)
        return embedding.weight.numel()
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
    """(metric that picks the best model, higher is better)."""
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


def optimizer_step(
    optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None, params: list[Tensor], max_grad_norm: float
) -> None:
    """Unscale (fp16), clip the gradient norm, step (skipped by the scaler on inf/NaN), zero the gradients."""
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
