"""Significance in a reproduce report: hybrid (alpha 0.5) against every other row, x-y against x-x-mono, and every
row against zero-shot and x-y (the "best of all three" check), per protocol and metric.

Each row's per-query scores are read from its cells' ``eval/per_query.json.gz`` (the only per-query record
of a finished cell; :func:`~langmix.evaluation.compare.per_query_path`), averaged over seeds per unit, and
tested in memory with :func:`langmix.evaluation.compare.compare_scores`, the function behind
``langmix compare`` (paired Fisher randomisation test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from langmix.evaluation.compare import TEST_NAME, compare_scores, per_query_path, read_per_query
from langmix.reproduce.aggregate import METRICS, benchmark_of, group_cells, row_order
from langmix.reproduce.grid import HYBRID_LABEL

# (row, other) pairs tested besides hybrid's: what x-y's cross-lingual batches cost or buy against x-x-mono, i.e.
# how much mono mAP there is for hybrid to win back
PAIRS = (("x-y", "x-x-mono"),)
# "best of all three" (langmix.reproduce.claim): every other row against the untrained model (mono) and x-y (the rest)
BEST_OF_THREE_REFERENCES = ("zero-shot", "x-y")


def significance(out: Path, results: dict[str, Any], n_resamples: int) -> dict[str, Any]:
    """Per protocol: hybrid vs every other row, and each of :data:`PAIRS`, per metric, on seed-averaged
    per-query scores."""
    found: dict[str, Any] = {}
    pairs: dict[str, Any] = {}
    best_of_three: dict[str, Any] = {}
    for protocol, rows in group_cells(results).items():
        bench = benchmark_of(protocol)
        averaged = {label: seed_averaged_per_query(out, rows[label], bench) for label in row_order(rows)}
        others = [(label, s) for label, s in averaged.items() if s is not None and label != HYBRID_LABEL]
        if averaged.get(HYBRID_LABEL) is not None and others:
            found[protocol] = [
                {"metric": r["metric"], "other": r["other"], "n_units": r["n_units"], "hybrid": r["row_mean"],
                 "other_mean": r["other_mean"], "hybrid_minus_other": r["row_minus_other"], "p_value": r["p_value"]}
                for r in _tests(HYBRID_LABEL, averaged[HYBRID_LABEL], others, n_resamples)
            ]
        tested = [rec for row, other in PAIRS if averaged.get(row) is not None and averaged.get(other) is not None
                  for rec in _tests(row, averaged[row], [(other, averaged[other])], n_resamples)]
        if tested:
            pairs[protocol] = tested
        if best := _best_of_three_tests(averaged, n_resamples):
            best_of_three[protocol] = best
    return {
        "test": TEST_NAME,
        "n_resamples": n_resamples,
        "unit_scores": "mean over seeds per query",
        "protocols": found,
        "pairs": pairs,
        "best_of_three": best_of_three,
    }


def _best_of_three_tests(averaged: dict[str, dict | None], n_resamples: int) -> list[dict[str, Any]]:
    """Every row but zero-shot against zero-shot and x-y (x-y against zero-shot only), all metrics (the claim
    check keeps what it needs)."""
    references = [(ref, averaged.get(ref)) for ref in BEST_OF_THREE_REFERENCES]
    if any(scores is None for _, scores in references):
        return []
    return [rec for row, scores in averaged.items() if scores is not None and row != BEST_OF_THREE_REFERENCES[0]
            for rec in _tests(row, scores, [(ref, s) for ref, s in references if ref != row], n_resamples)]


def _tests(row: str, scores: dict, others: list[tuple[str, dict]], n_resamples: int) -> list[dict[str, Any]]:
    """``row`` against each of ``others``, per metric (``compare_scores`` tests the others against the first)."""
    return [
        {
            "metric": c.metric.split("/", 1)[1],
            "row": row,
            "other": c.run,
            "n_units": c.n_units,
            "row_mean": c.baseline_mean,
            "other_mean": c.run_mean,
            "row_minus_other": -c.delta,
            "p_value": c.p_value,
        }
        for c in compare_scores([(row, scores), *others], n_resamples)
    ]


def seed_averaged_per_query(out: Path, records: list[dict[str, Any]], bench: str) -> dict | None:
    """metric -> unit -> mean over the records' seeds (units present in every seed); None if files lack."""
    files = [per_query_path(out / "cells" / r["id"] / r.get("eval_dir", "eval")) for r in records]
    if not all(f.is_file() for f in files):
        return None
    runs = [read_per_query(f) for f in files]
    averaged = {}
    for metric in METRICS:
        key = f"{bench}/{metric}"
        units = set.intersection(*(set(run.get(key, {})) for run in runs))
        averaged[key] = {u: float(np.mean([run[key][u] for run in runs])) for u in sorted(units)}
    return averaged
