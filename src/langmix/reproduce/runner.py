"""Running the grid: one cell = train (or not, for zero-shot) + evaluate on the protocol's test set.

Run folder layout::

    results.json                 settings, protocol data info, one record per finished cell, significance
    data/<protocol>/train.jsonl  the training corpus of the protocol (+ data.json: sizes, held-out articles)
    cells/<protocol>/<label>/seed<k>/train/   langmix.training.loop.train output (best model + checkpoints are
                                              deleted after evaluation unless keep_models)
    cells/<protocol>/<label>/seed<k>/eval/    langmix evaluate output: results.json, per_query.json, plots
    report.md, alpha_curve-*.png, heatmap-*.png

Resuming: a cell whose record is in ``results.json`` is never rerun. ``results.json`` is rewritten
atomically after each cell, so a kill leaves it complete up to the last finished cell; an interrupted
training resumes from its newest complete checkpoint; an interrupted evaluation is redone.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from langmix.distributed import cleanup_distributed
from langmix.errors import LangmixError
from langmix.evaluation.cache import EmbeddingCache, model_device, model_identity
from langmix.evaluation.debias import debias_folder, parse_debias
from langmix.evaluation.lareqa import embed_benchmark, score_embeddings
from langmix.evaluation.report import write_run
from langmix.evaluation.results import headline_metrics, result_record
from langmix.io import gzip_file, read_json, run_lock, write_json
from langmix.model.load import load_model
from langmix.model.merge import choose_lambda, dev_map_names, merge_models
from langmix.precision import precision_name
from langmix.provenance import device_info, source_commit, versions
from langmix.reproduce.data import ProtocolData, prepare_protocol
from langmix.reproduce.grid import PROTOCOLS, Cell, build_grid
from langmix.reproduce.report import finalize
from langmix.reproduce.settings import ReproduceSettings
from langmix.training import checkpoint as ckpt
from langmix.training.config import TrainConfig, set_value, validate
from langmix.training.loop import train
from langmix.training.run_dev import run_dev_evaluator

FORMAT = 1
WISE_FT = "wise-ft"  # the derived row of langmix.model.merge's WiSE-FT (settings.wise_ft_rows)


class ResultsStore:
    """``results.json`` of a run: read once, updated in memory, rewritten atomically on every change."""
    def __init__(self, out: Path, settings: ReproduceSettings) -> None:
        self.path = out / "results.json"
        if self.path.is_file():
            self.data = read_json(self.path)
            saved = self.data.get("fingerprint")
            if saved != settings.fingerprint():
                raise LangmixError(
                    f"{out} holds a run made with other settings (fingerprint {saved} vs "
                    f"{settings.fingerprint()})",
                    "rerun with the same model/data/training options, or choose another --out",
                )
        else:
            self.data = {
                "format": FORMAT,
                "fingerprint": settings.fingerprint(),
                "cells": {},
                "protocols": {},
            }
        self.data["settings"] = dataclasses.asdict(settings)

    def done(self, cell: Cell) -> bool:
        return cell.id in self.data["cells"]

    def add_cell(self, record: dict[str, Any]) -> None:
        self.data["cells"][record["id"]] = record
        self.save()

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    def save(self) -> None:
        write_json(self.path, self.data)


def cell_dir(out: Path, cell: Cell) -> Path:
    return out / "cells" / cell.id


def run_protocol_data(settings: ReproduceSettings, protocol: str, out: Path) -> ProtocolData:
    """The training data and test set of ``protocol`` in the run folder ``out`` (built there once, then read)."""
    return prepare_protocol(
        PROTOCOLS[protocol],
        out / "data" / protocol,
        settings.sources,
        settings.max_train_records,
        settings.test_languages,
        settings.test_questions,
        settings.article_test_fraction,
        max_negatives=settings.train_config().data.hard_negatives,
        candidates=settings.train_candidates,
    )


def cell_train_config(base: TrainConfig, cell: Cell, train_path: Path) -> TrainConfig:
    """The shared config with this cell's corpus, strategy, alpha and seed; ``data.dev_benchmark: train``
    becomes the protocol's LAReQA training benchmark (its held-out training questions give the dev mAP)."""
    config = dataclasses.replace(
        base, model=dataclasses.replace(base.model), data=dataclasses.replace(base.data)
    )
    set_value(config, "data.corpus", [f"jsonl:{train_path.resolve()}"])
    set_value(config, "data.languages", None)
    set_value(config, "data.strategy", cell.strategy)
    if cell.alpha is not None:
        set_value(config, "data.alpha", cell.alpha)
    set_value(config, "seed", cell.seed)
    if config.data.dev_benchmark == "train":
        set_value(config, "data.dev_benchmark", PROTOCOLS[cell.protocol].lareqa_train)
    validate(config)
    return config


def train_cell(config: TrainConfig, folder: Path):
    """Train into ``folder``, resuming from its newest complete checkpoint; a run that died before its
    first checkpoint is started again from scratch."""
    resume = ckpt.latest_checkpoint(folder) is not None
    if not resume and folder.exists():
        shutil.rmtree(folder)
    try:
        return train(config, folder, resume=resume)
    finally:
        cleanup_distributed()


def evaluate_cell(
    model,
    model_name: str,
    data: ProtocolData,
    settings: ReproduceSettings,
    folder: Path,
    cache=None,
    debias: list[str] = (),
) -> dict[str, Any]:
    """Evaluate ``model`` on the protocol's test set, write ``folder`` (langmix evaluate layout) and
    return the JSON summary (headline metrics, language-pair mAP). Each ``debias`` spec (e.g. ``lir:1``)
    re-scores the same embeddings after that debiasing into ``eval-<spec>/`` beside ``folder``; its summary
    goes under ``debiased``."""
    if settings.eval_max_seq_length:
        model.max_seq_length = settings.eval_max_seq_length
    embeddings = embed_benchmark(model, data.benchmark, settings.candidates, settings.eval_batch_size, cache,
                                 show_progress=True, precision=settings.eval_precision)
    result = score_embeddings(data.benchmark, embeddings, settings.candidates)
    meta = {
        "model": model_name,
        "benchmark_spec": data.benchmark.name,
        "precision": precision_name(settings.eval_precision, model_device(model)),  # "auto" as resolved here
        "versions": versions(),
        "device": device_info(),
    }
    write_run(folder, result, meta)
    summary = cell_summary(result)
    for spec in debias:
        method = parse_debias(spec)
        debiased = score_embeddings(data.benchmark, embeddings, settings.candidates, method)
        write_run(folder.parent / debias_folder(method.name), debiased, {**meta, "debias": method.name})
        summary.setdefault("debiased", {})[method.name] = cell_summary(debiased)
    return summary


def wise_ft_row(tuned, start, folder: Path, data: ProtocolData, settings: ReproduceSettings) -> dict[str, Any]:
    """WiSE-FT (Wortsman et al. 2022): ``(1 - lambda) x start + lambda x tuned``, lambda picked among
    ``settings.wise_ft_lambdas`` on the cell's own dev questions (never the test set) by ``settings.wise_ft_rule``
    (the metric its training selected on, or the "best of all three" goal: ``choose_lambda``), then scored on the
    test set into ``eval-wise-ft/``; the summary records lambda, the rule and each scored lambda's dev mAP."""
    t0 = time.perf_counter()
    evaluator, metric = run_dev_evaluator(folder / "train")
    lam, rows = choose_lambda(start, tuned, settings.wise_ft_lambdas, evaluator, metric, settings.wise_ft_rule)
    merged = merge_models([start, tuned], [1.0 - lam, lam])
    summary = evaluate_cell(merged, f"wise-ft lambda {lam:g}", data, settings, folder / debias_folder(WISE_FT))
    kept = {metric, *dev_map_names(metric).values()}
    dev = [{key: value for key, value in row.items() if key == "lambda" or key in kept} for row in rows]
    return {**summary, "lambda": lam, "rule": settings.wise_ft_rule, "dev_metric": metric, "dev": dev,
            "seconds": time.perf_counter() - t0}


def cell_summary(result) -> dict[str, Any]:
    """What results.json keeps of one evaluation: headline metrics, language-pair mAP, sizes."""
    record = result_record(result)
    return {
        "metrics": {k: v for k, v in record["metrics"].items() if k in headline_metrics(result)},
        "pair_map": record["pair_map"],
        "languages": result.langs,
        "n_queries": result.info["n_queries"],
        "n_candidates": result.info["n_candidates"],
    }


def run_cell(
    cell: Cell, settings: ReproduceSettings, data: ProtocolData, out: Path, zero_shot_model: Callable[[], Any]
) -> dict[str, Any]:
    """Train + evaluate one cell; return its record (wall times in seconds)."""
    folder = cell_dir(out, cell)
    record: dict[str, Any] = {"id": cell.id, **dataclasses.asdict(cell), "started": time.time()}
    t0 = time.perf_counter()
    if cell.trains:
        config = cell_train_config(settings.train_config(), cell, data.train_path)
        result = train_cell(config, folder / "train")
        record["effective_alpha"] = result.alpha  # the hybrid sampler's, "proportional" resolved on this data
        record["train_seconds"] = time.perf_counter() - t0
        record["train"] = {
            "steps": result.steps,
            "best_step": result.best_step,
            "selection_metric": result.selection_metric,
            "best": result.best_metrics,
            "stopped_early": result.stopped_early,
        }
        if result.best_model_dir is None:
            raise LangmixError(f"cell {cell.id} saved no model", "check the training log in its folder")
        model, model_name, cache = load_model(result.best_model_dir), str(result.best_model_dir), None
    else:
        record["train_seconds"] = 0.0
        model, model_name = zero_shot_model(), settings.model
        cache = EmbeddingCache(f"{model_identity(settings.model)}|max_len={settings.eval_max_seq_length}")
    t1 = time.perf_counter()
    debias = settings.debias if cell.label in settings.debias_rows else []
    record.update(evaluate_cell(model, model_name, data, settings, folder / "eval", cache, debias))
    record["eval_seconds"] = time.perf_counter() - t1
    if cell.trains and cell.label in settings.wise_ft_rows:
        record.setdefault("derived", {})[WISE_FT] = wise_ft_row(model, zero_shot_model(), folder, data, settings)
    record["wall_seconds"] = time.perf_counter() - t0
    record["device"] = device_info()
    record["commit"] = source_commit()
    for per_query in folder.glob("eval*/per_query.json"):  # 2-15 MB each on whole test sets; kept in git
        gzip_file(per_query)
    if cell.trains and not settings.keep_models:  # ~0.5 GB per cell for mE5-small: keep only numbers
        shutil.rmtree(folder / "train" / "best-model", ignore_errors=True)
        shutil.rmtree(ckpt.checkpoint_root(folder / "train"), ignore_errors=True)
    return record


def run_reproduce(settings: ReproduceSettings, out: str | Path, report: bool = True) -> dict[str, Any]:
    """Run every unfinished cell of the grid into ``out``, then write the report; return results.json. The
    folder is locked meanwhile: a second run on it fails with a one-line error instead of racing this one."""
    with run_lock(out):
        return _run_cells(settings, Path(out), report)


def _run_cells(settings: ReproduceSettings, out: Path, report: bool) -> dict[str, Any]:
    start = time.perf_counter()
    cells = build_grid(
        settings.protocols,
        settings.strategies,
        settings.seeds,
        settings.alphas,
        settings.sweep_seeds,
        settings.row_seeds,
        settings.seed_major,
    )
    store = ResultsStore(out, settings)
    store.data.setdefault("versions", versions())
    # every cell asked for so far, so that a narrower invocation (--protocols, --strategies) that runs one part
    # of the grid first neither forgets the rest nor calls the run complete
    store.set("grid", list(dict.fromkeys([*store.data.get("grid", []), *(c.id for c in cells)])))
    todo = [c for c in cells if not store.done(c)]
    protocol_data: dict[str, ProtocolData] = {}
    zero_shot: dict[str, Any] = {}

    def base_model():
        if "model" not in zero_shot:
            zero_shot["model"] = load_model(settings.model)
        return zero_shot["model"]

    for cell in tqdm(todo, desc="reproduce", unit="cell"):
        if cell.protocol not in protocol_data:
            protocol_data[cell.protocol] = run_protocol_data(settings, cell.protocol, out)
            store.data["protocols"][cell.protocol] = protocol_data[cell.protocol].info
        tqdm.write(f"[reproduce] {cell.id}")
        store.add_cell(run_cell(cell, settings, protocol_data[cell.protocol], out, base_model))
        if report and cell is not todo[-1]:  # a long run killed between sessions still has a current report
            finalize(out)
    if todo:
        invocation = {
            "cells_run": len(todo),
            "wall_seconds": time.perf_counter() - start,
            "ended": time.time(),
        }
        store.set("invocations", [*store.data.get("invocations", []), invocation])
    if report:
        finalize(out)
    return store.data
