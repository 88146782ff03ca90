"""``langmix index`` and ``langmix search``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from langmix.cli.root import app
from langmix.model.default import MODEL_NAME

SNIPPET_CHARS = 100


@app.command()
def index(
    source: str = typer.Argument(..., help="JSONL (id, text, lang, title), TSV, a BEIR folder, or xquad-r / mlqa-r "
                                           "/ lareqa:FOLDER (the benchmark's candidates)."),
    out: Path = typer.Option(..., "--out", "-o", help="Index folder to write (replaced if it holds an index)."),
    model: str = typer.Option(MODEL_NAME, help="Model name or path."),
    kind: str = typer.Option("flat", "--index", help="flat (exact inner product), or ivf / hnsw (approximate, for "
                                                    "collections past about a million passages)."),
    candidates: str | None = typer.Option(
        None, help="LAReQA candidates: 'sentence' (default) or 'context' (+ paragraph); for a benchmark only."),
    lang: str | None = typer.Option(None, help="Language of passages that name none (default und); for a file only."),
    batch_size: int = typer.Option(64, min=1, help="Passages per forward pass."),
) -> None:
    """Encode a collection with a model into a searchable index (resumes an interrupted build)."""
    from langmix.search import build_search_index, read_passages
    from langmix.search.index import read_meta
    from langmix.vector_index import import_faiss

    import_faiss()  # a missing extra fails before the passages are read
    passages = read_passages(source, candidates, lang)
    build_search_index(passages, model, out, kind, batch_size, source=source)
    meta = read_meta(out)
    languages = ", ".join(f"{code} {n}" for code, n in meta["languages"].items())
    typer.echo(f"indexed {meta['count']} passages ({languages}) with {meta['model']} into {out} "
               f"in {meta['build_seconds']:.1f} s", err=True)


@app.command()
def search(
    folder: Path = typer.Argument(..., help="Index folder from 'langmix index'."),
    query: str = typer.Argument(..., help="The question."),
    k: int = typer.Option(10, "-k", help="Number of results."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    model: str | None = typer.Option(None, help="Model to encode the query (default: the index's own)."),
) -> None:
    """The top k passages for a question, and the languages they are in."""
    from langmix.search import open_searchers
    from langmix.search.search import check_k, check_query
    from langmix.vector_index import import_faiss

    check_query(query)  # before loading the model: bad input fails at once
    check_k(k)
    import_faiss()
    result = open_searchers([folder], model)[0].search(query, k)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    for hit in result.hits:
        typer.echo(f"{hit.rank:>3}  {hit.score:.4f}  {hit.lang:<5} {hit.id}  {snippet(hit.title, hit.text)}")
    typer.echo(result.shares_line())


def snippet(title: str, text: str, limit: int = SNIPPET_CHARS) -> str:
    """One line: the title and text with blanks collapsed, cut at ``limit`` characters."""
    line = " ".join(f"{title} | {text}".split()) if title else " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
