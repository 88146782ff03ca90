"""``langmix serve``."""

from __future__ import annotations

from pathlib import Path

import typer

from langmix.cli.root import app
from langmix.errors import LangmixError, require


@app.command()
def serve(
    folders: list[Path] = typer.Argument(..., help="One index folder, or two to compare side by side."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (default: this machine only)."),
    model: str | None = typer.Option(None, help="Model to encode queries (default: each index's own)."),
) -> None:
    """A web page to search the indexes and see the language shares of the results."""
    if len(folders) > 2:
        raise LangmixError(f"got {len(folders)} index folders", "give one, or two to compare")
    for package in ("fastapi", "uvicorn", "faiss"):
        require(package, "serve", "langmix serve")
    from langmix.search.serve import serve as run

    run(folders, host, port, model)
