"""Aggregation of a reproduce run's ``results.json``: cells grouped into table rows, means and spreads over seeds.

A *row* is a label of the study's table (``hybrid``, ``x-y``, ``hybrid-a0.25``, ...; a cell re-scored after
a training-free debiasing is a row ``<label> + <method>`` of its own); its records are the cells of its seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from langmix.evaluation.debias import debias_folder
from langmix.reproduce.grid import HYBRID_LABEL, MAIN_ROWS, PROTOCOLS

METRICS = {
    "mono/map": "mono mAP",
    "cross/map": "cross mAP",
    "multi/map": "multi mAP",
    "rank_distance": "rank distance",
}
LOWER_IS_BETTER = {"rank_distance"}  # a spread of ranks: the smaller, the less language bias


def digits(metric: str, difference: bool = False) -> int:
    """Decimals a report prints for ``metric``: 1 for rank distance (ranks, in the hundreds); 3 for an mAP and 4
    for a difference of mAPs (the tests decide on differences of a few thousandths)."""
    if metric == "rank_distance":
        return 1
    return 4 if difference else 3


def benchmark_of(protocol: str) -> str:
    return PROTOCOLS[protocol].test


def group_cells(results: dict[str, Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """protocol -> row label -> cell records (one per seed), in grid order. A cell re-scored after a
    training-free debiasing (``debiased``), or whose model was merged into another (``derived``: WiSE-FT), also
    appears as a row ``<label> + <method>``."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in results["cells"].values():
        rows = groups.setdefault(record["protocol"], {})
        rows.setdefault(record["label"], []).append(record)
        # a training-free re-scoring (debiased) or a model derived from the cell's (derived: WiSE-FT)
        for name, summary in {**record.get("debiased", {}), **record.get("derived", {})}.items():
            virtual = {**record, **summary, "label": f"{record['label']} + {name}", "eval_dir": debias_folder(name)}
            virtual.pop("debiased", None)
            virtual.pop("derived", None)
            rows.setdefault(virtual["label"], []).append(virtual)
    return groups


def summarize(records: list[dict[str, Any]], key: str) -> tuple[float, float, int]:
    """(mean, sample std with ddof=1 or NaN for one seed, n) of metric ``key`` over the records."""
    values = np.array([r["metrics"][key] for r in records if r["metrics"].get(key) is not None], dtype=float)
    if values.size == 0:
        return float("nan"), float("nan"), 0
    std = float(values.std(ddof=1)) if values.size > 1 else float("nan")
    return float(values.mean()), std, int(values.size)


def row_order(labels) -> list[str]:
    """Main rows in the study's order (each followed by its debiased variants), then the sweep by alpha."""
    labels = list(labels)
    main = [label for row in MAIN_ROWS for label in sorted(x for x in labels if _base(x) == row)]
    sweep = sorted((label for label in labels if _base(label) not in MAIN_ROWS), key=_sweep_alpha)
    return main + sweep


def _base(label: str) -> str:
    return label.split(" + ", 1)[0]


def _sweep_alpha(label: str) -> float:
    return float(label.removeprefix("hybrid-a"))


def alpha_points(rows: dict[str, list[dict[str, Any]]]) -> list[tuple[float, list[dict[str, Any]]]]:
    """(alpha, records) of the fixed-alpha hybrid rows, sorted by alpha."""
    points = []
    for label, records in rows.items():
        if label == HYBRID_LABEL or label.startswith("hybrid-a"):
            points.append((0.5 if label == HYBRID_LABEL else _sweep_alpha(label), records))
    return sorted(points, key=lambda p: p[0])
