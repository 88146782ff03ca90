"""The root ``langmix`` command: the Typer app and :func:`main`. Subcommands live in one module each
(:mod:`langmix.cli.model`, ...) and register on :data:`app` when :mod:`langmix.cli` imports them.

Every :class:`~langmix.errors.LangmixError`, and every usage error typer finds (a bad option value, a
number out of its bounds, a missing argument), becomes one line on stderr and exit code 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import sys

import typer

from langmix.errors import LangmixError

# langmix.precision's rules, in words (that module imports torch, which the CLI loads only when a command runs)
PRECISION_HELP = ("auto (bf16 on a CUDA GPU with bf16 or a CPU with AMX, else fp32), fp32, or bf16 (autocast; "
                  "needs AVX512-BF16/AMX or a bf16 GPU; embeddings at cosine >= 0.999 to fp32)")
# click's exception module (typer >= 0.2x vendors click): found from an exception typer exports
_CLICK = sys.modules[typer.BadParameter.__module__]
_NO_ARGS_HELP = getattr(_CLICK, "NoArgsIsHelpError", ())  # `langmix` alone: the help, not an error line

_KINDS = {str: ("names", "a,b"), int: ("integers", "0,1,2"), float: ("numbers", "0,0.25,0.5")}


def comma_list(text: str | None, kind: type = str, option: str = "") -> list | None:
    """An option's comma-separated values as ``kind`` (None stays None), or a one-line error with an example."""
    if text is None:
        return None
    try:
        return [kind(x.strip()) for x in text.split(",") if x.strip()]
    except ValueError as err:
        what, example = _KINDS[kind]
        fix = f"write e.g. {option} {example}"
        raise LangmixError(f"{option} '{text}' is not a comma list of {what}", fix) from err


app = typer.Typer(
    help="Train and evaluate multilingual dense retrievers (mono, cross-lingual and multilingual).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def main() -> None:
    try:
        code = app(prog_name="langmix", standalone_mode=False)  # typer turns Ctrl-C in a command into 130
    except _NO_ARGS_HELP as err:
        err.show()
        sys.exit(err.exit_code)
    except _CLICK.ClickException as err:
        command = err.ctx.command_path if getattr(err, "ctx", None) else "langmix"
        _fail(LangmixError(err.format_message().rstrip("."), f"see '{command} --help'"), err.exit_code)
    except LangmixError as err:
        _fail(err, 2)
    except (KeyboardInterrupt, typer.Abort):
        code = 130
    if code == 130:
        _end_progress_bars()
        typer.echo("langmix: interrupted; finished files are kept, rerun to resume", err=True)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(err: LangmixError, code: int) -> None:
    _end_progress_bars()
    typer.echo(f"langmix: error: {err}", err=True)
    sys.exit(code)


def _end_progress_bars() -> None:
    """Close the progress bars a failure left open, so that the last line is the message alone."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
