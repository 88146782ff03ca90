"""Markdown tables (the one way every langmix report writes one: evaluation, comparison, reproduce, model card),
signed differences and tested-difference cells."""

from __future__ import annotations

from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table: a header row, a ``|---|`` rule, then one line per row (no final
    newline). Cells are ``str()``-ed as given, so callers format numbers themselves."""
    lines = [_row(header), "|" + "---|" * len(header)]
    return "\n".join(lines + [_row(row) for row in rows])


def signed(value: float, digits: int) -> str:
    """``+0.0123``; a difference that rounds to zero prints as ``+0.0000``, never ``-0.0000``."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def difference(value: float, digits: int, p_value: float, significant: bool = False) -> str:
    """One tested difference as a report cell: ``+0.0123* (p=0.0002)``; ``*`` marks a significant one. The
    p-value keeps three significant digits, enough to tell 0.026 from a bound of 0.025."""
    return f"{signed(value, digits)}{'*' if significant else ''} (p={p_value:.3g})"


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"
