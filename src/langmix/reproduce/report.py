"""The report of a reproduce run, rendered from its ``results.json`` (plus the cells' per-query files for the
significance tests), one job per module:

* :mod:`.aggregate`: cells grouped into the study's rows; mean and sample standard deviation over seeds;
* :mod:`.significance`: per protocol, hybrid (alpha 0.5) against every other row and x-y against x-x-mono, on
  per-query scores averaged over seeds, in memory with the test of ``langmix compare`` (Fisher randomisation test);
* :mod:`.claim`: the study's claim (hybrid is the best of x-x-mono and x-y) checked metric by metric on those
  tests, Holm-Bonferroni over a protocol's 8;
* :mod:`.figures`: the four metrics of every row (bars, seeds as dots), the dev curves of the trained rows
  (from the cells' training logs), the alpha curve and the language-pair mAP heatmaps, absolute and minus
  zero-shot (PNG per protocol);
* :mod:`.markdown_report`: report.md, Table 1 next to the study's numbers (clearly marked as theirs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langmix.io import read_json, run_lock, write_json, write_text
from langmix.reproduce.figures import figures
from langmix.reproduce.markdown_report import markdown
from langmix.reproduce.significance import significance


def render(out: str | Path, results: dict[str, Any] | None = None) -> Path:
    """Write report.md and the PNGs from ``results`` (default: ``out/results.json``)."""
    out = Path(out)
    results = results if results is not None else read_json(out / "results.json")
    names = figures(out, results) if results["cells"] else []
    write_text(out / "report.md", markdown(results, names))
    return out / "report.md"


def finalize(out: str | Path, compare_with: str | Path | None = None) -> Path:
    """Significance tests (on the cells' per-query files) into results.json, then the report; ``compare_with``
    (another run folder whose dev curves are drawn beside this run's) is stored in its settings."""
    out = Path(out)
    with run_lock(out):
        results = read_json(out / "results.json")
        if compare_with is not None:
            results.setdefault("settings", {})["compare_with"] = str(compare_with)
        n_resamples = results.get("settings", {}).get("n_resamples", 10_000)
        results["significance"] = significance(out, results, n_resamples)
        write_json(out / "results.json", results)
        return render(out, results)
