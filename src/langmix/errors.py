"""One exception type for every user-facing failure.

The CLI turns a :class:`LangmixError` into a single line on stderr and exit code 2, so each message
must name the problem *and* the fix, e.g. ``"data file x.json not found; pass --data-dir or run
'langmix data'"``.
"""

from __future__ import annotations


class LangmixError(Exception):
    """A problem caused by input or environment that the user can fix; message is one line."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        message = problem if fix is None else f"{problem}; {fix}"
        super().__init__(" ".join(message.split()))
