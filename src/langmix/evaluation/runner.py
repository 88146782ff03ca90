"""One evaluation run end to end: parse the benchmark spec, encode (cached), score, write the run folder.

Benchmark specs: ``xquad-r``, ``mlqa-r`` (or a folder of LAReQA ``<lang>.json`` files as ``lareqa:PATH``),
``beir:PATH`` and ``miracl:PATH``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from langmix.data.lareqa import BENCHMARKS, LareqaBenchmark, check_candidate_mode, load_lareqa
from langmix.errors import LangmixError
from langmix.evaluation.cache import EmbeddingCache, model_device, model_identity
from langmix.evaluation.debias import parse_debias
from langmix.evaluation.lareqa import (
    LareqaEmbeddings,
    build_layout,
    evaluate_lareqa,
    first_questions,
)
from langmix.evaluation.report import write_run
from langmix.evaluation.results import Result
from langmix.io import atomic_path, check_writable, write_npy
from langmix.precision import precision_name
from langmix.provenance import device_info, versions

PREFIXES = ("lareqa", "beir", "miracl")
EMBEDDINGS = "embeddings"  # run subfolder of --save-embeddings


@dataclass
class BenchmarkSpec:
    kind: str  # "lareqa", "beir" or "miracl"
    target: str  # benchmark name or folder


def parse_benchmark(spec: str) -> BenchmarkSpec:
    if spec in BENCHMARKS:
        return BenchmarkSpec("lareqa", spec)
    prefix, _, rest = spec.partition(":")
    if prefix in PREFIXES and rest:
        return BenchmarkSpec(prefix, rest)
    raise LangmixError(
        f"unknown benchmark '{spec}'", f"use {', '.join(BENCHMARKS)}, lareqa:PATH, beir:PATH or miracl:PATH"
    )


def load_lareqa_spec(
    spec: BenchmarkSpec, languages: str | list[str] | None, limit_questions: int | None
) -> LareqaBenchmark:
    benchmark = load_lareqa(spec.target, languages)
    return first_questions(benchmark, limit_questions) if limit_questions is not None else benchmark


def run_evaluation(
    model_name: str,
    benchmark: str,
    out: str | Path,
    candidates: str = "context",
    languages: str | list[str] | None = None,
    limit_questions: int | None = None,
    save_embeddings: bool = False,
    batch_size: int = 64,
    split: str | None = None,
    index: str = "flat",
    use_cache: bool = True,
    model=None,
    precision: str = "auto",
    debias: str | None = None,
) -> Result:
    """Evaluate ``model_name`` (or an already loaded ``model``) on ``benchmark`` and write ``out``."""
    from langmix.model.load import load_model

    spec, mode, debiasing = parse_benchmark(benchmark), check_candidate_mode(candidates), parse_debias(debias)
    if debiasing is not None and spec.kind != "lareqa":
        raise LangmixError(f"--debias needs a LAReQA benchmark, not {spec.kind}",
                           "drop --debias, or evaluate xquad-r, mlqa-r or lareqa:PATH")
    check_writable(out, folder=True)
    # Load data before the model: bad input fails fast, before minutes of model loading.
    data = (
        load_lareqa_spec(spec, languages, limit_questions)
        if spec.kind == "lareqa"
        else _load_retrieval(spec, split)
    )
    model = model if model is not None else load_model(model_name)
    cache = EmbeddingCache(model_identity(model_name)) if use_cache else None
    meta = {"model": model_name, "benchmark_spec": benchmark, "debias": debias,
            "precision": precision_name(precision, model_device(model)),
            "versions": versions(), "device": device_info()}
    if spec.kind == "lareqa":
        result, embeddings = evaluate_lareqa(model, data, mode, batch_size, cache, True, precision, debiasing)
        meta["limit_questions"] = limit_questions
        if save_embeddings:
            write_lareqa_embeddings(Path(out) / EMBEDDINGS, data, embeddings)
    else:
        from langmix.evaluation.beir import evaluate_retrieval

        result = evaluate_retrieval(model, data, batch_size, index=index, cache=cache, show_progress=True,
                                    precision=precision)
        meta["split"] = split
    if cache is not None:
        meta["embedding_cache"] = {"root": str(cache.root), "hits": cache.hits, "misses": cache.misses}
    if not (save_embeddings and spec.kind == "lareqa"):  # a previous run's embeddings are not this run's
        shutil.rmtree(Path(out) / EMBEDDINGS, ignore_errors=True)
    write_run(out, result, meta)
    return result


def _load_retrieval(spec: BenchmarkSpec, split: str | None):
    from langmix.data.beir import load_beir, load_miracl

    if spec.kind == "beir":
        return load_beir(spec.target, split or "test")
    return load_miracl(spec.target, split or "dev")


def write_lareqa_embeddings(folder: Path, benchmark: LareqaBenchmark, embeddings: LareqaEmbeddings) -> None:
    """queries.npy / candidates.npy plus one JSON line per row naming what the row is."""
    layout = build_layout(benchmark)
    query_rows = [
        {
            "row": r,
            "id": uid,
            "lang": uid.split(":", 1)[0],
            "qid": uid.split(":", 1)[1],
            "relevant_rows": [int(x) for x in layout.relevant[r] if x >= 0],
        }
        for r, uid in enumerate(layout.query_ids)
    ]
    cand_rows = [
        {"row": start + i, "lang": lang, "sentence": i, "paragraph": benchmark.languages[lang].paragraph[i]}
        for lang, (start, end) in zip(layout.langs, layout.segments, strict=True)
        for i in range(end - start)
    ]
    write_npy(folder / "queries.npy", embeddings.queries)
    write_npy(folder / "candidates.npy", embeddings.candidates)
    for name, rows in (("queries.jsonl", query_rows), ("candidates.jsonl", cand_rows)):
        with atomic_path(folder / name) as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def load_lareqa_embeddings(folder: str | Path) -> LareqaEmbeddings:
    """Read back what :func:`write_lareqa_embeddings` wrote (for independent recomputation)."""
    folder = Path(folder)
    return LareqaEmbeddings(np.load(folder / "queries.npy"), np.load(folder / "candidates.npy"), data_hash="")
