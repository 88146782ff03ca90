"""``langmix evaluate`` and ``langmix compare``."""

from __future__ import annotations

from pathlib import Path

import typer

from langmix.cli.root import PRECISION_HELP, app
from langmix.model.default import MODEL_NAME


@app.command()
def evaluate(
    benchmark: str = typer.Option(..., help="xquad-r, mlqa-r, lareqa:PATH, beir:PATH or miracl:PATH."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Run folder: results.json, per_query.json, report.md, plots."
    ),
    model: str = typer.Option(MODEL_NAME, help="Model name or path."),
    candidates: str = typer.Option(
        "context", help="LAReQA candidates: 'context' (sentence + paragraph) or 'sentence'."
    ),
    languages: str | None = typer.Option(None, help="Comma-separated LAReQA languages (default: all)."),
    limit_questions: int | None = typer.Option(
        None, min=1, help="Keep the first N question ids (and their paragraphs)."
    ),
    save_embeddings: bool = typer.Option(False, help="Also write embeddings (.npy) with row ids (.jsonl)."),
    batch_size: int = typer.Option(64, min=1, help="Texts per forward pass."),
    split: str | None = typer.Option(None, help="BEIR/MIRACL qrels split (default test / dev)."),
    index: str = typer.Option("flat", help="BEIR/MIRACL faiss index: flat (exact), ivf or hnsw."),
    cache: bool = typer.Option(True, help="Reuse cached embeddings under $LANGMIX_HOME/cache/embeddings."),
    precision: str = typer.Option("auto", help=f"Encoding precision: {PRECISION_HELP}."),
    debias: str | None = typer.Option(
        None,
        help="Training-free language debiasing before scoring (LAReQA only): lir[:K] removes, per language, "
        "the mean and the top-K principal directions of its candidate embeddings (LIR, Yang et al. 2021; "
        "K defaults to 1); center[:S] subtracts S times each language's mean candidate from its candidates "
        "only (S defaults to 1), which leaves mono and cross mAP as they were (up to float32 rounding of near-ties).",
    ),
) -> None:
    """Evaluate a model on LAReQA (mono/cross/multi mAP, rank distance) or a BEIR/MIRACL collection."""
    import torch

    from langmix.evaluation.debias import parse_debias
    from langmix.evaluation.results import headline_metrics
    from langmix.evaluation.runner import run_evaluation
    from langmix.precision import resolve_precision

    # fail before loading data and model
    resolve_precision(precision, "cuda" if torch.cuda.is_available() else "cpu")
    parse_debias(debias)
    result = run_evaluation(
        model,
        benchmark,
        out,
        candidates,
        languages,
        limit_questions,
        save_embeddings,
        batch_size,
        split,
        index,
        use_cache=cache,
        precision=precision,
        debias=debias,
    )
    for key, value in headline_metrics(result).items():
        typer.echo(f"{key}\t{value:.4f}")
    typer.echo(f"wrote {out}/results.json and report.md", err=True)


@app.command()
def compare(
    runs: list[Path] = typer.Argument(
        ..., help="Run folders from 'langmix evaluate'; the first is the baseline."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write comparison.md and comparison.json here."
    ),
    n_resamples: int = typer.Option(10_000, min=1, help="Random sign flips of the randomisation test."),
    seed: int = typer.Option(42, help="Seed of the randomisation test."),
) -> None:
    """Paired Fisher randomisation test per metric on per-query scores; Markdown table on stdout."""
    from langmix.evaluation.compare import compare_runs, comparisons_markdown, comparisons_record
    from langmix.io import check_writable, write_json, write_text

    if out is not None:
        check_writable(out, folder=True)
    comparisons = compare_runs(runs, n_resamples, seed)
    text = comparisons_markdown(comparisons)
    if out is not None:
        write_text(out / "comparison.md", text)
        write_json(out / "comparison.json", comparisons_record(comparisons, n_resamples, seed))
    typer.echo(text)
