"""Blocks of a Markdown file (the README) rendered from a reproduce run's ``results.json``, so that the numbers a
reader sees there are those of the run, never typed in by hand.

A block sits between two marker lines that name the run folder, relative to the file::

    <!-- langmix:results results/medium-cpu -->
    ... (rendered; do not edit by hand) ...
    <!-- /langmix:results -->

:func:`sync` rewrites every block from its run's results.json; :func:`stale_blocks` lists the blocks that differ
from their rendering (a test runs it on the README). Reading results.json only, both are safe while the run
is still writing cells.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langmix.errors import LangmixError
from langmix.io import read_json, write_text
from langmix.reproduce.claim import best_of_three_section, claim_section
from langmix.reproduce.markdown_report import progress_lines, significance_table, table1

LEAD_OTHERS = ("x-y", "x-x-mono")
_BLOCK = re.compile(r"(<!-- langmix:results (?P<run>\S+) -->\n)(?P<body>.*?)(<!-- /langmix:results -->)", re.S)


def lead_block(results: dict[str, Any], run: str, figures: Sequence[str] = ()) -> str:
    """The lead table of a run: every row's mean ± std over seeds, then hybrid against x-y and x-x-mono, the
    study's claim checked part by part, then ``figures`` (file names in the run folder) as images."""
    claim = claim_section(results.get("significance", {}))
    best = best_of_three_section(results.get("significance", {}))
    return "\n".join([
        f"Rendered from `{run}/results.json` by `python scripts/readme-results.py`; full report: "
        f"`{run}/report.md`.",
        "",
        *progress_lines(results),
        table1(results, wall=False),
        "",
        significance_table(results.get("significance", {}), others=LEAD_OTHERS).rstrip("\n"),
        "",
        *([f"**The study's claim, part by part.** {claim.rstrip()}", ""] if claim else []),
        *([f"**Best of all three, row by row.** {best.rstrip()}", ""] if best else []),
        *(f"![{Path(name).stem}]({run}/{name})\n" for name in figures),
    ])


def _rendered(markdown_file: Path, run: str) -> str:
    results_file = markdown_file.parent / run / "results.json"
    if not results_file.is_file():
        raise LangmixError(f"{markdown_file} has a results block for {run}, but {results_file} does not exist",
                           "fix the folder named in the block's marker line or run the reproduce command first")
    results = read_json(results_file)
    protocols = dict.fromkeys(cell["protocol"] for cell in results["cells"].values())
    figures = [f"metrics-{p}.png" for p in protocols if (results_file.parent / f"metrics-{p}.png").is_file()]
    return lead_block(results, run, figures)


def stale_blocks(markdown_file: str | Path) -> list[str]:
    """The run folders whose block in ``markdown_file`` differs from its rendering (empty: all up to date)."""
    markdown_file = Path(markdown_file)
    text = markdown_file.read_text(encoding="utf-8")
    return [m["run"] for m in _BLOCK.finditer(text) if m["body"] != _rendered(markdown_file, m["run"])]


def sync(markdown_file: str | Path) -> int:
    """Rewrite every results block of ``markdown_file`` from its run (atomically); return how many it holds."""
    markdown_file = Path(markdown_file)
    text = markdown_file.read_text(encoding="utf-8")
    blocks = list(_BLOCK.finditer(text))
    if not blocks:
        raise LangmixError(f"{markdown_file} has no results block",
                           "add the lines '<!-- langmix:results RUN -->' and '<!-- /langmix:results -->' where the "
                           "table belongs")
    new = _BLOCK.sub(lambda m: m.group(1) + _rendered(markdown_file, m["run"]) + m.group(4), text)
    if new != text:
        write_text(markdown_file, new)
    return len(blocks)
