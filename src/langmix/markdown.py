"""Markdown tables, the one way every langmix report (evaluation, comparison, reproduce, model card) writes one."""

from __future__ import annotations

from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table: a header row, a ``|---|`` rule, then one line per row (no final
    newline). Cells are ``str()``-ed as given, so callers format numbers themselves."""
    lines = [_row(header), "|" + "---|" * len(header)]
    return "\n".join(lines + [_row(row) for row in rows])


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"
