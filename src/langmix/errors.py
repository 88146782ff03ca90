"""One exception type for every user-facing failure.

The CLI turns a :class:`LangmixError` into a single line on stderr and exit code 2, so each message
must name the problem *and* the fix, e.g. ``"data file x.json not found; pass --data-dir or run
'langmix data'"``.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LangmixError(Exception):
    """A problem caused by input or environment that the user can fix; message is one line."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        message = problem if fix is None else f"{problem}; {fix}"
        super().__init__(" ".join(message.split()))


class DamagedData(LangmixError):
    """A file langmix wrote no longer reads as written (edited, damaged, replaced): the user's fix is to
    rebuild it, but for a server it is its own fault (HTTP 500), not the request's (400)."""


def validation_problem(err) -> str:
    """The first problem of a pydantic ``ValidationError`` as one line: ``field.sub='value': message``."""
    first = err.errors()[0]
    loc = first["loc"]
    if loc and loc[-1] == "[key]":  # a dict key failed: pydantic's loc is (..., the key, "[key]")
        loc = (*loc[:-2], "key")
    where = ".".join(str(part) for part in loc)
    value = repr(first.get("input"))
    if where and first["type"] != "missing" and len(value) <= 40:
        where += f"={value}"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}" if where else f"{first['msg']}{more}"


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """``import module`` for a feature outside the main job, or a one-line error naming the langmix extra
    that installs it (``pip install 'langmix[extra]'``)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise LangmixError(
            f"{purpose} needs the package '{module}', which is not installed", f"pip install 'langmix[{extra}]'"
        ) from err
