"""The ``langmix`` command. Subcommands live in one module each and register on :data:`app`.

Every :class:`~langmix.errors.LangmixError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import sys

import typer

from langmix.errors import LangmixError

app = typer.Typer(
    help="Train and evaluate multilingual dense retrievers (mono, cross-lingual and multilingual).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each module adds its commands to `app` when imported.
COMMAND_MODULES = ["model", "evaluate", "train", "reproduce", "search", "serve"]

for _name in COMMAND_MODULES:
    importlib.import_module(f"langmix.cli.{_name}")


def main() -> None:
    try:
        app()
    except LangmixError as err:
        typer.echo(f"langmix: error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("langmix: interrupted; finished files are kept, rerun to resume", err=True)
        sys.exit(130)
